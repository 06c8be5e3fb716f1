"""A Stripe-configured app in process, talking to a local Stripe stand-in over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import httpx
from fastapi import FastAPI

from control_plane.settings import Settings
from tests.control_plane.triggers.triggers_helpers import running_app
from tests.standins.stripe_standin import StripeStandIn

WEBHOOK_SECRET = "whsec_standin_secret"


@dataclass
class StripeWorld:
    app: FastAPI
    client: httpx.AsyncClient
    stripe: StripeStandIn


def stripe_settings(settings: Settings, api_base: str) -> Settings:
    return settings.model_copy(
        update={
            "stripe_secret_key": "sk_test_standin",
            "stripe_webhook_secret": WEBHOOK_SECRET,
            "stripe_price_paid": "price_paid_standin",
            "stripe_price_pro": "price_pro_standin",
            "stripe_api_base": api_base,
            "billing_grace_period_hours": 1.0,
        }
    )


@asynccontextmanager
async def stripe_world(settings: Settings) -> AsyncIterator[StripeWorld]:
    standin = StripeStandIn(secret=WEBHOOK_SECRET)
    await standin.start()
    try:
        async with running_app(stripe_settings(settings, standin.url)) as (app, client):

            async def deliver(payload: bytes, signature: str) -> int:
                response = await client.post(
                    "/webhooks/stripe",
                    content=payload,
                    headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
                )
                return response.status_code

            standin.deliver = deliver
            yield StripeWorld(app, client, standin)
    finally:
        await standin.stop()
