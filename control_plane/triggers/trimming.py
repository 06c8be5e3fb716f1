"""Trimming the trigger streams: entries every consumer has acknowledged are removed.

A pump acknowledges a trigger entry once its execution's final event is written; nothing reads
it after that except the reaper, which looks an unchecked `queued` execution up on the stream
near its creation time. So each pass (with the reaper, on `background_tasks` replicas) trims a
running flow's `...:triggers` stream (`XTRIM MINID`) below the oldest of:

- the first entry still pending (delivered to a pump, not acknowledged),
- the last entry delivered to the pump group (everything after it is still waiting),
- the reaper's window around the flow's oldest execution it has not checked yet,
- `STREAM_WINDOW_MS` ago (an execution committed a moment ago may not be checked yet).

What stays is bounded: unfinished triggers (at most `max_queued_per_flow`, backpressure) plus
two minutes of acknowledged ones."""

from __future__ import annotations

import time
from typing import Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import ResponseError
from sqlalchemy import func, select

from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from pump.keys import TRIGGER_GROUP, FlowKeys

log = structlog.get_logger("control_plane.triggers.trimming")
STREAM_WINDOW_MS = 120_000  # as the reaper's (reaper.py): stream ids come from Redis' clock


async def trim_trigger_streams(app: FastAPI) -> int:
    """One pass over the running flows; returns the entries removed."""
    redis: Redis = app.state.redis.client
    now_ms = int(time.time() * 1000)
    async with app.state.engine.connect() as connection:
        flows = (
            await connection.execute(
                select(Flow.tenant_id, Flow.id).where(Flow.desired_state == "running")
            )
        ).all()
        unchecked = dict(
            (
                await connection.execute(
                    select(Execution.flow_id, func.min(Execution.created_at))
                    .where(Execution.status == "queued", Execution.enqueued_at.is_(None))
                    .group_by(Execution.flow_id)
                )
            ).all()
        )
    removed = 0
    for tenant_id, flow_id in flows:
        stream = FlowKeys(tenant_id, flow_id).triggers
        floor_ms = now_ms - STREAM_WINDOW_MS
        oldest = unchecked.get(flow_id)
        if oldest is not None:
            floor_ms = min(floor_ms, int(oldest.timestamp() * 1000) - STREAM_WINDOW_MS)
        try:
            removed += await trim_acknowledged(redis, stream, floor_ms)
        except ResponseError as error:
            log.debug("triggers.trim_skipped", stream=stream, error=str(error))
    return removed


async def trim_acknowledged(redis: Redis, stream: str, floor_ms: int) -> int:
    """Remove the stream's acknowledged entries older than `floor_ms`; returns how many."""
    groups: list[dict[str, Any]] = await redis.xinfo_groups(stream)
    group = next((item for item in groups if item.get("name") == TRIGGER_GROUP), None)
    if group is None:
        return 0  # no pump has read it yet: nothing is acknowledged
    boundary = str(group.get("last-delivered-id") or "0-0")
    if int(group.get("pending") or 0):
        summary: dict[str, Any] = await redis.xpending(stream, TRIGGER_GROUP)
        if summary.get("min") and _before(str(summary["min"]), boundary):
            boundary = str(summary["min"])
    if _milliseconds(boundary) > floor_ms:
        boundary = f"{max(floor_ms, 0)}-0"
    if boundary == "0-0":
        return 0
    return int(await redis.xtrim(stream, minid=boundary, approximate=False))


def _milliseconds(entry_id: str) -> int:
    return int(entry_id.split("-", 1)[0])


def _before(left: str, right: str) -> bool:
    left_ms, _, left_seq = left.partition("-")
    right_ms, _, right_seq = right.partition("-")
    return (int(left_ms), int(left_seq or 0)) < (int(right_ms), int(right_seq or 0))
