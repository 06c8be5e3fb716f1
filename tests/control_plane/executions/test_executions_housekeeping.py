"""The reaper (queued executions whose entry never reached the stream) and retention."""

from __future__ import annotations

from datetime import timedelta

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from control_plane.db import new_id, utcnow
from control_plane.executions.models import Execution, ExecutionCounter, ExecutionStep
from control_plane.executions.retention import delete_expired
from control_plane.executions.storage import month_key
from control_plane.triggers.reaper import ENQUEUE_LOST, reap
from pump.events import TriggerEntry
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import count_rows, sessions, set_tier
from tests.control_plane.triggers.triggers_helpers import make_flow


def execution(
    tenant_id: str, flow_id: str, *, kind: str, age: timedelta, status: str = "queued"
) -> Execution:
    created_at = utcnow() - age
    return Execution(
        id=new_id(),
        tenant_id=tenant_id,
        flow_id=flow_id,
        status=status,
        trigger="tick" if kind == "schedule" else "inbound",
        trigger_kind=kind,
        target="shape",
        input={"kind": kind},
        input_truncated=False,
        outputs_truncated=False,
        steps=0,
        created_at=created_at,
        finished_at=created_at if status != "queued" else None,
    )


async def test_reaper_requeues_lost_schedules_and_fails_lost_webhooks(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    flow = await make_flow(client, start=False)
    keys = FlowKeys(flow.account.tenant_id, flow.flow_id)
    redis = app.state.redis.client
    old = timedelta(seconds=app.state.settings.reaper_grace_seconds + 5)
    on_stream = execution(flow.account.tenant_id, flow.flow_id, kind="webhook", age=old)
    lost_webhook = execution(flow.account.tenant_id, flow.flow_id, kind="webhook", age=old)
    lost_tick = execution(flow.account.tenant_id, flow.flow_id, kind="schedule", age=old)
    # its caller's retry with the same Idempotency-Key was answered with it: it must run
    lost_keyed = execution(flow.account.tenant_id, flow.flow_id, kind="webhook", age=old)
    lost_keyed.idempotency_key = "client-key-1"
    recent = execution(flow.account.tenant_id, flow.flow_id, kind="webhook", age=timedelta())
    async with sessions(app)() as session, session.begin():
        session.add_all([on_stream, lost_webhook, lost_tick, lost_keyed, recent])
    entry = TriggerEntry(execution_id=on_stream.id, trigger="inbound", target="shape", payload={})
    await redis.xadd(keys.triggers, entry.encode())

    # the counts cover the whole database, which earlier tests of the session share
    first = await reap(app)
    assert first["found"] >= 1 and first["requeued"] >= 2 and first["failed"] >= 1, first
    assert await reap(app) == {"found": 0, "requeued": 0, "failed": 0}, "each is checked once"

    async with sessions(app)() as session:
        rows = {
            row.id: row
            for row in await session.scalars(
                select(Execution).where(Execution.flow_id == flow.flow_id)
            )
        }
    assert rows[on_stream.id].status == "queued" and rows[on_stream.id].enqueued_at
    assert rows[lost_tick.id].status == "queued" and rows[lost_tick.id].enqueued_at
    assert (rows[lost_webhook.id].status, rows[lost_webhook.id].reason) == ("failed", ENQUEUE_LOST)
    assert rows[recent.id].status == "queued" and rows[recent.id].enqueued_at is None
    entries = await redis.xrange(keys.triggers)
    requeued = [fields["execution_id"] for _, fields in entries[1:]]
    assert entries[0][1]["execution_id"] == on_stream.id
    assert sorted(requeued) == sorted([lost_tick.id, lost_keyed.id])
    assert rows[lost_keyed.id].status == "queued" and rows[lost_keyed.id].enqueued_at
    payloads = [TriggerEntry.decode(fields).payload for _, fields in entries[1:]]
    assert {"kind": "schedule"} in payloads


async def test_retention_deletes_old_finished_executions_per_tier_in_batches(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    free = await make_flow(client, start=False)
    pro = await make_flow(client, start=False)
    await set_tier(app, free.account.tenant_id, "free")  # 7 days
    await set_tier(app, pro.account.tenant_id, "pro")  # 90 days
    ten_days = timedelta(days=10)
    rows = [
        execution(
            free.account.tenant_id, free.flow_id, kind="webhook", age=ten_days, status="succeeded"
        )
        for _ in range(5)
    ]
    kept_queued = execution(free.account.tenant_id, free.flow_id, kind="webhook", age=ten_days)
    kept_recent = execution(
        free.account.tenant_id, free.flow_id, kind="webhook", age=timedelta(days=1), status="failed"
    )
    kept_pro = execution(
        pro.account.tenant_id, pro.flow_id, kind="webhook", age=ten_days, status="succeeded"
    )
    async with sessions(app)() as session, session.begin():
        session.add_all([*rows, kept_queued, kept_recent, kept_pro])
        await session.flush()
        session.add(
            ExecutionStep(
                execution_id=rows[0].id,
                step=1,
                listener="shape",
                status="succeeded",
                truncated=False,
            )
        )
        session.add(
            ExecutionCounter(
                flow_id=free.flow_id,
                tenant_id=free.account.tenant_id,
                month=month_key(utcnow()),
                executions=8,
            )
        )

    assert await delete_expired(app.state.engine, batch_size=2) == 5
    remaining = set(await _ids(app, Execution.flow_id.in_([free.flow_id, pro.flow_id])))
    assert remaining == {kept_queued.id, kept_recent.id, kept_pro.id}
    assert await count_rows(app, ExecutionStep, ExecutionStep.execution_id == rows[0].id) == 0
    async with sessions(app)() as session:
        counted = await session.scalar(
            select(func.sum(ExecutionCounter.executions)).where(
                ExecutionCounter.flow_id == free.flow_id
            )
        )
    assert counted == 8, "retention never lowers the month's usage"
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Execution).where(Execution.id == kept_queued.id).values(status="succeeded")
        )
    assert await delete_expired(app.state.engine, batch_size=2) == 1


async def _ids(app: FastAPI, *conditions: object) -> list[str]:
    async with sessions(app)() as session:
        return list(await session.scalars(select(Execution.id).where(*conditions)))  # type: ignore[arg-type]
