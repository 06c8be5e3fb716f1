"""Execution control: cancel a queued, running or waiting execution.

- waiting: its wait is closed (a claim like any decision, waits/service.py); nothing runs.
- queued: its trigger entry is found on the flow's stream and deleted in one MULTI with the
  check that no pump has read it (XPENDING): it never runs. Not found (not yet on the stream,
  or read meanwhile), it is handled as running.
- running: the row is marked `cancelled` at once and a cancel request goes on the flow's
  `...:control` stream; the pump stops the execution's in-flight handler (HTTP aborted, WASM
  stopped through its epoch) and never runs an entry of it again (pump/control.py).

A cancelled execution keeps its status whatever its pump writes later (recording.py)."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db import utcnow
from control_plane.errors import Conflict, NotFound
from control_plane.executions.models import FINAL_STATUSES, Execution
from control_plane.waits import service as waits
from control_plane.waits.models import ExecutionWait
from pump.keys import CONTROL_STREAM_MAXLEN, TRIGGER_GROUP, FlowKeys

log = structlog.get_logger("control_plane.executions")
SCAN_PAGE = 500
SCAN_PAGES = 20  # a queued execution's entry is looked for among this many pages of entries
CANCELLED = "the execution was cancelled"


async def cancel(app: FastAPI, tenant_id: str, execution_id: str) -> str:
    """Cancel the execution; returns how (`never_ran`, `interrupted`, `closed_wait`)."""
    engine: AsyncEngine = app.state.engine
    redis: Redis = app.state.redis.client
    async with engine.connect() as connection:
        row = (
            await connection.execute(
                select(Execution.status, Execution.flow_id, Execution.created_at).where(
                    Execution.id == execution_id, Execution.tenant_id == tenant_id
                )
            )
        ).one_or_none()
        if row is None:
            raise NotFound(f"execution {execution_id} not found")
        status, flow_id, created_at = row
        if status in FINAL_STATUSES:
            raise Conflict(f"execution {execution_id} is {status} already")
        wait_id = await connection.scalar(
            select(ExecutionWait.id).where(
                ExecutionWait.execution_id == execution_id, ExecutionWait.status == "pending"
            )
        )
    keys = FlowKeys(tenant_id, flow_id)
    if wait_id is not None:
        decision = waits.Decision("cancelled", reason="cancelled", error=CANCELLED)
        if await waits.close(engine, wait_id, decision, status="cancelled"):
            return "closed_wait"
    how = "interrupted"
    if status == "queued" and await _withdraw(redis, keys, execution_id, created_at):
        how = "never_ran"
    async with engine.begin() as connection:
        ended = await waits.finish_execution(
            connection,
            execution_id,
            status="cancelled",
            reason="cancelled",
            error=CANCELLED if how == "interrupted" else f"{CANCELLED} before it ran",
            from_statuses=("queued", "running", "waiting"),
        )
        if ended:
            await connection.execute(
                update(Execution)
                .where(Execution.id == execution_id)
                .values(cancel_requested_at=utcnow())
            )
    if not ended:
        raise Conflict(f"execution {execution_id} ended before it could be cancelled")
    if how == "interrupted":
        await redis.xadd(
            keys.control,
            {"type": "cancel", "execution_id": execution_id},
            maxlen=CONTROL_STREAM_MAXLEN,
            approximate=True,
        )
    log.info("execution.cancelled", execution_id=execution_id, how=how)
    return how


async def _withdraw(redis: Redis, keys: FlowKeys, execution_id: str, created_at: Any) -> bool:
    """Delete the execution's trigger entry if no pump has read it; True if it was."""
    start = f"{max(0, int(created_at.timestamp() * 1000) - 1000)}-0"
    for _ in range(SCAN_PAGES):
        entries: Any = await redis.xrange(keys.triggers, min=start, max="+", count=SCAN_PAGE)
        for entry_id, fields in entries or []:
            if _field(fields, "execution_id") == execution_id and not _field(fields, "resume"):
                pipe = redis.pipeline(transaction=True)
                pipe.xpending_range(keys.triggers, TRIGGER_GROUP, entry_id, entry_id, 1)
                pipe.xdel(keys.triggers, entry_id)
                pending, deleted = await pipe.execute(raise_on_error=False)
                if isinstance(pending, Exception):  # no consumer group yet: nobody read it
                    if "NOGROUP" not in str(pending):
                        raise pending
                    pending = []
                if isinstance(deleted, Exception):
                    raise deleted
                return not pending and bool(deleted)
        if len(entries or []) < SCAN_PAGE:
            return False
        last = _text(entries[-1][0])
        milliseconds, sequence = last.split("-")
        start = f"{milliseconds}-{int(sequence) + 1}"
    return False


def _field(fields: Any, name: str) -> str | None:
    value = (fields or {}).get(name)
    if value is None:
        value = (fields or {}).get(name.encode())
    return _text(value) if value is not None else None


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
