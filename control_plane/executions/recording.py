"""Turning a batch of pump events into `executions` and `execution_steps` writes.

Events of one batch are folded in memory first (folding.py: an execution that started and
finished within the batch costs one UPDATE), then written with three statements whatever the
batch size: an upsert of steps keyed by (execution_id, step), a read of step usage for the
executions that finished, and one executemany UPDATE of executions (on Postgres the upsert and
the UPDATE are each one statement over arrays: recording_postgres.py). Every write is idempotent, so an event
delivered twice (a recorder or pump crash) changes nothing; a `running` status never
overwrites a final one."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import Connection, and_, bindparam, case, func, literal, or_, select, update

from control_plane.db import UtcDateTime
from control_plane.executions.events import RawEvent, StreamOwner
from control_plane.executions.folding import Caps, ExecutionPatch, StepPatch, fold
from control_plane.executions.history_level import DROP_EXECUTIONS, history_levels, keeps_step
from control_plane.executions.models import FINAL_STATUSES, Execution, ExecutionStep
from control_plane.executions.recording_postgres import update_executions, upsert_steps
from control_plane.executions.storage import dialect_insert, execute_many

log = structlog.get_logger("control_plane.recorder")


@dataclass
class Recorded:
    """What a batch changed, for metrics."""

    started: list[tuple[str, float]] = field(default_factory=list)  # (id, trigger-to-start s)
    finished: dict[str, int] = field(default_factory=dict)  # status -> count
    messages: int = 0


STEP_COLUMNS = (
    "listener", "handler", "status", "input", "output", "truncated", "routed_to", "error",
    "reason", "usage", "started_at", "finished_at", "duration_ms",
)  # fmt: skip


def apply(connection: Connection, events: list[RawEvent], caps: Caps) -> Recorded:
    """Write the batch. Events of executions that no longer exist are dropped; so are events
    naming an execution of another flow than the stream's (a pump forging another tenant's
    history), which are logged."""
    recorded = Recorded()
    if not events:
        return recorded
    found = connection.execute(
        KNOWN_EXECUTIONS, {"ids": sorted({event.execution_id for event in events})}
    )
    known: dict[str, tuple[Any, ...]] = {}
    owners: dict[str, StreamOwner] = {}
    awaited: set[str] = set()
    for ident, status, created_at, started_at, tenant_id, flow_id, callback in found:
        known[ident] = (status, created_at, started_at)
        owners[ident] = StreamOwner(tenant_id, flow_id)
        if callback:
            awaited.add(ident)
    levels = history_levels(connection, owners)
    for ident in awaited:  # its caller awaits a callback, which is built from its history
        levels[ident] = "full"
    events = _own_events(events, owners)
    executions, steps, recorded.messages = fold(events, caps)
    if not executions:
        return recorded
    # history level "errors": an execution that succeeded is not kept (nor its steps)
    dropped = {
        ident
        for ident, patch in executions.items()
        if ident in known
        and levels[ident] == "errors"
        and patch.final is not None
        and patch.status == "succeeded"
        and known[ident][0] not in FINAL_STATUSES
    }
    _upsert_steps(
        connection,
        {
            key: step
            for key, step in steps.items()
            if key[0] in known and key[0] not in dropped and keeps_step(levels[key[0]], step)
        },
    )
    finals = [ident for ident, patch in executions.items() if patch.final and ident in known]
    usage = _usage_totals(connection, [ident for ident in finals if ident not in dropped])
    rows = []
    for ident, patch in executions.items():
        if ident not in known:
            continue
        status, created_at, started_at = known[ident]
        if patch.started_at is not None and started_at is None:
            recorded.started.append((ident, (patch.started_at - created_at).total_seconds()))
        if patch.final is not None and status not in FINAL_STATUSES and patch.status:
            recorded.finished[patch.status] = recorded.finished.get(patch.status, 0) + 1
        if ident not in dropped:
            rows.append(_execution_params(ident, patch, usage.get(ident)))
    if connection.dialect.name == "postgresql":
        update_executions(connection, rows)
    else:
        execute_many(connection, EXECUTION_UPDATE, rows)
    if finals:
        from control_plane.callbacks.outbox import owe

        owe(connection, finals)
    parked = [
        event for ident, patch in executions.items() if ident in known for event in patch.waits
    ]
    if parked:
        from control_plane.waits.parking import park

        park(connection, parked, caps.step_max_bytes)
    if dropped:  # steps recorded by earlier batches go by cascade
        connection.execute(DROP_EXECUTIONS, {"ids": sorted(dropped)})
    return recorded


def _execution_params(
    ident: str, patch: ExecutionPatch, usage: dict[str, Any] | None
) -> dict[str, Any]:
    final = patch.final or {}
    return {
        "b_id": ident,
        "b_status": patch.status,
        "b_started_at": patch.started_at,
        "b_first_step_at": patch.first_step_at,
        "b_final": patch.final is not None,
        "b_outputs": final.get("outputs"),
        "b_outputs_truncated": bool(final.get("outputs_truncated")),
        "b_error": final.get("error"),
        "b_reason": final.get("reason"),
        "b_steps": final.get("steps", 0),
        "b_duration_ms": final.get("duration_ms"),
        "b_finished_at": final.get("finished_at"),
        "b_usage": usage,
        "b_last_event_at": patch.last_event_at,
    }


def _build_execution_update() -> Any:
    status = bindparam("b_status", type_=Execution.status.type)
    final = bindparam("b_final", type_=Execution.input_truncated.type)

    # A cancelled or stalled execution keeps its end, whatever its pump writes later.
    closed = or_(
        Execution.status == literal("cancelled"),
        func.coalesce(Execution.reason, literal("")) == literal("stalled"),
    )

    def on_final(name: str, column: Any) -> Any:
        return case((and_(final, ~closed), bindparam(name, type_=column.type)), else_=column)

    return (
        update(Execution)
        .where(Execution.id == bindparam("b_id"))
        .values(
            status=case(
                (status.is_(None), Execution.status),
                (closed, Execution.status),
                # `running` and `waiting` never replace a final status (spelled out:
                # executemany statements cannot hold an expanding IN list).
                (
                    and_(
                        or_(status == "running", status == "waiting"),
                        or_(
                            *(
                                Execution.status == literal(final)
                                for final in sorted(FINAL_STATUSES)
                            )
                        ),
                    ),
                    Execution.status,
                ),
                else_=status,
            ),
            started_at=func.coalesce(
                Execution.started_at, bindparam("b_started_at", type_=UtcDateTime)
            ),
            first_step_at=func.coalesce(
                Execution.first_step_at, bindparam("b_first_step_at", type_=UtcDateTime)
            ),
            outputs=on_final("b_outputs", Execution.outputs),
            outputs_truncated=on_final("b_outputs_truncated", Execution.outputs_truncated),
            error=on_final("b_error", Execution.error),
            reason=on_final("b_reason", Execution.reason),
            steps=on_final("b_steps", Execution.steps),
            duration_ms=on_final("b_duration_ms", Execution.duration_ms),
            finished_at=on_final("b_finished_at", Execution.finished_at),
            usage=on_final("b_usage", Execution.usage),
            last_event_at=func.coalesce(
                bindparam("b_last_event_at", type_=UtcDateTime), Execution.last_event_at
            ),
        )
        .execution_options(synchronize_session=False)
    )


EXECUTION_UPDATE = _build_execution_update()


def _upsert_steps(connection: Connection, steps: dict[tuple[str, int], StepPatch]) -> None:
    if not steps:
        return
    rows = []
    for (execution_id, number), patch in steps.items():
        row = {column: patch.values.get(column) for column in STEP_COLUMNS}
        row.update(execution_id=execution_id, step=number)
        row["listener"] = row["listener"] or ""
        row["status"] = row["status"] or "running"
        row["truncated"] = bool(row["truncated"])
        rows.append(row)
    if connection.dialect.name == "postgresql":
        upsert_steps(connection, rows)
    else:
        execute_many(connection, _step_upsert(connection.dialect.name), rows)


@lru_cache(maxsize=4)
def _step_upsert(dialect_name: str) -> Any:
    """Built once per dialect (building costs more than running, see triggers/records.py)."""
    insert = dialect_insert(dialect_name, ExecutionStep.__table__)  # type: ignore[arg-type]
    new, current = insert.excluded, ExecutionStep
    return insert.on_conflict_do_update(
        index_elements=["execution_id", "step"],
        set_={
            "listener": case((new.listener == "", current.listener), else_=new.listener),
            "handler": func.coalesce(new.handler, current.handler),
            "status": case((new.status == "running", current.status), else_=new.status),
            "input": func.coalesce(new.input, current.input),
            "output": func.coalesce(new.output, current.output),
            "truncated": or_(new.truncated, current.truncated),
            "routed_to": func.coalesce(new.routed_to, current.routed_to),
            "error": func.coalesce(new.error, current.error),
            "reason": func.coalesce(new.reason, current.reason),
            "usage": func.coalesce(new.usage, current.usage),
            "started_at": func.coalesce(current.started_at, new.started_at),
            "finished_at": func.coalesce(new.finished_at, current.finished_at),
            "duration_ms": func.coalesce(new.duration_ms, current.duration_ms),
        },
    )


KNOWN_EXECUTIONS = select(
    Execution.id,
    Execution.status,
    Execution.created_at,
    Execution.started_at,
    Execution.tenant_id,
    Execution.flow_id,
    Execution.callback_url,
).where(Execution.id.in_(bindparam("ids", expanding=True)))


def _own_events(events: list[RawEvent], owners: dict[str, StreamOwner]) -> list[RawEvent]:
    """Events of known executions read from their own flow's stream; others are dropped, and
    those naming another flow's execution (a forgery) are logged."""
    kept: list[RawEvent] = []
    forged: dict[tuple[str, str], int] = {}
    for event in events:
        owner = owners.get(event.execution_id)
        if owner is None:
            continue
        if event.owner == owner:
            kept.append(event)
        elif event.owner is not None:
            key = (event.execution_id, event.owner.flow_id)
            forged[key] = forged.get(key, 0) + 1
    for (execution_id, stream_flow_id), count in forged.items():
        log.warning(
            "recorder.foreign_event_dropped",
            execution_id=execution_id,
            execution_flow_id=owners[execution_id].flow_id,
            stream_flow_id=stream_flow_id,
            events=count,
        )
    return kept


STEP_USAGE = select(ExecutionStep.execution_id, ExecutionStep.usage).where(
    ExecutionStep.execution_id.in_(bindparam("ids", expanding=True)),
    ExecutionStep.usage.is_not(None),
)


def _usage_totals(connection: Connection, execution_ids: list[str]) -> dict[str, dict[str, Any]]:
    """Token usage of each finished execution: its steps' usage summed key by key."""
    if not execution_ids:
        return {}
    rows = connection.execute(STEP_USAGE, {"ids": execution_ids})
    totals: dict[str, dict[str, Any]] = {}
    for execution_id, usage in rows:
        if not isinstance(usage, dict):
            continue
        total = totals.setdefault(execution_id, {})
        for key, value in usage.items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                total[key] = total.get(key, 0) + value
    return totals
