"""Plans without Stripe: self-hosted by default (no paywall), `flowplane admin set-plan`,
GET /api/billing, over-plan flows after a downgrade, and usage that never goes down."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from control_plane.billing.admin import set_plan_command
from control_plane.db import new_id, utcnow
from control_plane.executions.models import ExecutionCounter
from control_plane.executions.storage import month_key
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import sessions, sign_up
from tests.control_plane.flows.flows_helpers import create_flow, hello_yaml


async def test_self_hosted_default_has_no_paywall(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    for index in range(3):
        await create_flow(client, account, organism_yaml=hello_yaml(f"flow-{index}"))
    billing = (await client.get("/api/billing", headers=account.headers)).json()
    assert billing["plan"] == "self-hosted" and billing["stripe_enabled"] is False
    assert billing["limits"]["flows"] is None
    assert billing["limits"]["executions_per_month"] is None
    assert billing["usage"]["flows"] == 3 and billing["usage"]["team_members"] == 1
    assert billing["upgrade_plans"] == [] and billing["subscription"] is None
    assert (await client.get("/api/billing")).status_code == 401


async def test_set_plan_downgrade_marks_extra_flows_over_plan(
    client: httpx.AsyncClient, app: FastAPI, settings: Settings
) -> None:
    account = await sign_up(client)
    flows = [
        await create_flow(client, account, organism_yaml=hello_yaml(f"flow-{index}"))
        for index in range(3)
    ]
    code, message = await set_plan_command(settings, account.email, "free")
    assert code == 0 and "self-hosted -> free" in message and "2 flow(s)" in message
    listed = {
        flow["id"]: flow
        for flow in (await client.get("/api/flows", headers=account.headers)).json()
    }
    assert listed[flows[0]["id"]]["status"] == "stopped"
    for flow in flows[1:]:
        over = listed[flow["id"]]
        assert over["status"] == "over_plan" and "free plan allows 1 flow" in over["status_reason"]
    billing = (await client.get("/api/billing", headers=account.headers)).json()
    assert billing["plan"] == "free" and billing["usage"]["over_plan_flows"] == 2

    # Readable but neither startable nor runnable, with a clear reason.
    over_id = flows[1]["id"]
    started = await client.post(f"/api/flows/{over_id}/start", headers=account.headers)
    assert started.status_code == 402, started.text
    assert (
        started.json()["quota"] == "flows"
        and "over the workspace's plan" in started.json()["detail"]
    )
    run = await client.post(f"/api/triggers/{over_id}/inject", json={}, headers=account.headers)
    assert run.status_code == 402 and run.json()["upgrade_url"] == "/settings/billing"

    # Deleting the runnable flow makes room for the oldest over-plan one.
    deleted = await client.delete(f"/api/flows/{flows[0]['id']}", headers=account.headers)
    assert deleted.status_code == 204
    listed = {
        flow["id"]: flow
        for flow in (await client.get("/api/flows", headers=account.headers)).json()
    }
    assert listed[flows[1]["id"]]["status"] == "stopped"
    assert listed[flows[2]["id"]]["status"] == "over_plan"

    # Upgrading releases every flow at once.
    code, message = await set_plan_command(settings, account.email, "pro")
    assert code == 0 and "1 flow(s) may run again" in message
    statuses = {
        flow["status"] for flow in (await client.get("/api/flows", headers=account.headers)).json()
    }
    assert statuses == {"stopped"}


async def test_set_plan_refuses_unknown_plans_and_users(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    account = await sign_up(client)
    code, message = await set_plan_command(settings, account.email, "platinum")
    assert code == 1 and "unknown plan 'platinum'" in message
    code, message = await set_plan_command(settings, "nobody@example.com", "pro")
    assert code == 1 and "no user with email nobody@example.com" in message


async def test_monthly_executions_survive_flow_deletion(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    flow = await create_flow(client, account, organism_yaml=hello_yaml("counted"))
    async with sessions(app)() as session, session.begin():
        session.add_all(
            [
                ExecutionCounter(
                    flow_id=flow["id"],
                    tenant_id=account.tenant_id,
                    month=month_key(utcnow()),
                    executions=7,
                ),
                ExecutionCounter(
                    flow_id=new_id(),
                    tenant_id=account.tenant_id,
                    month="2000-01",  # another month does not count
                    executions=100,
                ),
            ]
        )
    before = (await client.get("/api/billing", headers=account.headers)).json()["usage"]
    assert before["executions_this_month"] == 7
    await client.delete(f"/api/flows/{flow['id']}", headers=account.headers)
    after = (await client.get("/api/billing", headers=account.headers)).json()["usage"]
    assert after["executions_this_month"] == 7 and after["flows"] == 0
