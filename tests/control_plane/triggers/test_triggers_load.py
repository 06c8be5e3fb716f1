"""Acceptance: 500 webhooks at concurrency 32 through a real pump, and a pump SIGKILLed in the
middle of the load: every accepted webhook ends as a succeeded execution with its outputs."""

from __future__ import annotations

import asyncio
import os
import signal

from control_plane.pumps.backends import PumpRef
from control_plane.settings import Settings
from tests.control_plane.triggers.load_helpers import (
    executions_by_status,
    outputs_by_id,
    webhook_load,
)
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    make_flow,
    running_app,
    wait_for,
)


async def test_500_webhooks_at_concurrency_32_all_succeed_with_outputs(
    settings: Settings, database_url: str
) -> None:
    async with running_app(app_settings(settings)) as (_, client):
        flow = await make_flow(client)
        duplicates = [
            client.post(flow.webhook_url, json={"dup": True}, headers={"Idempotency-Key": "same"})
            for _ in range(10)
        ]
        load, *repeats = await asyncio.gather(
            webhook_load(client, flow.webhook_url, total=500, concurrency=32), *duplicates
        )
        assert load.refused == {}
        assert len(set(load.accepted.values())) == 500
        assert len({response.json()["execution_id"] for response in repeats}) == 1
        assert sorted(response.status_code for response in repeats) == [200] * 9 + [202]

        await wait_for(
            lambda: executions_by_status(database_url, flow.flow_id),
            lambda counts: counts == {"succeeded": 501},
            within=90,
            interval=0.25,
            what="501 succeeded executions",
        )
        outputs = await outputs_by_id(database_url, flow.flow_id)
        for number, execution_id in load.accepted.items():
            assert outputs[execution_id] == [{"n": number, "echo": {"n": number}}]


async def test_sigkill_of_the_pump_mid_load_loses_no_accepted_webhook(
    own_database: Settings,
) -> None:
    # A database of its own: with the reconciler on, flows earlier tests left would be started
    # beside this one.
    database_url = own_database.database_url
    fast = app_settings(
        own_database,
        reconcile_interval_seconds=0.25,
        pump_restart_backoff_seconds=0.1,
        recorder_claim_idle_seconds=1.0,
    )
    async with running_app(fast) as (app, client):
        flow = await make_flow(client)
        ref = PumpRef(flow.account.tenant_id, flow.flow_id)
        killed: list[int] = []

        async def kill_pump_once(accepted: int) -> None:
            if accepted >= 150 and not killed:  # the first acceptance with a pump up
                for pid in app.state.pumps.backend.pump_pids(ref):
                    os.kill(pid, signal.SIGKILL)
                    killed.append(pid)

        load = await webhook_load(
            client, flow.webhook_url, total=400, concurrency=32, on_accepted=kill_pump_once
        )
        if not killed:
            observed = await app.state.pumps.observe(ref)
            status = await client.get(f"/api/flows/{flow.flow_id}", headers=flow.account.headers)
            raise AssertionError(
                f"no pump to kill: {observed!r}, flow {status.json().get('status')!r}, "
                f"{len(load.accepted)} accepted"
            )
        assert len(load.accepted) >= 150
        accepted = len(load.accepted)
        await wait_for(
            lambda: executions_by_status(database_url, flow.flow_id),
            lambda counts: counts == {"succeeded": accepted},
            within=90,
            interval=0.25,
            what=f"{accepted} succeeded executions",
        )
        restarted = app.state.pumps.backend.pump_pids(ref)
        assert restarted and not set(restarted) & set(killed)
