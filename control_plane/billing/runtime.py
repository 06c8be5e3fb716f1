"""The billing service of the app: the Stripe gateway (`app.state.billing`) and, with Stripe
configured and background tasks on, a loop that ends grace periods and reports Pro overage
every `billing_interval_seconds`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from control_plane.billing.overage import report_overage
from control_plane.billing.stripe_api import StripeGateway
from control_plane.billing.webhooks import after_plan_change, expire_grace_periods
from control_plane.errors import ControlPlaneError
from control_plane.settings import Settings
from control_plane.tasks import stop_task

log = structlog.get_logger("control_plane.billing")


def gateway(app: FastAPI) -> StripeGateway:
    billing: StripeGateway = app.state.billing
    return billing


async def billing_round(app: FastAPI) -> None:
    """One pass: grace periods that ended, then overage reports (also called by tests)."""
    async with app.state.sessionmaker() as session, session.begin():
        changes = await expire_grace_periods(session)
    after_plan_change(app, [flow for change in changes for flow in change.over_plan])
    await report_overage(app.state.sessionmaker, gateway(app))


@asynccontextmanager
async def billing_service(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.billing = StripeGateway(settings)
    task = None
    if settings.stripe_enabled and settings.background_tasks:
        task = asyncio.create_task(_loop(app, settings.billing_interval_seconds))
    try:
        yield
    finally:
        if task is not None:
            await stop_task(task)


async def _loop(app: FastAPI, interval: float) -> None:
    while True:
        try:
            await billing_round(app)
        except (ControlPlaneError, SQLAlchemyError, OSError) as error:
            log.warning("billing.round_failed", error=str(error))
        await asyncio.sleep(interval)
