"""Backpressure: a flow's full queue answers 429, a saturated app 503, both with Retry-After
and before anything is stored; the queue depth shows in the status API and /metrics; the
trigger stream keeps no acknowledged entries once trimmed."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select, update

from control_plane.billing.tiers import TIER_LIMITS
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.metrics import metrics_token
from control_plane.settings import Settings
from control_plane.triggers import trimming
from control_plane.triggers.admission import Admitted, TriggerRequest
from control_plane.triggers.runtime import trigger_runtime
from pump.keys import TRIGGER_GROUP, FlowKeys
from tests.control_plane.accounts.accounts_helpers import sessions, set_tier
from tests.control_plane.triggers.triggers_helpers import (
    make_flow,
    mark_running,
    running_app,
    wait_for_statuses,
)


async def executions_of(app: Any, flow_id: str) -> int:
    async with sessions(app)() as session:
        count = await session.scalar(
            select(func.count()).select_from(Execution).where(Execution.flow_id == flow_id)
        )
    return int(count or 0)


async def mark_stopped(app: Any, flow_id: str) -> None:
    """Leave no flow `running` without a pump for later tests' reconcilers to start."""
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow).where(Flow.id == flow_id).values(desired_state="stopped", status="stopped")
        )


async def test_a_full_queue_answers_429_and_the_depth_is_shown(settings: Settings) -> None:
    async with running_app(settings.model_copy(update={"max_queued_per_flow": 3})) as (app, client):
        flow = await make_flow(client, start=False)
        await mark_running(app, flow.flow_id)  # no pump: accepted triggers wait on the stream
        for number in range(3):
            accepted = await client.post(flow.webhook_url, json={"n": number})
            assert accepted.status_code == 202, accepted.text
        refused = await client.post(flow.webhook_url, json={"n": 3})
        assert refused.status_code == 429
        assert refused.headers["retry-after"] == "1"
        body = refused.json()
        assert body["error"] == "TooManyRequests"
        assert body["limit"] == "max_queued_per_flow"
        assert "3 triggers waiting or running" in body["detail"]
        assert await executions_of(app, flow.flow_id) == 3  # the refused one stored nothing

        status = await client.get(f"/api/flows/{flow.flow_id}/status", headers=flow.account.headers)
        assert status.json()["queue"] == {"waiting": 3, "in_progress": 0, "depth": 3, "limit": 3}
        bearer = {"Authorization": f"Bearer {metrics_token(app.state.settings)}"}
        metrics = (await client.get("/metrics", headers=bearer)).text
        depths = {
            sample.labels["flow_id"]: sample.value
            for family in text_string_to_metric_families(metrics)
            for sample in family.samples
            if sample.name == "flowplane_flow_queue_depth"
        }
        assert depths[flow.flow_id] == 3
        await mark_stopped(app, flow.flow_id)


async def test_the_tier_sets_the_queue_limit_when_the_setting_is_empty(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        flow = await make_flow(client, start=False)
        status = await client.get(f"/api/flows/{flow.flow_id}/status", headers=flow.account.headers)
        # new workspaces are self-hosted without Stripe: that plan's max_queued_per_flow
        assert status.json()["queue"]["limit"] == TIER_LIMITS["self-hosted"].max_queued_per_flow
        await set_tier(app, flow.account.tenant_id, "free")
        status = await client.get(f"/api/flows/{flow.flow_id}/status", headers=flow.account.headers)
        assert status.json()["queue"]["limit"] == TIER_LIMITS["free"].max_queued_per_flow


async def test_a_saturated_app_answers_503_at_once_and_stores_nothing(settings: Settings) -> None:
    async with running_app(settings.model_copy(update={"max_in_flight_triggers": 1})) as (
        app,
        client,
    ):
        flow = await make_flow(client, start=False)
        await mark_running(app, flow.flow_id)
        admitter = trigger_runtime(app).admitter
        real_admit = admitter.admit
        release, holding = asyncio.Event(), asyncio.Event()

        async def slow_admit(request: TriggerRequest) -> Admitted:
            holding.set()
            await release.wait()  # the one slot stays taken until released
            return await real_admit(request)

        admitter.admit = slow_admit  # type: ignore[method-assign]
        first = asyncio.create_task(client.post(flow.webhook_url, json={"n": 1}))
        await holding.wait()
        refused = await client.post(flow.webhook_url, json={"n": 2})
        assert refused.status_code == 503
        assert refused.headers["retry-after"] == "1"
        assert "FLOWPLANE_MAX_IN_FLIGHT_TRIGGERS" in refused.json()["detail"]
        release.set()
        assert (await first).status_code == 202
        assert await executions_of(app, flow.flow_id) == 1
        await mark_stopped(app, flow.flow_id)


async def test_acknowledged_trigger_entries_are_trimmed_and_unfinished_ones_kept(
    settings: Settings, monkeypatch: Any
) -> None:
    async with running_app(settings.model_copy(update={"background_tasks": True})) as (
        app,
        client,
    ):
        flow = await make_flow(client)
        for number in range(30):
            assert (await client.post(flow.webhook_url, json={"n": number})).status_code == 202
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 30})
        redis = app.state.redis.client
        keys = FlowKeys(flow.account.tenant_id, flow.flow_id)
        assert await redis.xlen(keys.triggers) == 30
        monkeypatch.setattr(trimming, "STREAM_WINDOW_MS", 0)
        assert await trimming.trim_trigger_streams(app) >= 29  # (other tests' flows too)
        assert await redis.xlen(keys.triggers) == 1  # the last delivered entry stays

        # Delivered-but-unacknowledged and undelivered entries are never trimmed.
        stopped = await client.post(f"/api/flows/{flow.flow_id}/stop", headers=flow.account.headers)
        assert stopped.status_code == 200
        pending = await redis.xadd(keys.triggers, {"execution_id": "pending"})
        await redis.xadd(keys.triggers, {"execution_id": "waiting"})
        await redis.xreadgroup(TRIGGER_GROUP, "ghost", {keys.triggers: ">"}, count=1)
        now_ms = int(time.time() * 1000) + 1000
        assert await trimming.trim_acknowledged(redis, keys.triggers, now_ms) == 1
        remaining = [fields["execution_id"] for _, fields in await redis.xrange(keys.triggers)]
        assert remaining == ["pending", "waiting"]
        await redis.xack(keys.triggers, TRIGGER_GROUP, pending)
        await redis.delete(keys.triggers)


async def test_a_keyed_retry_of_a_trigger_that_never_reached_its_stream_enqueues_it(
    settings: Settings,
) -> None:
    async with running_app(settings) as (app, client):
        flow = await make_flow(client, start=False)
        await mark_running(app, flow.flow_id)
        redis = app.state.redis.client
        keys = FlowKeys(flow.account.tenant_id, flow.flow_id)
        await redis.set(keys.triggers, "not a stream")  # the XADD fails after the commit
        headers = {"Idempotency-Key": "order-42"}
        first = await client.post(flow.webhook_url, json={"n": 1}, headers=headers)
        assert first.status_code == 503 and first.headers["retry-after"]
        await redis.delete(keys.triggers)
        retried = await client.post(flow.webhook_url, json={"n": 1}, headers=headers)
        assert retried.status_code == 200, retried.text
        execution_id = retried.json()["execution_id"]
        (entry,) = await redis.xrange(keys.triggers)
        assert entry[1]["execution_id"] == execution_id
        async with sessions(app)() as session:
            row = await session.get(Execution, execution_id)
            assert row is not None and (row.status, row.reason) == ("queued", None)
        assert await executions_of(app, flow.flow_id) == 1
        again = await client.post(flow.webhook_url, json={"n": 1}, headers=headers)
        assert again.json()["execution_id"] == execution_id
        assert await redis.xlen(keys.triggers) == 1  # queued already: not enqueued twice
        await redis.delete(keys.triggers)
        await mark_stopped(app, flow.flow_id)
