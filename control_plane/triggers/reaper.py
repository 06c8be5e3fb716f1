"""The reaper: executions left `queued` whose trigger entry never reached the flow's stream.

That happens only when the control plane stops between committing an execution and XADDing
its entry (or the XADD failed and marking the row failed failed too). Every
`reaper_interval_seconds`, executions queued for longer than `reaper_grace_seconds` and not
yet checked are looked up on their flow's trigger stream (entries near their creation time)
and against the pump's "finished" marker:

- on the stream (the pump is stopped, slow or backlogged) or finished: only marked as checked
  (`enqueued_at`), they stay as they are;
- missing, from a schedule: enqueued again (no caller would retry a scheduled tick);
- missing, sent with an Idempotency-Key: enqueued again (a retry with the same key is answered
  with this very execution, so it must run, and the key keeps it to one run);
- missing otherwise (a webhook, the Run button or a retry without a key): marked `failed` with
  reason `enqueue_lost`. Their caller never got a 2xx (the answer comes only after the XADD),
  so the trigger was never accepted and the caller retries it; enqueueing it as well would run
  it twice."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import select, update

from control_plane.db import utcnow
from control_plane.executions.background import periodic
from control_plane.executions.models import Execution
from control_plane.metrics import app_metrics
from control_plane.settings import Settings
from control_plane.triggers.records import enqueue_entries, trigger_entry
from control_plane.triggers.trimming import STREAM_WINDOW_MS as TRIM_WINDOW_MS
from control_plane.triggers.trimming import trim_trigger_streams
from pump.keys import FlowKeys

log = structlog.get_logger("control_plane.reaper")
ENQUEUE_LOST = "enqueue_lost"
BATCH = 500
STREAM_WINDOW_MS = TRIM_WINDOW_MS  # stream ids come from Redis' clock: allow for skew and delay
STREAM_SCAN_LIMIT = 200_000
LOST_MESSAGE = (
    "the trigger never reached the flow's stream (the control plane stopped between storing "
    "and enqueueing it); its caller was not told it was accepted"
)


async def reap(app: FastAPI) -> dict[str, int]:
    """One pass; returns how many executions were found, re-enqueued and failed."""
    settings: Settings = app.state.settings
    engine = app.state.engine
    redis: Redis = app.state.redis.client
    cutoff = utcnow() - timedelta(seconds=settings.reaper_grace_seconds)
    async with engine.connect() as connection:
        rows = (
            await connection.execute(
                select(Execution.__table__)
                .where(
                    Execution.status == "queued",
                    Execution.enqueued_at.is_(None),
                    Execution.created_at < cutoff,
                )
                .order_by(Execution.created_at)
                .limit(BATCH)
            )
        ).all()
    by_flow: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        by_flow.setdefault((row.tenant_id, row.flow_id), []).append(row)
    found: list[Any] = []
    lost: list[Any] = []
    for (tenant_id, flow_id), executions in by_flow.items():
        keys = FlowKeys(tenant_id, flow_id)
        on_stream = await _ids_on_stream(redis, keys.triggers, [e.created_at for e in executions])
        pipe = redis.pipeline(transaction=False)
        for execution in executions:
            pipe.exists(keys.execution_state(execution.id))
        finished = await pipe.execute()
        for execution, done in zip(executions, finished, strict=True):
            (found if execution.id in on_stream or done else lost).append(execution)
    requeued = await _requeue([e for e in lost if _replayable(e)], redis)
    failed = [e.id for e in lost if e.id not in requeued]
    now = utcnow()
    async with engine.begin() as connection:
        checked = [e.id for e in found] + sorted(requeued)
        if checked:
            await connection.execute(
                update(Execution).where(Execution.id.in_(checked)).values(enqueued_at=now)
            )
        if failed:
            await connection.execute(
                update(Execution)
                .where(Execution.id.in_(failed), Execution.status == "queued")
                .values(status="failed", reason=ENQUEUE_LOST, error=LOST_MESSAGE, finished_at=now)
            )
    if failed:
        app_metrics(app).executions.labels("failed").inc(len(failed))
    if requeued or failed:
        log.warning("reaper.reaped", requeued=len(requeued), failed=len(failed))
    return {"found": len(found), "requeued": len(requeued), "failed": len(failed)}


def _replayable(execution: Any) -> bool:
    """A scheduled tick, or a trigger sent with an Idempotency-Key: its caller's retry was (or
    will be) answered with this execution, which the key keeps to one run."""
    keyed = execution.idempotency_key is not None
    return bool((execution.trigger_kind == "schedule" or keyed) and not execution.input_truncated)


async def _requeue(executions: list[Any], redis: Redis) -> set[str]:
    entries = [
        (
            FlowKeys(execution.tenant_id, execution.flow_id).triggers,
            trigger_entry(
                {
                    "id": execution.id,
                    "trigger": execution.trigger,
                    "target": execution.target,
                    "created_at": execution.created_at,
                },
                execution.input,
            ),
        )
        for execution in executions
    ]
    results = await enqueue_entries(redis, entries)
    return {
        execution.id
        for execution, result in zip(executions, results, strict=True)
        if not isinstance(result, Exception)
    }


async def _ids_on_stream(redis: Redis, stream: str, created: list[datetime]) -> set[str]:
    """Execution ids of the stream's entries added around the given creation times."""
    start_ms = int(min(created).timestamp() * 1000) - STREAM_WINDOW_MS
    end_ms = int(max(created).timestamp() * 1000) + STREAM_WINDOW_MS
    start, ids, scanned = f"{max(start_ms, 0)}-0", set[str](), 0
    while scanned < STREAM_SCAN_LIMIT:
        entries: Any = await redis.xrange(stream, min=start, max=f"{end_ms}-0", count=1000)
        for entry_id, fields in entries:
            ids.add(str(fields.get("execution_id") or ""))
            start = f"({entry_id}"
        scanned += len(entries)
        if len(entries) < 1000:
            break
    return {ident for ident in ids if ident}


@asynccontextmanager
async def run_reaper(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings

    async def tick() -> None:
        await reap(app)
        await trim_trigger_streams(app)

    async with periodic("reaper", lambda: settings.reaper_interval_seconds, tick):
        yield
