"""Billing state beside the tenant's plan (`tenants.tier`): the Stripe customer and
subscription, webhook events already applied, and overage usage reported to Stripe."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime, utcnow


class BillingAccount(Base):
    """A workspace's link to Stripe. Absent until its first Checkout."""

    __tablename__ = "billing_accounts"

    tenant_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("tenants.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), unique=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255))
    subscription_status: Mapped[str | None] = mapped_column(String(32))
    # a payment failed: the paid plan lasts until then, then the workspace moves to Free
    grace_until: Mapped[datetime | None] = mapped_column(UtcDateTime)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class WebhookEvent(Base):
    """A webhook event that was applied (Stripe's event id, Clerk's Svix message id), as
    "<source>:<id>": the same event is applied once."""

    __tablename__ = "webhook_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    type: Mapped[str] = mapped_column(String(100))
    received_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class UsageReport(Base):
    """Overage executions reported to Stripe as one meter event. The row is committed before
    the event is sent and its id is the event's `identifier`, so a retried report re-sends the
    same identifier and Stripe counts it once."""

    __tablename__ = "usage_reports"
    __table_args__ = (
        UniqueConstraint("tenant_id", "month", "through", name="uq_usage_reports_tenant_id"),
        Index("ix_usage_reports_sent_at", "sent_at"),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    month: Mapped[str] = mapped_column(String(7))
    quantity: Mapped[int] = mapped_column(Integer)  # executions this report adds
    through: Mapped[int] = mapped_column(Integer)  # overage executions reported up to here
    stripe_customer_id: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
