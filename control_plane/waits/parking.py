"""Turning `execution.waiting` events into `execution_waits` rows (called by the recorder in
the transaction that records the batch).

The event comes from the flow's pump, which runs the tenant's code: every field is checked and
bounded here. A wait that cannot be kept (unknown kind, a continuation too large to have been
read) fails its execution with reason `invalid_wait` instead of leaving it waiting forever."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import structlog
from sqlalchemy import Connection, update

from control_plane.db import new_id, utcnow
from control_plane.executions.events import MAX_NAME_CHARS, RawEvent, StreamOwner, text_field
from control_plane.executions.models import Execution
from control_plane.executions.storage import dialect_insert
from control_plane.waits.models import ExecutionWait

log = structlog.get_logger("control_plane.waits")
WAIT_KINDS = ("timer", "event", "approval")
MAX_CORRELATION_CHARS = 255
MAX_MESSAGE_CHARS = 2_000
MIN_TS, MAX_TS = 0.0, 253_402_300_799.0


def _moment(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    if not math.isfinite(number) or not MIN_TS < number < MAX_TS:
        return None
    return datetime.fromtimestamp(number, UTC)


def wait_row(event: RawEvent, owner: StreamOwner) -> dict[str, Any] | None:
    """The row of a well-formed waiting event, or None."""
    data = event.data
    wait = data.get("wait")
    continuation = data.get("continuation")
    if event.oversized or not isinstance(wait, dict) or not isinstance(continuation, dict):
        return None
    kind = wait.get("kind")
    if kind not in WAIT_KINDS or event.step is None or not event.listener:
        return None
    fire_at = _moment(wait.get("fire_at")) if kind == "timer" else None
    if kind == "timer" and fire_at is None:
        return None
    timeout_at = _moment(wait.get("timeout_at"))
    topic = text_field(wait.get("topic"), MAX_NAME_CHARS) if kind == "event" else None
    correlation = text_field(wait.get("correlation_id"), MAX_CORRELATION_CHARS)
    if kind == "event" and not (topic and correlation):
        return None
    due = [moment for moment in (fire_at, timeout_at) if moment is not None]
    return {
        "id": new_id(),
        "execution_id": event.execution_id,
        "tenant_id": owner.tenant_id,
        "flow_id": owner.flow_id,
        "step": event.step,
        "listener": event.listener,
        "kind": kind,
        "topic": topic,
        "correlation_id": correlation if kind == "event" else None,
        "message": text_field(wait.get("message"), MAX_MESSAGE_CHARS),
        "on_timeout": text_field(wait.get("on_timeout"), MAX_NAME_CHARS),
        "input": data.get("input"),
        "continuation": continuation,
        "status": "pending",
        "fire_at": fire_at,
        "timeout_at": timeout_at,
        "due_at": min(due) if due else None,
        "created_at": utcnow(),
    }


def park(connection: Connection, events: list[RawEvent], max_bytes: int) -> None:
    """Keep each wait (once: a redelivered event inserts nothing); fail the executions whose
    wait cannot be kept."""
    rows: list[dict[str, Any]] = []
    invalid: list[str] = []
    for event in events:
        row = wait_row(event, event.owner) if event.owner is not None else None
        if row is None:
            invalid.append(event.execution_id)
        else:
            rows.append(row)
    if rows:
        connection.execute(_insert(connection.dialect.name), rows)
    if invalid:
        log.warning("waits.invalid_wait", executions=len(invalid))
        connection.execute(
            update(Execution)
            .where(Execution.id.in_(invalid), Execution.status == "waiting")
            .values(
                status="failed",
                reason="invalid_wait",
                error="the wait step's record was malformed or too large to keep "
                f"(over {max_bytes} bytes?)",
                finished_at=utcnow(),
            )
        )


@lru_cache(maxsize=4)
def _insert(dialect_name: str) -> Any:
    insert = dialect_insert(dialect_name, ExecutionWait.__table__)  # type: ignore[arg-type]
    return insert.on_conflict_do_nothing(index_elements=["execution_id", "step"])
