"""Stripe webhook events: verified with the SDK, applied once per event id, plan changes at
once. Handled: checkout.session.completed, customer.subscription.created|updated|deleted,
invoice.paid and invoice.payment_failed (a grace period, then Free). Other types are
acknowledged and ignored."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.models import Tenant
from control_plane.billing.models import BillingAccount, WebhookEvent
from control_plane.billing.plans import PlanChange, set_plan
from control_plane.billing.stripe_api import StripeGateway
from control_plane.db import utcnow
from control_plane.errors import BadRequest, Conflict
from control_plane.settings import Settings

log = structlog.get_logger("control_plane.billing")

ACTIVE = {"active", "trialing"}
IN_ARREARS = {"past_due", "unpaid"}
ENDED = {"canceled", "incomplete_expired"}
SIGNATURE_TOLERANCE_SECONDS = 300


def verify(settings: Settings, payload: bytes, signature: str | None) -> dict[str, Any]:
    """The event, if `Stripe-Signature` is valid for STRIPE_WEBHOOK_SECRET; else 400."""
    if not settings.stripe_webhook_secret:
        raise Conflict("Stripe webhooks are not configured (STRIPE_WEBHOOK_SECRET)")
    import stripe  # imported on first use: a server without billing does not carry it

    try:
        stripe.WebhookSignature.verify_header(
            payload.decode("utf-8"),
            signature or "",
            settings.stripe_webhook_secret,
            SIGNATURE_TOLERANCE_SECONDS,
        )
        event = json.loads(payload)
    except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as error:
        raise BadRequest(f"the Stripe-Signature header does not verify: {error}") from error
    if not isinstance(event, dict) or not isinstance(event.get("id"), str):
        raise BadRequest("the body is not a Stripe event")
    return event


@dataclass(frozen=True)
class Applied:
    applied: bool  # False: this event id was applied before
    outcome: str | None = None
    over_plan: list[str] = field(default_factory=list)  # flows this event marked over_plan


async def apply_event(
    session: AsyncSession, gateway: StripeGateway, event: dict[str, Any]
) -> Applied:
    """Apply one verified event in `session` (the caller commits, then calls
    `after_plan_change`). An event id already applied changes nothing."""
    if not await record_once(session, f"stripe:{event['id']}", str(event.get("type", ""))):
        return Applied(applied=False)
    kind = str(event.get("type", ""))
    obj: dict[str, Any] = (event.get("data") or {}).get("object") or {}
    handler = HANDLERS.get(kind)
    outcome = await handler(session, gateway, obj) if handler else None
    if isinstance(outcome, PlanChange):
        change = f"plan {outcome.previous} -> {outcome.plan}"
        return Applied(applied=True, outcome=change, over_plan=outcome.over_plan)
    return Applied(applied=True, outcome=outcome)


async def record_once(session: AsyncSession, event_id: str, kind: str) -> bool:
    """Record a webhook event; False when it was recorded before (already applied)."""
    if await session.get(WebhookEvent, event_id) is not None:
        return False
    session.add(WebhookEvent(id=event_id[:255], type=kind[:100]))
    try:
        await session.flush()
    except IntegrityError:  # the same event delivered twice at once: the other one applies it
        await session.rollback()
        return False
    return True


async def _checkout_completed(
    session: AsyncSession, gateway: StripeGateway, obj: dict[str, Any]
) -> PlanChange | str | None:
    metadata = obj.get("metadata") or {}
    tenant_id = metadata.get("workspace_id") or obj.get("client_reference_id")
    plan = metadata.get("plan")
    if not tenant_id or await session.get(Tenant, tenant_id) is None:
        return "ignored: no known workspace_id in the session's metadata"
    account = await _account(session, tenant_id)
    account.stripe_customer_id = obj.get("customer") or account.stripe_customer_id
    account.stripe_subscription_id = obj.get("subscription") or account.stripe_subscription_id
    account.subscription_status, account.grace_until = "active", None
    if plan in ("paid", "pro") and obj.get("status", "complete") == "complete":
        return await set_plan(session, tenant_id, plan)
    return None


async def _subscription_changed(
    session: AsyncSession, gateway: StripeGateway, obj: dict[str, Any]
) -> PlanChange | str | None:
    account = await _account_of(session, obj)
    if account is None:
        return "ignored: unknown customer"
    status = str(obj.get("status") or "")
    account.stripe_subscription_id = obj.get("id") or account.stripe_subscription_id
    account.subscription_status = status
    plan = _subscription_plan(gateway, obj)
    if status in ACTIVE and plan is not None:
        account.grace_until = None
        return await set_plan(session, account.tenant_id, plan)
    if status in IN_ARREARS:
        _start_grace(account, gateway.settings)
        return f"payment overdue: grace until {account.grace_until}"
    if status in ENDED:
        account.grace_until = None
        return await set_plan(session, account.tenant_id, "free")
    return None


async def _subscription_deleted(
    session: AsyncSession, gateway: StripeGateway, obj: dict[str, Any]
) -> PlanChange | str | None:
    account = await _account_of(session, obj)
    if account is None:
        return "ignored: unknown customer"
    account.subscription_status, account.grace_until = "canceled", None
    account.stripe_subscription_id = None
    return await set_plan(session, account.tenant_id, "free")


async def _invoice_paid(
    session: AsyncSession, gateway: StripeGateway, obj: dict[str, Any]
) -> PlanChange | str | None:
    account = await _account_of(session, obj)
    if account is None:
        return "ignored: unknown customer"
    account.grace_until = None
    account.subscription_status = "active"
    return "paid"


async def _invoice_failed(
    session: AsyncSession, gateway: StripeGateway, obj: dict[str, Any]
) -> PlanChange | str | None:
    account = await _account_of(session, obj)
    if account is None:
        return "ignored: unknown customer"
    account.subscription_status = "past_due"
    _start_grace(account, gateway.settings)
    return f"payment failed: grace until {account.grace_until}"


HANDLERS = {
    "checkout.session.completed": _checkout_completed,
    "customer.subscription.created": _subscription_changed,
    "customer.subscription.updated": _subscription_changed,
    "customer.subscription.deleted": _subscription_deleted,
    "invoice.paid": _invoice_paid,
    "invoice.payment_failed": _invoice_failed,
}


async def expire_grace_periods(
    session: AsyncSession, now: datetime | None = None
) -> list[PlanChange]:
    """Workspaces whose grace period after a failed payment ended move to Free (the caller
    commits, then calls `after_plan_change` with their over-plan flows)."""
    now = now or utcnow()
    expired = list(
        await session.scalars(
            select(BillingAccount).where(
                BillingAccount.grace_until.is_not(None), BillingAccount.grace_until <= now
            )
        )
    )
    changes = []
    for account in expired:
        account.grace_until, account.subscription_status = None, "unpaid"
        changes.append(await set_plan(session, account.tenant_id, "free"))
        log.info("billing.grace_expired", tenant_id=account.tenant_id)
    return changes


def after_plan_change(app: FastAPI, over_plan: list[str]) -> None:
    """Once the change is committed: the trigger path forgets the flows just marked over_plan
    and the reconciler runs a pass at once, stopping their pumps (their desired state is
    `stopped`). Stopping them inline would hold the webhook for each pump's drain."""
    if not over_plan:
        return
    triggers = getattr(app.state, "triggers", None)
    if triggers is not None:
        for flow_id in over_plan:
            triggers.catalog.invalidate(flow_id)
    reconciler = getattr(app.state, "reconciler", None)
    if reconciler is not None:
        reconciler.kick()


def _start_grace(account: BillingAccount, settings: Settings) -> None:
    if account.grace_until is None:
        account.grace_until = utcnow() + timedelta(hours=settings.billing_grace_period_hours)


def _subscription_plan(gateway: StripeGateway, obj: dict[str, Any]) -> str | None:
    items = ((obj.get("items") or {}).get("data")) or []
    for item in items:
        plan = gateway.plan_of_price(((item or {}).get("price") or {}).get("id"))
        if plan is not None:
            return plan
    metadata_plan = (obj.get("metadata") or {}).get("plan")
    return metadata_plan if metadata_plan in ("paid", "pro") else None


async def _account(session: AsyncSession, tenant_id: str) -> BillingAccount:
    account = await session.get(BillingAccount, tenant_id)
    if account is None:
        account = BillingAccount(tenant_id=tenant_id, updated_at=utcnow())
        session.add(account)
    account.updated_at = utcnow()
    return account


async def _account_of(session: AsyncSession, obj: dict[str, Any]) -> BillingAccount | None:
    customer = obj.get("customer")
    account = None
    if isinstance(customer, str):
        account = await session.scalar(
            select(BillingAccount).where(BillingAccount.stripe_customer_id == customer)
        )
    tenant_id = (obj.get("metadata") or {}).get("workspace_id")
    if account is None and tenant_id and await session.get(Tenant, tenant_id) is not None:
        account = await _account(session, tenant_id)
        account.stripe_customer_id = customer if isinstance(customer, str) else None
    if account is not None:
        account.updated_at = utcnow()
    return account
