"""Webhooks end to end: a real pump, the recorder, idempotency keys and form bodies."""

from __future__ import annotations

import asyncio

from control_plane.settings import Settings
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    make_flow,
    running_app,
    wait_for_statuses,
)


async def test_webhook_runs_the_flow_and_records_its_outputs(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client)
        response = await client.post(flow.webhook_url, json={"ticket": 42})
        assert response.status_code == 202, response.text
        execution_id = response.json()["execution_id"]

        await wait_for_statuses(app, flow.flow_id, {"succeeded": 1})
        detail = await client.get(f"/api/executions/{execution_id}", headers=flow.account.headers)
        assert detail.status_code == 200
        body = detail.json()
        assert body["status"] == "succeeded"
        assert body["trigger"] == "inbound"
        assert body["trigger_kind"] == "webhook"
        assert body["input"] == {"ticket": 42}
        assert body["outputs"] == [{"ticket": 42, "echo": {"ticket": 42}}]
        assert [step["listener"] for step in body["steps"]] == ["shape", "done"]
        assert all(step["status"] == "succeeded" for step in body["steps"])
        assert body["started_at"] and body["first_step_at"] and body["finished_at"]


async def test_repeated_idempotency_key_returns_the_first_execution(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client)
        headers = {"Idempotency-Key": "order-1"}
        responses = await asyncio.gather(
            *(client.post(flow.webhook_url, json={"n": i}, headers=headers) for i in range(5))
        )
        ids = {response.json()["execution_id"] for response in responses}
        assert len(ids) == 1
        assert sorted(response.status_code for response in responses) == [200, 200, 200, 200, 202]
        again = await client.post(flow.webhook_url, json={"n": 9}, headers=headers)
        assert again.status_code == 200
        assert again.json()["execution_id"] in ids
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 1})


async def test_form_bodies_become_field_objects(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client)
        urlencoded = await client.post(flow.webhook_url, data={"a": "1", "b": ["x", "y"]})
        multipart = await client.post(flow.webhook_url, files={"field": (None, "value")})
        assert urlencoded.status_code == 202, urlencoded.text
        assert multipart.status_code == 202, multipart.text
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 2})
        first = await client.get(
            f"/api/executions/{urlencoded.json()['execution_id']}", headers=flow.account.headers
        )
        second = await client.get(
            f"/api/executions/{multipart.json()['execution_id']}", headers=flow.account.headers
        )
        assert first.json()["input"] == {"a": "1", "b": ["x", "y"]}
        assert second.json()["input"] == {"field": "value"}
