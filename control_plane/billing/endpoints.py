"""/api/billing: the plan, its limits and usage; Checkout, portal and invoices (admins);
and POST /webhooks/stripe (signed by Stripe, no principal)."""

from __future__ import annotations

from dataclasses import asdict
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Header, Request
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.models import User
from control_plane.accounts.roles import Admin, Viewer
from control_plane.billing.models import BillingAccount
from control_plane.billing.plans import tenant_plan, workspace_usage
from control_plane.billing.runtime import gateway
from control_plane.billing.schemas import (
    BillingOut,
    CheckoutCreate,
    InvoiceOut,
    LimitsOut,
    RedirectOut,
    SubscriptionOut,
    UsageOut,
    WebhookAck,
)
from control_plane.billing.tiers import UPGRADE_URL, tier_limits
from control_plane.billing.webhooks import apply_event, verify
from control_plane.db import DatabaseSession, utcnow
from control_plane.errors import Conflict
from control_plane.settings import Settings

router = APIRouter(prefix="/billing", tags=["billing"])
webhooks = APIRouter(tags=["billing"])


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


@router.get("", response_model=BillingOut, summary="The workspace's plan, limits and usage")
async def get_billing(request: Request, principal: Viewer, session: DatabaseSession) -> BillingOut:
    return await billing_overview(session, principal.tenant_id, settings_of(request))


async def billing_overview(session: AsyncSession, tenant_id: str, settings: Settings) -> BillingOut:
    plan = await tenant_plan(session, tenant_id)
    limits = tier_limits(plan)
    usage = await workspace_usage(session, tenant_id)
    account = await session.get(BillingAccount, tenant_id)
    upgrades: list[str] = []
    if settings.stripe_enabled:
        upgrades = [name for name in ("paid", "pro") if name != plan and plan != "enterprise"]
    return BillingOut(
        plan=plan,
        stripe_enabled=settings.stripe_enabled,
        limits=LimitsOut(
            flows=limits.flows,
            executions_per_month=limits.executions_per_month,
            marketplace_tools=limits.marketplace_tools,
            private_marketplace_tools=limits.private_marketplace_tools,
            marketplace_installs=limits.marketplace_installs,
            wasm_modules=limits.wasm_modules,
            project_memory_bytes=limits.project_memory_bytes,
            team_members=limits.team_members,
            execution_retention_days=limits.execution_retention_days,
            max_queued_per_flow=limits.max_queued_per_flow,
        ),
        usage=UsageOut(**asdict(usage)),
        subscription=(
            SubscriptionOut(
                status=account.subscription_status,
                grace_until=account.grace_until,
                has_customer=account.stripe_customer_id is not None,
            )
            if account is not None
            else None
        ),
        upgrade_plans=upgrades,
        upgrade_url=UPGRADE_URL,
    )


def _base_url(request: Request) -> str:
    return settings_of(request).public_url.rstrip("/") or str(request.base_url).rstrip("/")


async def _customer(session: AsyncSession, request: Request, tenant_id: str, user_id: str) -> str:
    """The workspace's Stripe customer, created (and committed) on first use."""
    account = await session.get(BillingAccount, tenant_id)
    if account is not None and account.stripe_customer_id:
        return account.stripe_customer_id
    email = await session.scalar(select(User.email).where(User.id == user_id))
    customer = await gateway(request.app).create_customer(email or "", tenant_id)
    if account is None:
        account = BillingAccount(tenant_id=tenant_id, updated_at=utcnow())
        session.add(account)
    account.stripe_customer_id = customer
    await session.commit()
    return customer


@router.post(
    "/checkout",
    response_model=RedirectOut,
    summary="Start Stripe Checkout for a plan; send the browser to the answered URL",
    responses={409: {"description": "Conflict: Stripe is not configured (self-hosted)"}},
)
async def checkout(
    body: CheckoutCreate, request: Request, principal: Admin, session: DatabaseSession
) -> RedirectOut:
    stripe = gateway(request.app)
    stripe.price_of(body.plan)  # a clear 409 before anything is created
    customer = await _customer(session, request, principal.tenant_id, principal.user_id)
    base = _base_url(request)
    url = await stripe.checkout_url(
        customer=customer,
        tenant_id=principal.tenant_id,
        plan=body.plan,
        success_url=f"{base}/settings/billing?checkout=success",
        cancel_url=f"{base}/settings/billing?checkout=cancelled",
    )
    return RedirectOut(url=url)


@router.post(
    "/portal",
    response_model=RedirectOut,
    summary="Open Stripe's customer portal (payment method, invoices, cancel)",
)
async def portal(request: Request, principal: Admin, session: DatabaseSession) -> RedirectOut:
    customer = await _existing_customer(session, request, principal.tenant_id)
    url = await gateway(request.app).portal_url(
        customer=customer, return_url=f"{_base_url(request)}/settings/billing"
    )
    return RedirectOut(url=url)


@router.get("/invoices", response_model=list[InvoiceOut], summary="The workspace's invoices")
async def invoices(
    request: Request, principal: Admin, session: DatabaseSession
) -> list[InvoiceOut]:
    if not settings_of(request).stripe_enabled:
        return []
    account = await session.get(BillingAccount, principal.tenant_id)
    if account is None or not account.stripe_customer_id:
        return []
    found = await gateway(request.app).invoices(account.stripe_customer_id)
    return [
        InvoiceOut(
            id=str(item.get("id")),
            number=item.get("number"),
            status=item.get("status"),
            amount_due=int(item.get("amount_due") or 0),
            currency=str(item.get("currency") or "usd"),
            created=datetime.fromtimestamp(int(item.get("created") or 0), UTC),
            hosted_invoice_url=item.get("hosted_invoice_url"),
            invoice_pdf=item.get("invoice_pdf"),
        )
        for item in found
    ]


@webhooks.post(
    "/webhooks/stripe",
    response_model=WebhookAck,
    summary="Stripe events (signed with STRIPE_WEBHOOK_SECRET; each event id applies once)",
    responses={400: {"description": "BadRequest: the signature does not verify"}},
)
async def stripe_webhook(
    request: Request,
    session: DatabaseSession,
    stripe_signature: Annotated[str | None, Header()] = None,
) -> WebhookAck:
    payload = await request.body()
    event = verify(settings_of(request), payload, stripe_signature)
    applied, outcome = await apply_event(request.app, session, gateway(request.app), event)
    return WebhookAck(received=True, duplicate=not applied, applied=outcome)


async def _existing_customer(session: AsyncSession, request: Request, tenant_id: str) -> str:
    gateway(request.app).client  # noqa: B018 - 409 when Stripe is not configured
    account = await session.get(BillingAccount, tenant_id)
    if account is None or not account.stripe_customer_id:
        raise Conflict("this workspace has no Stripe customer yet: upgrade through Checkout first")
    return account.stripe_customer_id
