"""The tier's `executions_per_month`, checked on every trigger without a query per trigger.

Usage is the sum of the tenant's `execution_counters` for the current UTC month, re-read at
most every `quota_refresh_seconds` and topped up by what this instance admitted since. Several
replicas may together overshoot a limit by what they admit within one refresh interval; the
counters themselves are exact (they are written in the transaction that inserts each
execution)."""

from __future__ import annotations

import time
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.billing.tiers import check_quota, tier_limits
from control_plane.db import utcnow
from control_plane.executions.models import ExecutionCounter
from control_plane.executions.storage import month_key


@dataclass
class _Usage:
    month: str
    counted: int  # from the database
    added: int  # admitted here since that read
    read_at: float


class UsageTracker:
    def __init__(self, engine: AsyncEngine, refresh_seconds: float) -> None:
        self._engine = engine
        self._refresh_seconds = refresh_seconds
        self._usage: dict[str, _Usage] = {}

    async def check(self, tenant_id: str, tier: str) -> None:
        """Raise `QuotaExceeded` (402) when the tenant used its month's executions."""
        limit = tier_limits(tier).executions_per_month
        if limit is None:
            return
        check_quota(tier, "executions_per_month", await self.used(tenant_id))

    async def used(self, tenant_id: str) -> int:
        month = month_key(utcnow())
        usage = self._usage.get(tenant_id)
        if usage is None or usage.month != month:
            usage = _Usage(month=month, counted=0, added=0, read_at=time.monotonic())
            usage.counted = await self._read(tenant_id, month)
            self._usage[tenant_id] = usage
        elif time.monotonic() - usage.read_at >= self._refresh_seconds:
            usage.read_at = time.monotonic()  # concurrent checks use the last figure meanwhile
            counted = await self._read(tenant_id, month)
            usage.counted, usage.added = counted, 0
        return usage.counted + usage.added

    def add(self, tenant_id: str, count: int) -> None:
        usage = self._usage.get(tenant_id)
        if usage is not None:
            usage.added += count

    def forget(self, tenant_id: str) -> None:
        self._usage.pop(tenant_id, None)

    async def _read(self, tenant_id: str, month: str) -> int:
        async with self._engine.connect() as connection:
            total = await connection.scalar(
                select(func.coalesce(func.sum(ExecutionCounter.executions), 0)).where(
                    ExecutionCounter.tenant_id == tenant_id, ExecutionCounter.month == month
                )
            )
        return int(total or 0)
