"""The Run button: POST /api/triggers/{id}/inject, with and without ?wait=true."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from control_plane.executions.models import Execution
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import count_rows
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    echo_yaml,
    make_flow,
    mark_running,
    running_app,
    two_path_yaml,
    wait_for_statuses,
)

SCHEDULED = "  - {name: nightly, kind: schedule, cron: '0 2 * * *', target: shape, payload: {mode: batch}}\n"


async def test_run_button_waits_for_the_result(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client, echo_yaml(extra_triggers=SCHEDULED))
        inject = f"/api/triggers/{flow.flow_id}/inject"
        headers = flow.account.headers

        waited = await client.post(
            f"{inject}?wait=true", json={"payload": {"a": 1}}, headers=headers
        )
        assert waited.status_code == 200, waited.text
        body = waited.json()
        assert body["status"] == "succeeded"
        assert body["outputs"] == [{"a": 1, "echo": {"a": 1}}]
        assert body["error"] is None

        default = await client.post(f"{inject}?wait=true", headers=headers)
        assert default.json()["outputs"] == [{"echo": {}}], "no payload: the manual trigger's {}"
        scheduled = await client.post(
            f"{inject}?wait=true", json={"trigger": "nightly"}, headers=headers
        )
        assert scheduled.json()["outputs"] == [{"mode": "batch", "echo": {"mode": "batch"}}]

        queued = await client.post(inject, json={"payload": 5}, headers=headers)
        assert queued.status_code == 202 and set(queued.json()) == {"execution_id"}

        unknown = await client.post(inject, json={"trigger": "nope"}, headers=headers)
        assert unknown.status_code == 422 and "no trigger named 'nope'" in unknown.json()["detail"]
        extra = await client.post(inject, json={"payload": 1, "other": 2}, headers=headers)
        assert extra.status_code == 422
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 4})


async def test_run_button_reports_a_failure(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (_, client):
        flow = await make_flow(client, two_path_yaml())
        response = await client.post(
            f"/api/triggers/{flow.flow_id}/inject?wait=true",
            json={"trigger": "broken"},
            headers=flow.account.headers,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status"] == "failed" and body["outputs"] is None
        assert body["reason"] and body["error"]


async def test_the_wait_is_bounded(app: FastAPI, client: httpx.AsyncClient) -> None:
    """No pump reads the stream: the wait ends at the setting with the current status."""
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    app.state.settings.trigger_wait_timeout_seconds = 0.3
    response = await client.post(
        f"/api/triggers/{flow.flow_id}/inject?wait=true", headers=flow.account.headers
    )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["status"] == "queued" and body["outputs"] is None
    assert await count_rows(app, Execution, Execution.id == body["execution_id"]) == 1
