"""Stall detection: an execution `running` with no event for longer than its flow's
`limits.timeout_seconds` plus `stall_grace_seconds` cannot be making progress (a live pump
fails it with `timeout` by then), so its pump is frozen or lost: it is marked failed with
reason `stalled`, its completion callbacks become due, its pump is told to cancel it (should it
wake up), and `/metrics` counts it (`flowplane_executions_stalled_total`)."""

from __future__ import annotations

from datetime import timedelta

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.callbacks.outbox import owe
from control_plane.db import utcnow
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.metrics import app_metrics
from control_plane.settings import Settings
from pump.keys import CONTROL_STREAM_MAXLEN, FlowKeys
from pump.organism import OrganismError, parse_organism

log = structlog.get_logger("control_plane.stalls")
BATCH = 200
_limits: dict[tuple[str, object], float] = {}  # (flow id, updated_at) -> timeout seconds


async def detect_stalls(app: FastAPI) -> int:
    settings: Settings = app.state.settings
    engine: AsyncEngine = app.state.engine
    redis: Redis = app.state.redis.client
    now = utcnow()
    silent_since = func.coalesce(Execution.last_event_at, Execution.started_at)
    grace = timedelta(seconds=settings.stall_grace_seconds)
    async with engine.connect() as connection:
        candidates = (
            await connection.execute(
                select(
                    Execution.id,
                    Execution.tenant_id,
                    Execution.flow_id,
                    silent_since,
                    Flow.organism_yaml,
                    Flow.updated_at,
                )
                .join(Flow, Flow.id == Execution.flow_id)
                .where(Execution.status == "running", silent_since < now - grace)
                .limit(BATCH)
            )
        ).all()
    stalled = 0
    for ident, tenant_id, flow_id, since, organism_yaml, updated_at in candidates:
        limit = _timeout(flow_id, updated_at, organism_yaml)
        silent = (now - since).total_seconds()
        if silent <= limit + settings.stall_grace_seconds:
            continue
        message = (
            f"no event for {silent:.0f} s while running: longer than limits.timeout_seconds "
            f"({limit:g} s) plus {settings.stall_grace_seconds:g} s; its pump is frozen or lost"
        )
        async with engine.begin() as connection:
            result = await connection.execute(
                update(Execution)
                .where(Execution.id == ident, Execution.status == "running")
                .values(status="failed", reason="stalled", error=message, finished_at=utcnow())
            )
            if not result.rowcount:
                continue
            await connection.run_sync(owe, [ident])
        stalled += 1
        app_metrics(app).stalled.inc()
        app_metrics(app).executions.labels("failed").inc()
        log.warning("execution.stalled", execution_id=ident, flow_id=flow_id, silent=silent)
        await redis.xadd(
            FlowKeys(tenant_id, flow_id).control,
            {"type": "cancel", "execution_id": ident},
            maxlen=CONTROL_STREAM_MAXLEN,
            approximate=True,
        )
    return stalled


def _timeout(flow_id: str, updated_at: object, organism_yaml: str) -> float:
    key = (flow_id, updated_at)
    if key not in _limits:
        if len(_limits) > 4096:
            _limits.clear()
        try:
            _limits[key] = float(parse_organism(organism_yaml).limits.timeout_seconds)
        except OrganismError:
            _limits[key] = 300.0
    return _limits[key]
