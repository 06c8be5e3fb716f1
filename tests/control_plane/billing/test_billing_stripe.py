"""Stripe billing against a local stand-in of the Stripe API over real HTTP, with the real
`stripe` SDK and webhook events signed with Stripe's scheme."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from control_plane.billing.models import BillingAccount, UsageReport
from control_plane.billing.overage import plan_reports, send_reports
from control_plane.billing.runtime import billing_round, gateway
from control_plane.billing.webhooks import expire_grace_periods
from control_plane.db import utcnow
from control_plane.executions.models import ExecutionCounter
from control_plane.executions.storage import month_key
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account, sessions, set_tier, sign_up
from tests.control_plane.billing.billing_helpers import StripeWorld, stripe_world
from tests.control_plane.triggers.triggers_helpers import echo_yaml, make_flow, mark_running
from tests.standins.stripe_standin import sign


async def _billing(world: StripeWorld, account: Account) -> dict:  # type: ignore[type-arg]
    response = await world.client.get("/api/billing", headers=account.headers)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def _upgrade(world: StripeWorld, account: Account, plan: str) -> None:
    started = await world.client.post(
        "/api/billing/checkout", json={"plan": plan}, headers=account.headers
    )
    assert started.status_code == 200, started.text
    session_id = started.json()["url"].rsplit("/", 1)[1]
    await world.stripe.complete_checkout(session_id)


async def test_checkout_upgrade_portal_and_invoices(settings: Settings) -> None:
    async with stripe_world(settings) as world:
        account = await sign_up(world.client)
        before = await _billing(world, account)
        assert before["plan"] == "free" and before["stripe_enabled"] is True
        assert before["upgrade_plans"] == ["paid", "pro"]
        await world.client.post("/api/flows", json={"name": "one"}, headers=account.headers)
        second = await world.client.post(
            "/api/flows", json={"name": "two"}, headers=account.headers
        )
        assert second.status_code == 402 and second.json()["upgrade_url"] == "/settings/billing"

        started = await world.client.post(
            "/api/billing/checkout", json={"plan": "paid"}, headers=account.headers
        )
        url = started.json()["url"]
        assert url.startswith(world.stripe.url + "/checkout/cs_")
        session = world.stripe.sessions[url.rsplit("/", 1)[1]]
        assert session["mode"] == "subscription"
        assert session["metadata"] == {"workspace_id": account.tenant_id, "plan": "paid"}
        assert session["line_items"] == [{"price": "price_paid_standin", "quantity": "1"}]
        assert (await _billing(world, account))["plan"] == "free", "not before the webhook"

        await world.stripe.complete_checkout(session["id"])
        after = await _billing(world, account)
        assert after["plan"] == "paid" and after["subscription"]["status"] == "active"
        third = await world.client.post("/api/flows", json={"name": "two"}, headers=account.headers)
        assert third.status_code == 201

        portal = await world.client.post("/api/billing/portal", headers=account.headers)
        assert portal.json()["url"].startswith(world.stripe.url + "/portal/")
        invoices = (await world.client.get("/api/billing/invoices", headers=account.headers)).json()
        assert [invoice["status"] for invoice in invoices] == ["paid"]
        assert invoices[0]["amount_due"] == 2900


async def test_bad_signatures_change_nothing_and_events_apply_once(settings: Settings) -> None:
    async with stripe_world(settings) as world:
        account = await sign_up(world.client)
        await _upgrade(world, account, "pro")
        assert (await _billing(world, account))["plan"] == "pro"
        customer = world.stripe.sessions[next(iter(world.stripe.sessions))]["customer"]
        payload, signature = world.stripe.event(
            "customer.subscription.deleted", {"id": "sub_x", "customer": customer}
        )
        forged = sign(payload, "whsec_someone_else")
        for header in (forged, "", "t=1,v1=00"):
            refused = await world.client.post(
                "/webhooks/stripe", content=payload, headers={"Stripe-Signature": header}
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["error"] == "BadRequest"
        assert (await _billing(world, account))["plan"] == "pro"

        assert await world.stripe.post(payload, signature) == 200
        assert (await _billing(world, account))["plan"] == "free"
        await set_tier(world.app, account.tenant_id, "pro")
        replay = await world.client.post(
            "/webhooks/stripe", content=payload, headers={"Stripe-Signature": signature}
        )
        assert replay.status_code == 200 and replay.json()["duplicate"] is True
        assert (await _billing(world, account))["plan"] == "pro", "the same event applies once"


async def test_downgrade_stops_and_marks_extra_flows(settings: Settings) -> None:
    async with stripe_world(settings) as world:
        account = await sign_up(world.client)
        await _upgrade(world, account, "paid")
        flows = [
            await make_flow(world.client, echo_yaml(f"echo-{index}"), account=account, start=False)
            for index in range(3)
        ]
        for flow in flows:
            await mark_running(world.app, flow.flow_id)
        subscription = next(iter(world.stripe.subscriptions.values()))
        await world.stripe.send("customer.subscription.deleted", subscription)
        billing = await _billing(world, account)
        assert billing["plan"] == "free" and billing["usage"]["over_plan_flows"] == 2
        listed = {
            flow["id"]: flow
            for flow in (await world.client.get("/api/flows", headers=account.headers)).json()
        }
        assert listed[flows[0].flow_id]["status"] == "running", "the oldest flow keeps running"
        for flow in flows[1:]:
            assert listed[flow.flow_id]["status"] == "over_plan"
            refused = await world.client.post(flow.webhook_url, json={"x": 1})
            assert refused.status_code == 402, refused.text
            assert "over the workspace's plan" in refused.json()["detail"]
            assert refused.json()["upgrade_url"] == "/settings/billing"
        readable = await world.client.get(f"/api/flows/{flows[1].flow_id}", headers=account.headers)
        assert readable.status_code == 200


async def test_failed_payment_downgrades_after_the_grace_period(settings: Settings) -> None:
    async with stripe_world(settings) as world:
        account = await sign_up(world.client)
        await _upgrade(world, account, "paid")
        invoice = next(iter(world.stripe.invoices.values()))
        assert await world.stripe.send("invoice.payment_failed", invoice) == 200
        billing = await _billing(world, account)
        assert billing["plan"] == "paid" and billing["subscription"]["status"] == "past_due"
        assert billing["subscription"]["grace_until"] is not None
        async with sessions(world.app)() as session, session.begin():
            assert await expire_grace_periods(world.app, session) == []  # not yet
            later = utcnow() + timedelta(hours=1, seconds=1)
            assert await expire_grace_periods(world.app, session, later) == [account.tenant_id]
        billing = await _billing(world, account)
        assert billing["plan"] == "free" and billing["subscription"]["grace_until"] is None


async def test_pro_overage_is_reported_once_even_when_retried(settings: Settings) -> None:
    async with stripe_world(settings) as world:
        account = await sign_up(world.client)
        await _upgrade(world, account, "pro")
        async with sessions(world.app)() as session, session.begin():
            session.add(
                ExecutionCounter(
                    flow_id=account.tenant_id,
                    tenant_id=account.tenant_id,
                    month=month_key(utcnow()),
                    executions=100_007,
                )
            )
        # Pro is not capped at its included executions: they are billed.
        flow = await make_flow(world.client, account=account, start=False)
        await mark_running(world.app, flow.flow_id)

        await billing_round(world.app)
        await billing_round(world.app)  # nothing new: nothing sent
        assert [event["payload"]["value"] for event in world.stripe.meter_events.values()] == ["7"]
        customer = next(iter(world.stripe.customers))
        assert next(iter(world.stripe.meter_events.values()))["payload"] == {
            "stripe_customer_id": customer,
            "value": "7",
        }

        # A crash between sending and marking sent: the retry sends the same identifier.
        async with sessions(world.app)() as session, session.begin():
            counter = await session.get(ExecutionCounter, (account.tenant_id, month_key(utcnow())))
            assert counter is not None
            counter.executions += 5
        async with sessions(world.app)() as session, session.begin():
            assert await plan_reports(session) == 1
        report_id = f"{account.tenant_id}-{month_key(utcnow())}-12"
        await gateway(world.app).report_usage(
            identifier=report_id, customer=customer, quantity=5, timestamp=0
        )  # sent, but the process died before recording it
        async with sessions(world.app)() as session:
            assert await send_reports(session, gateway(world.app)) == (1, 0)
        assert world.stripe.meter_requests == 3
        assert sorted(
            int(event["payload"]["value"]) for event in world.stripe.meter_events.values()
        ) == [5, 7]
        async with sessions(world.app)() as session:
            reports = list(await session.scalars(select(UsageReport)))
            assert {(report.quantity, report.through) for report in reports} == {(7, 7), (5, 12)}
            assert all(report.sent_at is not None for report in reports)
            account_row = await session.get(BillingAccount, account.tenant_id)
            assert account_row is not None and account_row.stripe_customer_id == customer


async def test_without_stripe_checkout_is_a_clear_409(client, app) -> None:  # type: ignore[no-untyped-def]
    account = await sign_up(client)
    refused = await client.post(
        "/api/billing/checkout", json={"plan": "paid"}, headers=account.headers
    )
    assert refused.status_code == 409 and "self-hosted" in refused.json()["detail"]
    assert (await client.get("/api/billing/invoices", headers=account.headers)).json() == []
    bad_plan = await client.post(
        "/api/billing/checkout", json={"plan": "gold"}, headers=account.headers
    )
    assert bad_plan.status_code == 422 and bad_plan.json()["problems"][0]["path"] == "body.plan"
