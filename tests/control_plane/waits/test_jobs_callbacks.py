"""One-off schedules fire once across two control planes, a cancelled one never fires, a stopped
flow's job fails visibly; completion callbacks are signed, retried on the schedule, survive a
control-plane restart and end `callback_failed` when the target never accepts. No pump runs
here: the flows are marked running and their executions end by cancel or by the control plane."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web
from sqlalchemy import select, update

from control_plane.callbacks.delivery import SIGNATURE_HEADER, Deliverer, verify
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.jobs import service as jobs
from control_plane.settings import Settings
from control_plane.waits.service import finish_execution
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.triggers.triggers_helpers import (
    echo_yaml,
    make_flow,
    mark_running,
    running_app,
    wait_for,
)
from tests.pump.pump_testkit import serve


def quiet(settings: Settings, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "background_tasks": False,
        "pump_http_allowlist": "127.0.0.1",
        "callback_retry_schedule": "0.2,0.2,0.2,0.2,0.2",
        **changes,
    }
    return settings.model_copy(update=values)


async def test_one_off_jobs(settings: Settings) -> None:
    async with (
        running_app(quiet(settings)) as (first, client),
        running_app(quiet(settings)) as (second, _),
    ):
        flow = await make_flow(client, echo_yaml(), start=False)
        await mark_running(first, flow.flow_id)
        headers = flow.account.headers
        url = f"/api/flows/{flow.flow_id}/schedules"

        bad = await client.post(
            url, json={"delay_seconds": 1, "at": "2030-01-01T00:00:00Z"}, headers=headers
        )
        assert bad.status_code == 422 and "exactly one" in bad.text
        past = await client.post(url, json={"at": "2001-01-01T00:00:00Z"}, headers=headers)
        assert past.status_code == 422 and "'at'" in past.text
        unknown = await client.post(
            url, json={"delay_seconds": 1, "trigger": "nope"}, headers=headers
        )
        assert unknown.status_code == 422 and "nope" in unknown.text
        blocked = await client.post(
            url, json={"delay_seconds": 1, "callback_url": "http://10.1.2.3/x"}, headers=headers
        )
        assert blocked.status_code == 422 and "callback_url" in blocked.text

        body = {"delay_seconds": 2, "payload": {"n": 1}, "idempotency_key": "k1"}
        created = await client.post(url, json=body, headers=headers)
        assert created.status_code == 201, created.text
        job = created.json()
        assert job["status"] == "pending" and job["trigger"] == "run"
        repeat = await client.post(url, json=body, headers=headers)
        assert repeat.status_code == 200 and repeat.json()["id"] == job["id"]
        doomed = (await client.post(url, json={"delay_seconds": 2}, headers=headers)).json()
        deleted = await client.delete(f"{url}/{doomed['id']}", headers=headers)
        assert deleted.status_code == 200 and deleted.json()["status"] == "cancelled"
        assert (await client.delete(f"{url}/{doomed['id']}", headers=headers)).status_code == 409

        async def fire_on_both() -> dict[str, Any]:
            await asyncio.gather(jobs.fire_due(first), jobs.fire_due(second), jobs.fire_due(first))
            return dict((await client.get(f"{url}/{job['id']}", headers=headers)).json())

        fired = await wait_for(fire_on_both, lambda item: item["status"] == "fired", within=30)
        assert fired["execution_id"]
        for _ in range(3):
            await asyncio.gather(jobs.fire_due(first), jobs.fire_due(second))
        async with sessions(first)() as session:
            made = list(
                await session.scalars(select(Execution).where(Execution.flow_id == flow.flow_id))
            )
        assert [(item.id, item.input, item.trigger_kind) for item in made] == [
            (fired["execution_id"], {"n": 1}, "schedule")
        ], "one execution; the cancelled job never fired"
        listed = await client.get(f"{url}?status=cancelled", headers=headers)
        assert [item["id"] for item in listed.json()["items"]] == [doomed["id"]]

        # a job for a stopped flow fails visibly
        stopped = (await client.post(url, json={"delay_seconds": 0}, headers=headers)).json()
        async with sessions(first)() as session, session.begin():
            await session.execute(
                update(Flow)
                .where(Flow.id == flow.flow_id)
                .values(desired_state="stopped", status="stopped")
            )
        await fire_on_both()
        gone = (await client.get(f"{url}/{stopped['id']}", headers=headers)).json()
        assert gone["status"] == "failed" and "stopped" in gone["error"], gone


async def test_callbacks_are_signed_retried_and_survive_a_restart(settings: Settings) -> None:
    answers = [500, 503, 200]
    arrivals: list[dict[str, Any]] = []

    async def sink(request: web.Request) -> web.Response:
        arrivals.append({"headers": dict(request.headers), "body": await request.read()})
        return web.Response(status=answers.pop(0) if answers else 500)

    notices: list[bytes] = []

    async def never(_: web.Request) -> web.Response:
        return web.Response(status=500)

    async def notice(request: web.Request) -> web.Response:
        notices.append(await request.read())
        return web.Response(status=204)

    routes = [web.post("/hook", sink), web.post("/never", never), web.post("/notice", notice)]
    async with serve(routes) as server:
        async with running_app(quiet(settings)) as (app, client):
            flow = await make_flow(client, echo_yaml(), start=False)
            await mark_running(app, flow.flow_id)
            headers = flow.account.headers
            inject = f"/api/triggers/{flow.flow_id}/inject"
            ok = await client.post(
                inject,
                json={"callback_url": f"{server.url}/hook", "callback_token": "tok"},
                headers=headers,
            )
            never = await client.post(
                inject, json={"callback_url": f"{server.url}/never"}, headers=headers
            )
            refused = await client.post(
                inject, json={"callback_url": "ftp://example.com/x"}, headers=headers
            )
            assert refused.status_code == 422 and "callback_url" in refused.text
            notice = await client.put(
                f"/api/flows/{flow.flow_id}/callback-settings",
                json={"failure_url": f"{server.url}/notice"},
                headers=headers,
            )
            assert notice.status_code == 200, notice.text
            secret = notice.json()["signing_secret"]
            ok_id, never_id = ok.json()["execution_id"], never.json()["execution_id"]
            broken_id = (await client.post(inject, headers=headers)).json()["execution_id"]
            async with app.state.engine.begin() as connection:
                await finish_execution(
                    connection,
                    broken_id,
                    status="failed",
                    reason="handler_error",
                    error="boom",
                    from_statuses=("queued",),
                )
            for ident in (ok_id, never_id):
                cancelled = await client.post(f"/api/executions/{ident}/cancel", headers=headers)
                assert cancelled.status_code == 200
            deliverer = Deliverer(app)
            try:
                await deliverer.tick()  # first attempt: 500
            finally:
                await deliverer.close()
            assert len(arrivals) == 1
        # a new control plane on the same database delivers what is still owed
        async with running_app(quiet(settings)) as (app, client):
            deliverer = Deliverer(app)
            try:

                async def states() -> dict[str, Any]:
                    await deliverer.tick()
                    return {
                        ident: (
                            await client.get(f"/api/executions/{ident}", headers=headers)
                        ).json()["callback_status"]
                        for ident in (ok_id, never_id)
                    }

                final = await wait_for(
                    states,
                    lambda item: item == {ok_id: "delivered", never_id: "callback_failed"},
                    within=30,
                    interval=0.1,
                )
                del final
            finally:
                await deliverer.close()
            detail = (await client.get(f"/api/executions/{never_id}", headers=headers)).json()
            assert "500" in detail["callback_error"]
    assert len(notices) == 1 and broken_id.encode() in notices[0], "one failure notification"
    assert b'"reason":"handler_error"' in notices[0]
    accepted = [item for item in arrivals][-1]
    assert len(arrivals) == 3, "two failures, then exactly one accepted delivery"
    header = accepted["headers"][SIGNATURE_HEADER]
    assert verify(secret, accepted["body"], header, 300, time.time())
    assert not verify(secret, accepted["body"] + b" ", header, 300, time.time())
    assert not verify(secret, accepted["body"], header, 300, time.time() + 3600), "replay window"
    assert accepted["headers"]["Idempotency-Key"] == ok_id
    assert accepted["headers"]["Authorization"] == "Bearer tok"
    assert b'"status":"cancelled"' in accepted["body"]
