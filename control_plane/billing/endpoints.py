"""/api/billing: the plan, its limits and usage; Checkout, portal and invoices (admins)."""

from __future__ import annotations

from dataclasses import asdict

from fastapi import APIRouter, Request
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.roles import Viewer
from control_plane.billing.models import BillingAccount
from control_plane.billing.plans import tenant_plan, workspace_usage
from control_plane.billing.schemas import BillingOut, LimitsOut, SubscriptionOut, UsageOut
from control_plane.billing.tiers import UPGRADE_URL, tier_limits
from control_plane.db import DatabaseSession
from control_plane.settings import Settings

router = APIRouter(prefix="/billing", tags=["billing"])


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
