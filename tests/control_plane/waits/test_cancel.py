"""Cancel in each state: a queued execution never runs, a running one is stopped by its pump
(the in-flight HTTP request aborted), a waiting one is closed; an ended one is a conflict."""

from __future__ import annotations

import asyncio

from aiohttp import web

from control_plane.settings import Settings
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import sign_up
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


async def test_cancel_in_each_state(settings: Settings) -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        arrived.set()
        await asyncio.wait_for(release.wait(), 60)
        return web.json_response({})

    async with (
        serve([web.post("/first", slow)]) as sink,
        waits_app(wait_settings(settings)) as (app, client),
    ):
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
