"""Owing completion callbacks: rows of `callback_deliveries`, written in the transaction that
ends the execution (so a delivery is never lost to a restart), sent by `delivery.py`."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from control_plane.callbacks.models import CallbackDelivery
from control_plane.db import new_id, utcnow
from control_plane.executions.models import FINAL_STATUSES, Execution
from control_plane.executions.storage import dialect_insert
from control_plane.flows.models import Flow


async def owe(connection: AsyncConnection, execution_ids: list[str]) -> None:
    """Owe the callback of each ended execution that asked for one, and the flow's failure
    notification for each failed one (once each: a repeat inserts nothing)."""
    if not execution_ids:
        return
    rows = await connection.execute(
        select(
            Execution.id,
            Execution.tenant_id,
            Execution.flow_id,
            Execution.status,
            Execution.callback_url,
            Execution.callback_token,
            Flow.failure_url,
        )
        .join(Flow, Flow.id == Execution.flow_id)
        .where(
            Execution.id.in_(execution_ids),
            Execution.status.in_(sorted(FINAL_STATUSES)),
        )
    )
    now = utcnow()
    owed: list[dict[str, Any]] = []
    for ident, tenant_id, flow_id, status, url, token, failure_url in rows:
        base = {
            "execution_id": ident,
            "tenant_id": tenant_id,
            "flow_id": flow_id,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        if url:
            owed.append({**base, "id": new_id(), "kind": "callback", "url": url, "token": token})
        if failure_url and status == "failed":
            owed.append(
                {**base, "id": new_id(), "kind": "failure", "url": failure_url, "token": None}
            )
    if owed:
        await connection.execute(_insert(connection.dialect.name), owed)


@lru_cache(maxsize=4)
def _insert(dialect_name: str) -> Any:
    insert = dialect_insert(dialect_name, CallbackDelivery.__table__)  # type: ignore[arg-type]
    return insert.on_conflict_do_nothing(index_elements=["execution_id", "kind"])
