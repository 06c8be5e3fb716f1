"""Warm standbys of the process backend: a start hands the flow to an interpreter that has
already imported the pump; the credential travels over a pipe, never in an environment."""

from __future__ import annotations

import os
import signal
from collections.abc import Awaitable, Callable

import httpx
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.pumps.backends import procfs
from control_plane.pumps.backends.process import ProcessBackend
from control_plane.settings import Settings
from pump.keys import PumpEnv
from tests.control_plane.pumps.conftest import fast_pump_settings
from tests.control_plane.pumps.pumps_helpers import (
    create_flow,
    echo_yaml,
    eventually,
    process_backend,
    process_exists,
    pump_environment,
    pump_pids,
    send_trigger,
    sign_up_on,
    stop_every_flow,
    wait_for_completion,
    wait_for_status,
)


def backend_standbys(backend: ProcessBackend) -> Callable[[], Awaitable[list[int]]]:
    async def standbys() -> list[int]:
        return backend.standby_pids()

    return standbys


async def test_api_only_replicas_keep_no_standby(settings: Settings) -> None:
    app: FastAPI = create_app(fast_pump_settings(settings, pump_warm_standby=1))
    async with app.router.lifespan_context(app):
        assert process_backend(app).standby_pids() == []


async def test_a_start_takes_a_warm_standby_and_a_new_one_replaces_it(
    own_database: Settings,
) -> None:
    # whatever earlier tests left in the shared database could take the standby first
    settings = own_database
    app: FastAPI = create_app(
        fast_pump_settings(settings, pump_warm_standby=1, background_tasks=True)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            backend = process_backend(app)
            # flows an earlier test left running would take the standby first
            await stop_every_flow(app)
            [standby] = await eventually(backend_standbys(backend), what="a warm standby")
            assert (await client.get("/health")).json()["checks"]["pumps"]["warm_standbys"] == 1
            owner = await sign_up_on(client, app)
            flow_id = await create_flow(client, owner, echo_yaml("warm"))
            assert (
                await client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
            ).status_code == 202
            await wait_for_status(client, owner, flow_id, status="running", observed="running")

            pids = pump_pids(app, owner, flow_id)
            # the standby's sandbox runs it (in a session of its own: bwrap --new-session)
            assert len(pids) == 1 and pids[0] in dict(procfs.group_members(standby))
            assert PumpEnv.REDIS_URL not in pump_environment(pids[0])
            assert PumpEnv.SECRETS not in pump_environment(pids[0])

            async def replacement() -> list[int]:
                return [pid for pid in backend.standby_pids() if pid != standby]

            [fresh] = await eventually(replacement, what="a replacement standby")
            execution_id = await send_trigger(app, owner.tenant_id, flow_id, {"warm": True})
            assert (
                await wait_for_completion(app, owner.tenant_id, flow_id, execution_id)
            ).type == ("execution.completed")

            # A standby that died is skipped: the next start still works.
            os.killpg(fresh, signal.SIGKILL)
            other = await create_flow(client, owner, echo_yaml("after-dead-standby"))
            assert (
                await client.post(f"/api/flows/{other}/start", headers=owner.headers)
            ).status_code == 202
            await wait_for_status(client, owner, other, status="running", observed="running")
            await stop_every_flow(app)
            standbys = backend.standby_pids()
            assert standbys
    assert not any(process_exists(pid) for pid in standbys)  # shutdown ends the standbys
