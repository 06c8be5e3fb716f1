"""Issue 13: durable waits with real pumps. A timer survives its pump's death, an event
resumes only its correlation id and carries its payload on, approvals resume or fail, a
timeout takes on_timeout; nothing before the wait runs twice."""

from __future__ import annotations

import asyncio

from aiohttp import web
from sqlalchemy import select

from control_plane.settings import Settings
from control_plane.waits import service
from control_plane.waits.models import ExecutionWait
from tests.control_plane.pumps.pumps_helpers import pump_pids
from tests.control_plane.triggers.triggers_helpers import (
    FlowUnderTest,
    make_flow,
    wait_for,
)
from tests.control_plane.waits.waits_helpers import (
    crashing_app,
    execution,
    kill_pump,
    reaches,
    run,
    wait_settings,
    waits_app,
    waits_yaml,
)
from tests.pump.pump_testkit import serve


async def ok(_: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def test_waits_resume_from_the_wait_exactly_once(settings: Settings) -> None:
    async with serve([web.post("/hit", ok)]) as sink:
        flow, first = await first_life(settings, sink.url)
        # a control-plane restart while an execution waits loses nothing
        async with waits_app(wait_settings(settings)) as (_, client):
            event = {"correlation_id": "A1", "payload": {"paid": 7}}
            sent = await client.post(
                f"/api/flows/{flow.flow_id}/events/order.paid",
                json=event,
                headers=flow.account.headers,
            )
            assert sent.json() == {"resumed": [first], "kept_until": None}
            assert (await reaches(client, flow, first, "succeeded"))["outputs"] == [{"paid": 7}]
        assert len(sink.requests) == 1, "the step before the timer wait ran once"


async def first_life(settings: Settings, sink: str) -> tuple[FlowUnderTest, str]:
    """Timer (its pump killed meanwhile), event, approval, racing deciders and timeout; returns
    the flow and an execution left waiting for event A1."""
    async with crashing_app(wait_settings(settings)) as (app, client):
        flow = await make_flow(client, waits_yaml(sink))
        headers = flow.account.headers

        # timer: the pump is killed while the execution waits; the resume still happens once
        timed = await run(client, flow, "timer", order="T1")
        waiting = await reaches(client, flow, timed, "waiting")
        assert waiting["waiting_for"]["kind"] == "timer"
        assert waiting["waiting_for"]["listener"] == "pause"
        dead = kill_pump(app, flow)
        await wait_for(
            lambda: asyncio.sleep(0, pump_pids(app, flow.account, flow.flow_id)),
            lambda pids: bool(pids) and pids != [dead],
            what="a new pump",
        )
        done = await reaches(client, flow, timed, "succeeded")
        assert [(s["listener"], s["status"]) for s in done["steps"]] == [
            ("hit", "succeeded"),
            ("pause", "succeeded"),
            ("done", "succeeded"),
        ]
        assert done["outputs"][0]["json"] == {"ok": True}

        # event: only the matching correlation id resumes, with the event's payload
        first = await run(client, flow, "event", order="A1")
        second = await run(client, flow, "event", order="A2")
        for ident in (first, second):
            body = await reaches(client, flow, ident, "waiting")
            assert body["waiting_for"]["topic"] == "order.paid"
        events = f"/api/flows/{flow.flow_id}/events/order.paid"
        event = {"correlation_id": "A2", "payload": {"paid": 42}}
        assert (await client.post(events, json=event)).status_code == 401
        wrong = await client.post(events, json=event, headers={"X-Event-Token": "fpe_nope"})
        assert wrong.status_code == 404
        bad = await client.post(
            f"/api/flows/{flow.flow_id}/events/bad topic!", json=event, headers=headers
        )
        assert bad.status_code == 422 and "topic" in bad.text
        token = (
            await client.post(f"/api/flows/{flow.flow_id}/event-token", headers=headers)
        ).json()["token"]
        sent = await client.post(events, json=event, headers={"X-Event-Token": token})
        assert sent.status_code == 200 and sent.json() == {"resumed": [second], "kept_until": None}
        again = await client.post(events, json=event, headers=headers)
        assert again.json() == {"resumed": [], "kept_until": None}, "a wait resumes once"
        assert (await reaches(client, flow, second, "succeeded"))["outputs"] == [{"paid": 42}]
        assert (await execution(client, flow, first))["status"] == "waiting"

        # approval: approve resumes, reject fails; a second decision is a conflict
        yes = await run(client, flow, "approval", order="B1")
        no = await run(client, flow, "approval", order="B2")
        asked = await reaches(client, flow, yes, "waiting")
        assert asked["waiting_for"]["message"] == "ship B1?"
        await reaches(client, flow, no, "waiting")
        approved = await client.post(f"/api/executions/{yes}/approve", headers=headers)
        assert approved.status_code == 200, approved.text
        rejected = await client.post(
            f"/api/executions/{no}/reject", json={"comment": "out of stock"}, headers=headers
        )
        assert rejected.status_code == 200, rejected.text
        twice = await client.post(f"/api/executions/{no}/approve", headers=headers)
        assert twice.status_code == 409
        assert (await reaches(client, flow, yes, "succeeded"))["outputs"] == [{"order": "B1"}]
        failed = await reaches(client, flow, no, "failed")
        assert failed["reason"] == "rejected" and "out of stock" in failed["error"]

        # racing deciders (replicas, a timer and a person): exactly one acts on a wait
        raced = await run(client, flow, "approval", order="R1")
        await reaches(client, flow, raced, "waiting")
        async with app.state.engine.connect() as connection:
            wait_id = await connection.scalar(
                select(ExecutionWait.id).where(ExecutionWait.execution_id == raced)
            )
        decision = service.Decision("resumed", payload={"order": "R1"})
        outcomes = await asyncio.gather(
            *(service.resume(app, wait_id, decision, flow.flow_id) for _ in range(4)),
            service.close(app.state.engine, wait_id, service.Decision("rejected")),
        )
        assert sum(outcomes) == 1
        await wait_for(
            lambda: execution(client, flow, raced),
            lambda body: body["status"] in ("succeeded", "failed"),
            what="the raced execution's end",
        )

        # timeout: on_timeout takes the wait's input
        slow = await run(client, flow, "slow", order="C1")
        timed_out = await reaches(client, flow, slow, "succeeded")
        assert timed_out["outputs"] == [{"late": "C1"}]

        listed = await client.get(
            f"/api/flows/{flow.flow_id}/executions?status=waiting", headers=headers
        )
        assert [item["id"] for item in listed.json()["items"]] == [first]
        return flow, first
