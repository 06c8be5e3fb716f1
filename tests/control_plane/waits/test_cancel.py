"""Cancel in each state: a queued execution never runs, a running one is stopped by its pump
(the in-flight HTTP request aborted), a waiting one is closed; an ended one is a conflict.
Rerun from step 2 of a failed 3-step execution does not run step 1 again; an execution whose
pump is frozen (SIGSTOP) is marked failed with reason `stalled`."""

from __future__ import annotations

import asyncio
import os
import re
import signal

import httpx
from aiohttp import web
from fastapi import FastAPI

from control_plane.metrics import metrics_token
from control_plane.settings import Settings
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import sign_up
from tests.control_plane.pumps.pumps_helpers import pump_pids
from tests.control_plane.triggers.triggers_helpers import make_flow, mark_running, wait_for
from tests.control_plane.waits.waits_helpers import (
    execution,
    reaches,
    run,
    wait_settings,
    waits_app,
    waits_yaml,
)
from tests.pump.pump_testkit import serve


async def stalled_total(client: httpx.AsyncClient, app: FastAPI) -> float:
    bearer = {"Authorization": f"Bearer {metrics_token(app.state.settings)}"}
    metrics = (await client.get("/metrics", headers=bearer)).text
    found = re.search(r"^flowplane_executions_stalled_total ([0-9.e+]+)$", metrics, re.MULTILINE)
    assert found is not None, "the stall counter is exported"
    return float(found.group(1))


async def test_cancel_rerun_and_stall(settings: Settings) -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()
    thirds: list[int] = []

    async def first(request: web.Request) -> web.Response:
        order = (await request.json())["order"]
        if order == "R":
            arrived.set()
            await asyncio.wait_for(release.wait(), 60)
        return web.json_response({"third_url": f"{base[0]}/third"})

    async def third(_: web.Request) -> web.Response:
        thirds.append(1)
        if len(thirds) == 1:
            await asyncio.sleep(5)  # past the listener's 1 s timeout: step 3 fails
        return web.json_response({"third": "ok"})

    base: list[str] = []
    async with (
        serve([web.post("/first", first), web.post("/third", third)]) as sink,
        waits_app(wait_settings(settings, stall_grace_seconds=0.5, stall_interval_seconds=0.2)) as (
            app,
            client,
        ),
    ):
        base.append(sink.url)
        flow = await make_flow(client, waits_yaml(sink.url))
        headers = flow.account.headers

        # waiting: the wait is closed, no decision can follow
        waiting = await run(client, flow, "approval", order="W")
        await reaches(client, flow, waiting, "waiting")
        cancelled = await client.post(f"/api/executions/{waiting}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
        assert cancelled.json()["how"] == "closed_wait"
        body = await execution(client, flow, waiting)
        assert (body["status"], body["reason"]) == ("cancelled", "cancelled")
        late = await client.post(f"/api/executions/{waiting}/approve", headers=headers)
        assert late.status_code == 409

        # running: its pump aborts the HTTP request in flight and records the cancel
        running = await run(client, flow, "steps", order="R")
        await asyncio.wait_for(arrived.wait(), 60)
        stopped = await client.post(f"/api/executions/{running}/cancel", headers=headers)
        assert stopped.status_code == 200 and stopped.json()["how"] == "interrupted"
        assert (await execution(client, flow, running))["status"] == "cancelled"
        events = FlowKeys(flow.account.tenant_id, flow.flow_id).events
        redis = app.state.redis.client

        async def pump_said() -> list[str]:
            entries = await redis.xrange(events, count=10_000)
            return [
                fields.get("data", "")
                for _, fields in entries
                if fields.get("execution_id") == running
                and fields.get("type") == "execution.failed"
            ]

        said = await wait_for(pump_said, bool, what="the pump's cancel event")
        assert '"reason":"cancelled"' in said[0]
        again = await client.post(f"/api/executions/{running}/cancel", headers=headers)
        assert again.status_code == 409 and "cancelled already" in again.text
        release.set()

        # queued (no pump reads this flow): withdrawn from the stream, it never runs
        idle = await make_flow(client, waits_yaml(sink.url), start=False)
        await mark_running(app, idle.flow_id)
        queued = await run(client, idle, "timer", order="Q")
        withdrawn = await client.post(
            f"/api/executions/{queued}/cancel", headers=idle.account.headers
        )
        assert withdrawn.status_code == 200 and withdrawn.json()["how"] == "never_ran"
        stream = FlowKeys(idle.account.tenant_id, idle.flow_id).triggers
        assert await redis.xlen(stream) == 0
        assert (await execution(client, idle, queued))["status"] == "cancelled"

        stranger = await sign_up(client)
        foreign = await client.post(f"/api/executions/{queued}/cancel", headers=stranger.headers)
        assert foreign.status_code == 404

        # rerun from step 2 of a failed 3-step execution: step 1 is not run again
        broken = await run(client, flow, "steps", order="S")
        failed = await reaches(client, flow, broken, "failed")
        assert [step["listener"] for step in failed["steps"]] == ["first", "second", "third"]
        firsts = len([item for item in sink.requests if item["path"] == "/first"])
        rerun = f"/api/executions/{broken}/rerun"
        missing = await client.post(rerun, json={"from_step": 9}, headers=headers)
        assert missing.status_code == 422 and "from_step" in missing.text
        again = await client.post(rerun, json={"from_step": 2}, headers=headers)
        assert again.status_code == 202, again.text
        redone = await reaches(client, flow, again.json()["execution_id"], "succeeded")
        assert [step["listener"] for step in redone["steps"]] == ["second", "third", "done"]
        assert (redone["rerun_of"], redone["rerun_from_step"]) == (broken, 2)
        assert redone["outputs"][0]["json"] == {"third": "ok"}
        assert len([item for item in sink.requests if item["path"] == "/first"]) == firsts

        # stalled: the pump freezes mid-step; the control plane fails the execution
        stalled_before = await stalled_total(client, app)
        arrived.clear()
        release.clear()
        frozen = await run(client, flow, "steps", order="R")
        await asyncio.wait_for(arrived.wait(), 60)
        [pid] = pump_pids(app, flow.account, flow.flow_id)
        os.kill(pid, signal.SIGSTOP)
        try:
            stalled = await reaches(client, flow, frozen, "failed", within=30)
        finally:
            os.kill(pid, signal.SIGCONT)
            release.set()
        assert stalled["reason"] == "stalled" and "no event" in stalled["error"]
        # (the database is shared with earlier tests: what they left running stalls too)
        assert await stalled_total(client, app) >= stalled_before + 1
