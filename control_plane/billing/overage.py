"""Pro's executions beyond the included amount, reported to Stripe as meter events.

Two steps, each committed: (1) for every Pro workspace with a Stripe customer, the overage
not yet reported becomes a `usage_reports` row whose id is deterministic
(`<workspace>-<month>-<through>`); (2) every row not yet marked sent is sent as a meter event
with that id as its `identifier` (and idempotency key), then marked sent. A crash or error
between send and mark leaves the row unsent; the next round sends the same identifier again
and Stripe counts it once. So every execution batch is billed exactly once."""

from __future__ import annotations

from dataclasses import dataclass

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.accounts.models import Tenant
from control_plane.billing.models import BillingAccount, UsageReport
from control_plane.billing.plans import executions_this_month
from control_plane.billing.stripe_api import StripeGateway
from control_plane.billing.tiers import TIER_LIMITS, tier_limits
from control_plane.db import utcnow
from control_plane.errors import ControlPlaneError
from control_plane.executions.storage import month_key

log = structlog.get_logger("control_plane.billing")


@dataclass(frozen=True)
class OverageRound:
    planned: int  # new reports written
    sent: int  # reports sent to Stripe (new and retried)
    failed: int


async def plan_reports(session: AsyncSession) -> int:
    """Write a report row for each metered workspace's overage not yet reported."""
    metered = [plan for plan, limits in TIER_LIMITS.items() if limits.metered_overage]
    rows = await session.execute(
        select(Tenant.id, Tenant.tier, BillingAccount.stripe_customer_id)
        .join(BillingAccount, BillingAccount.tenant_id == Tenant.id)
        .where(Tenant.tier.in_(metered), BillingAccount.stripe_customer_id.is_not(None))
    )
    month = month_key(utcnow())
    planned = 0
    for tenant_id, plan, customer in rows.all():
        included = tier_limits(plan).executions_per_month or 0
        overage = max(0, await executions_this_month(session, tenant_id) - included)
        reported = int(
            await session.scalar(
                select(func.coalesce(func.max(UsageReport.through), 0)).where(
                    UsageReport.tenant_id == tenant_id, UsageReport.month == month
                )
            )
            or 0
        )
        if overage > reported:
            session.add(
                UsageReport(
                    id=f"{tenant_id}-{month}-{overage}",
                    tenant_id=tenant_id,
                    month=month,
                    quantity=overage - reported,
                    through=overage,
                    stripe_customer_id=customer,
                    created_at=utcnow(),
                )
            )
            planned += 1
    await session.flush()
    return planned


async def send_reports(session: AsyncSession, gateway: StripeGateway) -> tuple[int, int]:
    """Send every unsent report; (sent, failed). Committed report by report."""
    pending = list(
        await session.scalars(
            select(UsageReport)
            .where(UsageReport.sent_at.is_(None))
            .order_by(UsageReport.created_at, UsageReport.id)
        )
    )
    sent = failed = 0
    for report in pending:
        try:
            await gateway.report_usage(
                identifier=report.id,
                customer=report.stripe_customer_id,
                quantity=report.quantity,
                timestamp=int(report.created_at.timestamp()),
            )
        except ControlPlaneError as error:
            failed += 1
            log.warning("billing.usage_report_failed", report=report.id, error=error.detail)
            continue
        report.sent_at = utcnow()
        await session.commit()
        sent += 1
    return sent, failed


async def report_overage(
    sessions: async_sessionmaker[AsyncSession], gateway: StripeGateway
) -> OverageRound:
    async with sessions() as session, session.begin():
        planned = await plan_reports(session)
    async with sessions() as session:
        sent, failed = await send_reports(session, gateway)
    return OverageRound(planned=planned, sent=sent, failed=failed)
