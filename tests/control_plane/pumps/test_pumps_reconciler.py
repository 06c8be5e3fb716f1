"""The reconciler with real pumps: crashes, give-up, control-plane restarts, scale to zero,
deleted flows and leadership."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import httpx
import pytest
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.errors import Conflict
from control_plane.flows.models import Flow
from control_plane.pumps.backends import PumpRef
from control_plane.pumps.models import PumpRun
from control_plane.pumps.service import ensure_accepting
from control_plane.settings import Settings
from pump.keys import FlowKeys, acl_username
from tests.control_plane.accounts.accounts_helpers import Account, count_rows, sessions
from tests.control_plane.pumps.conftest import fast_pump_settings
from tests.control_plane.pumps.pumps_helpers import (
    create_flow,
    echo_yaml,
    eventually,
    process_backend,
    process_exists,
    pump_pids,
    send_trigger,
    sign_up_on,
    stop_every_flow,
    stored_flow,
    wait_for_completion,
    wait_for_status,
)


@asynccontextmanager
async def running_app(
    settings: Settings, *, stop_flows: bool = True
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            try:
                yield app, client
            finally:
                if stop_flows:
                    await stop_every_flow(app)


@pytest.fixture
def reconciling(settings: Settings) -> Settings:
    return fast_pump_settings(settings, background_tasks=True)


def cleaned_up(app: FastAPI, tenant_id: str, flow_id: str) -> Callable[[], Awaitable[bool]]:
    """No pump process and no Redis user left for the flow (the reconciler records a state
    change first, then stops the pump and deletes its user)."""

    async def probe() -> bool:
        user = await app.state.redis.client.acl_getuser(acl_username(tenant_id, flow_id))
        return user is None and not process_backend(app).pump_pids(PumpRef(tenant_id, flow_id))

    return probe


async def running_flow(
    app: FastAPI, client: httpx.AsyncClient, name: str
) -> tuple[Account, str, int]:
    """A new account's flow, started and serving: (owner, flow id, its pump's pid)."""
    owner = await sign_up_on(client, app)
    flow_id = await create_flow(client, owner, echo_yaml(name))
    await client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    await wait_for_status(client, owner, flow_id, status="running", observed="running")
    [pid] = pump_pids(app, owner, flow_id)
    return owner, flow_id, pid


async def generation(app: FastAPI, flow_id: str) -> int:
    async with sessions(app)() as session:
        run = await session.get(PumpRun, flow_id)
        return run.generation if run is not None else 0


async def test_a_killed_pump_is_restarted_and_serves_again(reconciling: Settings) -> None:
    async with running_app(reconciling) as (app, client):
        owner, flow_id, first = await running_flow(app, client, "phoenix")
        os.kill(first, signal.SIGKILL)

        async def replaced() -> list[int]:
            pids = pump_pids(app, owner, flow_id)
            return pids if pids and pids != [first] else []

        await eventually(replaced, what="a new pump process")
        status = await wait_for_status(client, owner, flow_id, status="running", observed="running")
        assert status["restarts"]["crashes"] == 1
        assert "SIGKILL" in status["restarts"]["last_exit"]
        assert await generation(app, flow_id) == 2
        execution_id = await send_trigger(app, owner.tenant_id, flow_id, {"after": "restart"})
        finished = await wait_for_completion(app, owner.tenant_id, flow_id, execution_id)
        assert finished.type == "execution.completed"


async def test_a_flow_started_after_a_pass_read_its_state_keeps_its_pump(
    reconciling: Settings,
) -> None:
    """A pass reads the runs, then the running flows: a start committed between the reads
    showed its new run as an orphan (a run without a running flow), and the pass halted the
    pump it had just started. Here the pass's step is called as it was."""
    async with running_app(reconciling) as (app, client):
        owner, flow_id, pid = await running_flow(app, client, "fresh")
        async with sessions(app)() as session:
            run = await session.get(PumpRun, flow_id)
        assert run is not None
        await app.state.reconciler.remove_orphan(run)
        assert pump_pids(app, owner, flow_id) == [pid], "the running flow's pump was halted"
        assert await generation(app, flow_id) == run.generation


async def test_a_crash_looping_pump_puts_the_flow_in_error_with_its_last_words(
    reconciling: Settings,
) -> None:
    starving = reconciling.model_copy(
        update={"pump_address_space_bytes": 30 * 1024 * 1024, "pump_crash_limit": 3}
    )
    async with running_app(starving) as (app, client):
        owner = await sign_up_on(client, app)
        flow_id = await create_flow(client, owner, echo_yaml("doomed"))
        await client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
        status = await wait_for_status(client, owner, flow_id, status="error")
        assert status["desired"] == "running"
        assert status["reason"].startswith(
            "the pump crashed 3 times within 600 s; last exit: exit code 1"
        )
        assert "Error" in status["reason"]  # the last line: MemoryError, ImportError (mmap)
        assert status["observed"] in ("stopped", "exited")
        await eventually(
            cleaned_up(app, owner.tenant_id, flow_id), what="the pump and its Redis user to go"
        )

        flow = await stored_flow(app, flow_id)
        async with sessions(app)() as session:
            with pytest.raises(
                Conflict, match="flow 'doomed' is in error and not running: the pump crashed"
            ):
                await ensure_accepting(app, session, flow)


async def test_flows_start_again_after_the_control_plane_restarts(reconciling: Settings) -> None:
    async with running_app(reconciling, stop_flows=False) as (app, client):
        owner, flow_id, before = await running_flow(app, client, "durable")
        stale_trigger = await send_trigger(app, owner.tenant_id, flow_id, {"n": 1})
        await wait_for_completion(app, owner.tenant_id, flow_id, stale_trigger)
    assert not process_exists(before)  # drained and stopped with its control plane

    async with running_app(reconciling) as (app, client):
        status = await wait_for_status(client, owner, flow_id, status="running", observed="running")
        assert status["restarts"] is None  # a restart of the control plane is not a crash
        [after] = pump_pids(app, owner, flow_id)
        assert after != before
        assert await generation(app, flow_id) == 2
        execution_id = await send_trigger(app, owner.tenant_id, flow_id, {"n": 2})
        await wait_for_completion(app, owner.tenant_id, flow_id, execution_id)


async def test_an_idle_flow_scales_to_zero_and_a_trigger_wakes_it(reconciling: Settings) -> None:
    idle_quickly = reconciling.model_copy(update={"pump_idle_stop_seconds": 1})
    async with running_app(idle_quickly) as (app, client):
        owner = await sign_up_on(client, app)
        flow_id = await create_flow(client, owner, echo_yaml("sleepy"))
        await client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
        await wait_for_status(client, owner, flow_id, status="running", observed="running")

        status = await wait_for_status(client, owner, flow_id, status="idle", observed="stopped")
        assert status["desired"] == "running"
        await eventually(
            cleaned_up(app, owner.tenant_id, flow_id), what="the pump and its Redis user to go"
        )

        async with sessions(app)() as session:
            flow = await session.get(Flow, flow_id)
            assert flow is not None
            await ensure_accepting(app, session, flow)  # wakes it, without waiting
            assert flow.status == "starting"
            await ensure_accepting(app, session, flow)  # a second trigger does not start another
            await session.commit()
        execution_id = await send_trigger(app, owner.tenant_id, flow_id, {"wake": "up"})
        finished = await wait_for_completion(app, owner.tenant_id, flow_id, execution_id)
        assert finished.type == "execution.completed"
        assert len(pump_pids(app, owner, flow_id)) == 1
        await wait_for_status(client, owner, flow_id, status="running", observed="running")


async def test_a_trigger_waiting_for_an_idle_flow_wakes_it_even_without_ensure_accepting(
    reconciling: Settings,
) -> None:
    async with running_app(reconciling.model_copy(update={"pump_idle_stop_seconds": 1})) as (
        app,
        client,
    ):
        owner = await sign_up_on(client, app)
        flow_id = await create_flow(client, owner, echo_yaml("lost-wakeup"))
        await client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
        await wait_for_status(client, owner, flow_id, status="idle", observed="stopped")
        execution_id = await send_trigger(app, owner.tenant_id, flow_id, {"late": True})
        await wait_for_completion(app, owner.tenant_id, flow_id, execution_id)


async def test_stopped_flows_refuse_triggers(reconciling: Settings) -> None:
    async with running_app(reconciling) as (app, client):
        owner = await sign_up_on(client, app)
        flow_id = await create_flow(client, owner, echo_yaml("resting"))
        flow = await stored_flow(app, flow_id)
        async with sessions(app)() as session:
            with pytest.raises(
                Conflict, match="flow 'resting' is stopped: start it before sending triggers"
            ):
                await ensure_accepting(app, session, flow)


async def test_deleting_a_running_flow_removes_its_pump_and_credential(
    reconciling: Settings,
) -> None:
    async with running_app(reconciling) as (app, client):
        owner, flow_id, pid = await running_flow(app, client, "doomed-flow")
        assert (
            await client.delete(f"/api/flows/{flow_id}", headers=owner.headers)
        ).status_code == 204

        redis = app.state.redis.client
        user = acl_username(owner.tenant_id, flow_id)

        async def gone() -> bool:
            return (
                not process_exists(pid)
                and await count_rows(app, PumpRun, PumpRun.flow_id == flow_id) == 0
                and await redis.acl_getuser(user) is None
                and await redis.exists(FlowKeys(owner.tenant_id, flow_id).heartbeat) == 0
            )

        await eventually(gone, what="the deleted flow's pump, Redis user and heartbeat to go")


async def test_one_reconciler_leads_among_replicas(reconciling: Settings) -> None:
    async with (
        running_app(reconciling) as (_first, first_client),
        running_app(reconciling) as (_second, second_client),
    ):

        async def leaders() -> list[bool] | None:
            flags = [
                (await client.get("/health")).json()["checks"]["pumps"]["reconciler"]
                for client in (first_client, second_client)
            ]
            if all(flag["passes"] + (0 if flag["leader"] else 1) > 0 for flag in flags):
                return [flag["leader"] for flag in flags]
            return None

        assert sorted(await eventually(leaders, what="a leader")) == [False, True]
