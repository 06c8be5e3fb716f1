"""A workspace's plan and usage, and plan changes (Stripe webhooks, `flowplane admin
set-plan`). A plan whose flow limit is below the workspace's flows marks the newest extra flows
`over_plan`: stopped, readable, not runnable, never deleted, until an upgrade or a deletion
makes room again."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.models import Membership, Tenant, User
from control_plane.billing.tiers import SELF_HOSTED, TIERS, TierLimits, is_tier, tier_limits
from control_plane.db import utcnow
from control_plane.errors import InvalidInput, NotFound
from control_plane.executions.models import ExecutionCounter
from control_plane.executions.storage import month_key
from control_plane.flows.models import Flow
from control_plane.modules.models import Module

log = structlog.get_logger("control_plane.billing")

OVER_PLAN = "over_plan"


@dataclass(frozen=True)
class Usage:
    month: str
    flows: int
    executions_this_month: int
    wasm_modules: int
    team_members: int
    over_plan_flows: int


@dataclass(frozen=True)
class PlanChange:
    tenant_id: str
    previous: str
    plan: str
    over_plan: list[str]  # flows marked over_plan by this change
    released: list[str]  # flows no longer over_plan


async def workspace_usage(session: AsyncSession, tenant_id: str) -> Usage:
    month = month_key(utcnow())
    flows = await _count(session, select(func.count()).where(Flow.tenant_id == tenant_id))
    over = await _count(
        session,
        select(func.count()).where(Flow.tenant_id == tenant_id, Flow.status == OVER_PLAN),
    )
    executions = await _count(
        session,
        select(func.coalesce(func.sum(ExecutionCounter.executions), 0)).where(
            ExecutionCounter.tenant_id == tenant_id, ExecutionCounter.month == month
        ),
    )
    modules = await _count(session, select(func.count()).where(Module.tenant_id == tenant_id))
    members = await _count(session, select(func.count()).where(Membership.tenant_id == tenant_id))
    return Usage(
        month=month,
        flows=flows,
        executions_this_month=executions,
        wasm_modules=modules,
        team_members=members,
        over_plan_flows=over,
    )


async def executions_this_month(session: AsyncSession, tenant_id: str) -> int:
    """Executions admitted this UTC month: counters are only ever added to, and survive the
    deletion of their flow, so this never goes down within a month."""
    return await _count(
        session,
        select(func.coalesce(func.sum(ExecutionCounter.executions), 0)).where(
            ExecutionCounter.tenant_id == tenant_id,
            ExecutionCounter.month == month_key(utcnow()),
        ),
    )


async def tenant_plan(session: AsyncSession, tenant_id: str) -> str:
    plan = await session.scalar(select(Tenant.tier).where(Tenant.id == tenant_id))
    if plan is None:
        raise NotFound(f"workspace {tenant_id} not found")
    return plan


async def set_plan(session: AsyncSession, tenant_id: str, plan: str) -> PlanChange:
    """Move a workspace to `plan` at once and mark or release its over-plan flows. Pumps of
    flows marked here are stopped by the reconciler (their desired state is `stopped`); the
    webhook stops them at once as well."""
    if not is_tier(plan):
        problem = {
            "path": "plan",
            "message": f"unknown plan {plan!r}; plans are {', '.join(TIERS)}",
        }
        raise InvalidInput(f"plan: {problem['message']}", [problem])
    tenant = await session.get(Tenant, tenant_id, with_for_update=True)
    if tenant is None:
        raise NotFound(f"workspace {tenant_id} not found")
    previous, tenant.tier = tenant.tier, plan
    marked, released = await rebalance_flows(session, tenant_id, tier_limits(plan), plan)
    await session.flush()
    if previous != plan:
        log.info("billing.plan_changed", tenant_id=tenant_id, previous=previous, plan=plan)
    return PlanChange(tenant_id, previous, plan, marked, released)


async def rebalance_flows(
    session: AsyncSession, tenant_id: str, limits: TierLimits, plan: str
) -> tuple[list[str], list[str]]:
    """Keep the oldest `limits.flows` flows runnable; mark the rest over_plan."""
    flows = list(
        await session.scalars(
            select(Flow).where(Flow.tenant_id == tenant_id).order_by(Flow.created_at, Flow.id)
        )
    )
    allowed = len(flows) if limits.flows is None else limits.flows
    marked: list[str] = []
    released: list[str] = []
    for index, flow in enumerate(flows):
        if index >= allowed and flow.status != OVER_PLAN:
            flow.desired_state, flow.status = "stopped", OVER_PLAN
            flow.status_reason = (
                f"the {plan} plan allows {allowed} flow{'s' if allowed != 1 else ''}: this flow "
                "is kept but cannot run; upgrade, or delete flows to make room"
            )
            marked.append(flow.id)
        elif index < allowed and flow.status == OVER_PLAN:
            flow.status, flow.status_reason = "stopped", None
            released.append(flow.id)
    return marked, released


async def release_after_delete(session: AsyncSession, tenant_id: str) -> list[str]:
    """After a flow is deleted: over-plan flows that now fit the plan become runnable."""
    plan = await tenant_plan(session, tenant_id)
    _, released = await rebalance_flows(session, tenant_id, tier_limits(plan), plan)
    return released


async def set_plan_by_email(session: AsyncSession, email: str, plan: str) -> PlanChange:
    """`flowplane admin set-plan EMAIL PLAN`: the plan of the user's personal workspace."""
    user = await session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no user with email {email}")
    tenant_id = await session.scalar(
        select(Membership.tenant_id)
        .where(Membership.user_id == user.id, Membership.role == "owner")
        .order_by(Membership.created_at, Membership.tenant_id)
        .limit(1)
    )
    if tenant_id is None:
        raise NotFound(f"{email} owns no workspace")
    return await set_plan(session, tenant_id, plan)


def new_workspace_plan(stripe_enabled: bool) -> str:
    return "free" if stripe_enabled else SELF_HOSTED


async def _count(session: AsyncSession, query: object) -> int:
    return int(await session.scalar(query) or 0)  # type: ignore[call-overload]
