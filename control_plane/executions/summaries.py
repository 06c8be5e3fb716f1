"""What the flows API shows about executions: each flow's latest execution and its executions
this calendar month (UTC, from the counters, so retention does not lower it)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db import utcnow
from control_plane.executions.models import Execution, ExecutionCounter
from control_plane.executions.storage import month_key


async def latest_executions(
    session: AsyncSession, tenant_id: str, flow_ids: list[str]
) -> dict[str, dict[str, Any]]:
    """flow id -> {id, status, created_at, finished_at} of its newest execution."""
    latest: dict[str, dict[str, Any]] = {}
    for flow_id in flow_ids:  # one indexed probe per flow: (flow_id, created_at desc) LIMIT 1
        row = (
            await session.execute(
                select(Execution.id, Execution.status, Execution.created_at, Execution.finished_at)
                .where(Execution.flow_id == flow_id, Execution.tenant_id == tenant_id)
                .order_by(Execution.created_at.desc(), Execution.id.desc())
                .limit(1)
            )
        ).first()
        if row is not None:
            ident, status, created_at, finished_at = row
            latest[flow_id] = {
                "id": ident,
                "status": status,
                "created_at": created_at.isoformat(),
                "finished_at": finished_at.isoformat() if finished_at else None,
            }
    return latest


async def executions_this_month(
    session: AsyncSession, tenant_id: str, flow_ids: list[str]
) -> dict[str, int]:
    if not flow_ids:
        return {}
    rows = await session.execute(
        select(ExecutionCounter.flow_id, ExecutionCounter.executions).where(
            ExecutionCounter.tenant_id == tenant_id,
            ExecutionCounter.month == month_key(utcnow()),
            ExecutionCounter.flow_id.in_(flow_ids),
        )
    )
    return {flow_id: int(count) for flow_id, count in rows}
