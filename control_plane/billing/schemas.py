"""Bodies of /api/billing and the Stripe webhook."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field


class LimitsOut(BaseModel):
    flows: int | None = Field(description="null: unlimited")
    executions_per_month: int | None
    marketplace_tools: bool
    private_marketplace_tools: bool
    marketplace_installs: int | None
    wasm_modules: int | None
    project_memory_bytes: int | None = Field(description="0: not available; null: unlimited")
    team_members: int | None
    execution_retention_days: int | None
    max_queued_per_flow: int


class UsageOut(BaseModel):
    month: str = Field(description="The UTC calendar month executions count against: 2026-12")
    flows: int
    over_plan_flows: int = Field(description="Flows kept but not runnable on this plan")
    executions_this_month: int
    wasm_modules: int
    team_members: int


class SubscriptionOut(BaseModel):
    status: str | None
    grace_until: datetime | None = Field(
        description="A payment failed: the plan lasts until then, then the workspace is on Free"
    )
    has_customer: bool


class BillingOut(BaseModel):
    plan: str
    stripe_enabled: bool = Field(description="false: self-hosted, no paywall, no checkout")
    limits: LimitsOut
    usage: UsageOut
    subscription: SubscriptionOut | None
    upgrade_plans: list[str] = Field(description="Plans Checkout can move this workspace to")
    upgrade_url: str


class CheckoutCreate(BaseModel):
    plan: Literal["paid", "pro"]


class RedirectOut(BaseModel):
    url: str = Field(description="Send the browser here (Stripe Checkout or the portal)")


class InvoiceOut(BaseModel):
    id: str
    number: str | None
    status: str | None
    amount_due: int = Field(description="In the currency's smallest unit")
    currency: str
    created: datetime
    hosted_invoice_url: str | None
    invoice_pdf: str | None


class WebhookAck(BaseModel):
    received: bool
    duplicate: bool = False
    applied: str | None = None
