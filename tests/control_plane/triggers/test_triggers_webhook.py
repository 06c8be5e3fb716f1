"""Webhooks end to end: a real pump, the recorder, idempotency keys, form bodies, and a flow
scaled to zero woken by a webhook."""

from __future__ import annotations

import asyncio
import re
import time

import httpx

from control_plane.settings import Settings
from control_plane.triggers.records import new_execution_id
from pump.keys import FlowKeys
from tests.control_plane.triggers.triggers_helpers import (
    FlowUnderTest,
    app_settings,
    echo_yaml,
    make_flow,
    mark_running,
    running_app,
    wait_for,
    wait_for_statuses,
)


async def test_webhooks_run_the_flow_with_json_form_and_idempotent_bodies(
    settings: Settings,
) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client)
        response = await client.post(flow.webhook_url, json={"ticket": 42})
        assert response.status_code == 202, response.text
        execution_id = response.json()["execution_id"]

        urlencoded = await client.post(flow.webhook_url, data={"a": "1", "b": ["x", "y"]})
        multipart = await client.post(flow.webhook_url, files={"field": (None, "value")})
        assert urlencoded.status_code == 202, urlencoded.text
        assert multipart.status_code == 202, multipart.text

        headers = {"Idempotency-Key": "order-1"}
        repeated = await asyncio.gather(
            *(client.post(flow.webhook_url, json={"n": i}, headers=headers) for i in range(5))
        )
        assert len({response.json()["execution_id"] for response in repeated}) == 1
        assert sorted(response.status_code for response in repeated) == [200, 200, 200, 200, 202]
        again = await client.post(flow.webhook_url, json={"n": 9}, headers=headers)
        assert (again.status_code, again.json()) == (200, repeated[0].json())

        await wait_for_statuses(app, flow.flow_id, {"succeeded": 4})
        detail = await client.get(f"/api/executions/{execution_id}", headers=flow.account.headers)
        assert detail.status_code == 200
        body = detail.json()
        assert body["status"] == "succeeded"
        assert (body["trigger"], body["trigger_kind"]) == ("inbound", "webhook")
        assert body["input"] == {"ticket": 42}
        assert body["outputs"] == [{"ticket": 42, "echo": {"ticket": 42}}]
        assert [step["listener"] for step in body["steps"]] == ["shape", "done"]
        assert all(step["status"] == "succeeded" for step in body["steps"])
        assert body["started_at"] and body["first_step_at"] and body["finished_at"]
        inputs = [
            (
                await client.get(
                    f"/api/executions/{r.json()['execution_id']}", headers=flow.account.headers
                )
            ).json()["input"]
            for r in (urlencoded, multipart)
        ]
        assert inputs == [{"a": "1", "b": ["x", "y"]}, {"field": "value"}]


async def test_a_webhook_wakes_a_scaled_to_zero_flow(settings: Settings) -> None:
    idle_fast = app_settings(settings, pump_idle_stop_seconds=1, reconcile_interval_seconds=0.25)
    async with running_app(idle_fast) as (app, client):
        flow = await make_flow(client)
        await wait_for(
            lambda: flow_status(client, flow),
            lambda status: status == "idle",
            within=30,
            what="the idle flow scaled to zero",
        )
        response = await client.post(flow.webhook_url, json={"woken": True})
        assert response.status_code == 202, response.text
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 1})


async def flow_status(client: httpx.AsyncClient, flow: FlowUnderTest) -> str:
    response = await client.get(f"/api/flows/{flow.flow_id}/status", headers=flow.account.headers)
    return str(response.json()["status"])


def test_execution_ids_are_unique_and_time_ordered() -> None:
    """New executions land on the newest pages of the history's indexes (issue 16)."""
    first = new_execution_id()
    time.sleep(0.002)  # the next millisecond
    second = new_execution_id()
    assert re.fullmatch("[0-9a-f]{32}", first) and first < second
    assert len({new_execution_id() for _ in range(10_000)}) == 10_000


async def test_consecutive_admission_batches_reach_the_stream_in_their_order(
    settings: Settings,
) -> None:
    """A batch's XADD overlaps the next batch's transaction; the entries still follow the
    batches' order (each batch stamps its own acceptance time)."""
    changes = {"trigger_admission_max_batch": 4, "trigger_admission_workers": 1}
    async with running_app(app_settings(settings, **changes)) as (app, client):
        flow = await make_flow(client, echo_yaml(), start=False)
        await mark_running(app, flow.flow_id)
        answers = await asyncio.gather(
            *(client.post(flow.webhook_url, json={"n": n}) for n in range(60))
        )
        assert [answer.status_code for answer in answers] == [202] * 60
        stream = FlowKeys(flow.account.tenant_id, flow.flow_id).triggers
        entries = await app.state.redis.client.xrange(stream)
        accepted = [float(fields["enqueued_at"]) for _, fields in entries]
        assert len(accepted) == 60
        assert accepted == sorted(accepted)
        assert len(set(accepted)) >= 60 // 4, "the 60 requests came in batches of at most 4"
