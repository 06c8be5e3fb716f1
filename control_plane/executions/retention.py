"""Retention: finished executions older than their tenant's tier allows are deleted.

Deletion runs in small transactions (`DELETE ... WHERE id IN (SELECT id ... LIMIT n)`, steps
go by ON DELETE CASCADE), so no statement holds locks on many rows for long and the trigger
path keeps inserting meanwhile. Queued and running executions are never deleted; the monthly
counters that quotas read are separate rows and are not touched."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

import structlog
from fastapi import FastAPI
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.accounts.models import Tenant
from control_plane.billing.tiers import TIER_LIMITS
from control_plane.db import utcnow
from control_plane.executions.background import periodic
from control_plane.executions.models import FINAL_STATUSES, Execution
from control_plane.settings import Settings

log = structlog.get_logger("control_plane.retention")


async def delete_expired(
    engine: AsyncEngine, *, batch_size: int, now: datetime | None = None
) -> int:
    """Delete every expired execution, `batch_size` per transaction; returns how many."""
    now = now or utcnow()
    deleted = 0
    for tier, limits in TIER_LIMITS.items():
        if limits.execution_retention_days is None:
            continue
        cutoff = now - timedelta(days=limits.execution_retention_days)
        expired = (
            select(Execution.id)
            .join(Tenant, Tenant.id == Execution.tenant_id)
            .where(
                Tenant.tier == tier,
                Execution.created_at < cutoff,
                Execution.status.in_(FINAL_STATUSES),
            )
            .limit(batch_size)
            .scalar_subquery()
        )
        statement = (
            delete(Execution)
            .where(Execution.id.in_(expired))
            .execution_options(synchronize_session=False)
        )
        while True:
            async with engine.begin() as connection:
                result = await connection.execute(statement)
            count = int(getattr(result, "rowcount", 0) or 0)
            deleted += count
            if count < batch_size:
                break
            await asyncio.sleep(0)  # let the trigger path in between batches
    if deleted:
        log.info("retention.deleted", executions=deleted)
    return deleted


@asynccontextmanager
async def run_retention(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    engine: AsyncEngine = app.state.engine

    async def tick() -> None:
        await delete_expired(engine, batch_size=settings.retention_batch_size)

    async with periodic("retention", lambda: settings.retention_interval_seconds, tick):
        yield
