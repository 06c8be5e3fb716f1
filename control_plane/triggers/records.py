"""Writing executions for triggers: the row, the month's counters, the stream entry, and
marking an execution failed when its entry could not be enqueued. Shared by the admission
batches (admission.py), the scheduler and the reaper."""

from __future__ import annotations

import time
from collections import Counter as Tally
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import Connection, update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db import utcnow
from control_plane.executions.models import Execution, ExecutionCounter
from control_plane.executions.storage import bounded_json, dialect_insert, month_key
from control_plane.metrics import Metrics
from control_plane.random_ids import random_hex
from control_plane.triggers.catalog import TriggerSpec
from pump.events import TriggerEntry

log = structlog.get_logger("control_plane.triggers")
ENQUEUE_FAILED = "enqueue_failed"
# reasons of executions that never reached their stream (the second is the reaper's)
NEVER_ENQUEUED = (ENQUEUE_FAILED, "enqueue_lost")


def new_execution_id() -> str:
    """A new execution id: 32 hex characters like `db.new_id`, time-ordered like a UUIDv7 (the
    milliseconds since the epoch, then 80 random bits) so that each batch's rows sit on the
    newest pages of the history's indexes however large the history grows."""
    return f"{time.time_ns() // 1_000_000:012x}{random_hex(10)}"


def execution_row(
    *,
    execution_id: str,
    tenant_id: str,
    flow_id: str,
    trigger: TriggerSpec,
    trigger_kind: str,
    payload: Any,
    created_at: datetime,
    input_max_bytes: int,
    idempotency_key: str | None = None,
    retry_of: str | None = None,
) -> dict[str, Any]:
    stored_input, truncated = bounded_json(payload, input_max_bytes)
    return {
        "id": execution_id,
        "tenant_id": tenant_id,
        "flow_id": flow_id,
        "status": "queued",
        "trigger": trigger.name,
        "trigger_kind": trigger_kind,
        "target": trigger.target,
        "input": stored_input,
        "input_truncated": truncated,
        "outputs_truncated": False,
        "idempotency_key": idempotency_key,
        "retry_of": retry_of,
        "steps": 0,
        "created_at": created_at,
    }


def trigger_entry(row: dict[str, Any], payload: Any) -> TriggerEntry:
    created_at: datetime = row["created_at"]
    # Built without validation: every field comes from a row this module made.
    return TriggerEntry.model_construct(
        execution_id=row["id"],
        trigger=row["trigger"],
        target=row["target"],
        payload=payload,
        enqueued_at=created_at.timestamp(),
    )


def insert_executions(connection: Connection, rows: list[dict[str, Any]]) -> set[str]:
    """Insert queued executions; the ids returned are those inserted (a repeated idempotency
    key inserts nothing)."""
    if not rows:
        return set()
    result = connection.execute(_insert_statement(connection.dialect.name), rows)
    return set(result.scalars().all())


# Statements are built once per dialect: building one costs more than running it, because
# SQLAlchemy derives its cache key from the whole expression each time it is new.
@lru_cache(maxsize=4)
def _insert_statement(dialect_name: str) -> Any:
    return (
        dialect_insert(dialect_name, Execution.__table__)  # type: ignore[arg-type]
        .on_conflict_do_nothing(index_elements=["flow_id", "idempotency_key"])
        .returning(Execution.id)
    )


@lru_cache(maxsize=4)
def _counter_statement(dialect_name: str) -> Any:
    statement = dialect_insert(dialect_name, ExecutionCounter.__table__)  # type: ignore[arg-type]
    return statement.on_conflict_do_update(
        index_elements=["flow_id", "month"],
        set_={"executions": ExecutionCounter.executions + statement.excluded.executions},
    )


def add_to_counters(connection: Connection, rows: Sequence[dict[str, Any]]) -> None:
    """Count inserted executions against their flow's month (in the inserting transaction)."""
    if not rows:
        return
    tally = Tally((row["flow_id"], month_key(row["created_at"]), row["tenant_id"]) for row in rows)
    # Sorted: concurrent batches lock counter rows in one order and cannot deadlock.
    values = [
        {"flow_id": flow_id, "month": month, "tenant_id": tenant_id, "executions": count}
        for (flow_id, month, tenant_id), count in sorted(tally.items())
    ]
    connection.execute(_counter_statement(connection.dialect.name), values)


async def enqueue_entries(redis: Redis, entries: list[tuple[str, TriggerEntry]]) -> list[Any]:
    """XADD each (stream, entry) in one pipeline; one result per entry, an exception where
    that XADD failed."""
    if not entries:
        return []
    try:
        pipe = redis.pipeline(transaction=False)
        for stream, entry in entries:
            pipe.xadd(stream, entry.encode())  # type: ignore[arg-type]
        return list(await pipe.execute(raise_on_error=False))
    except Exception as error:
        return [error] * len(entries)


async def mark_enqueue_failed(
    engine: AsyncEngine, execution_ids: list[str], error: Any, metrics: Metrics
) -> str:
    """Make executions whose entry never reached the stream visibly failed; returns the
    message recorded."""
    message = f"the trigger could not be put on the flow's stream: {error}"
    log.error("trigger.enqueue_failed", count=len(execution_ids), error=str(error))
    try:
        async with engine.begin() as connection:
            await connection.execute(
                update(Execution)
                .where(Execution.id.in_(execution_ids), Execution.status == "queued")
                .values(status="failed", reason=ENQUEUE_FAILED, error=message, finished_at=utcnow())
            )
        metrics.executions.labels("failed").inc(len(execution_ids))
    except Exception:
        # The rows stay queued; the reaper finds them without a stream entry and fails them.
        log.exception("trigger.mark_failed_failed", count=len(execution_ids))
    return message
