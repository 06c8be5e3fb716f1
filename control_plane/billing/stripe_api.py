"""The calls Flowplane makes to Stripe, through the `stripe` SDK's async client.

`STRIPE_API_BASE` points the client at a Stripe-compatible endpoint (tests use a local
stand-in over real HTTP). Stripe being away or refusing is a 503 with Stripe's message;
nothing here is retried blindly: Checkout and portal sessions are cheap to ask for again, and
meter events carry an identifier that Stripe counts once."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from control_plane.errors import Conflict, ServiceUnavailable
from control_plane.settings import Settings

if TYPE_CHECKING:
    import stripe

NOT_CONFIGURED = (
    "billing is not configured on this server (no STRIPE_SECRET_KEY): every workspace is "
    "self-hosted, without limits, and there is nothing to buy"
)


class StripeGateway:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client: stripe.StripeClient | None = None

    @property
    def client(self) -> stripe.StripeClient:
        if not self.settings.stripe_enabled:
            raise Conflict(NOT_CONFIGURED)
        if self._client is None:
            import stripe  # imported on first use: a server without billing does not carry it

            bases: dict[str, str] = {}
            if self.settings.stripe_api_base:
                base = self.settings.stripe_api_base.rstrip("/")
                bases = {"api": base, "files": base, "connect": base, "meter_events": base}
            self._client = stripe.StripeClient(
                self.settings.stripe_secret_key,
                base_addresses=bases,  # type: ignore[arg-type]
                http_client=stripe.HTTPXClient(timeout=20),
                max_network_retries=2,
            )
        return self._client

    def price_of(self, plan: str) -> str:
        if not self.settings.stripe_enabled:
            raise Conflict(NOT_CONFIGURED)
        price = {"paid": self.settings.stripe_price_paid, "pro": self.settings.stripe_price_pro}
        if not price.get(plan):
            raise Conflict(
                f"the {plan} plan has no Stripe price configured (STRIPE_PRICE_{plan.upper()})"
            )
        return price[plan]

    def plan_of_price(self, price_id: str | None) -> str | None:
        prices = {self.settings.stripe_price_paid: "paid", self.settings.stripe_price_pro: "pro"}
        prices.pop("", None)
        return prices.get(price_id or "")

    async def create_customer(self, email: str, tenant_id: str) -> str:
        customer = await _call(
            self.client.v1.customers.create_async(
                params={"email": email, "metadata": {"workspace_id": tenant_id}}
            )
        )
        return str(customer.id)

    async def checkout_url(
        self, *, customer: str, tenant_id: str, plan: str, success_url: str, cancel_url: str
    ) -> str:
        metadata = {"workspace_id": tenant_id, "plan": plan}
        checkout = await _call(
            self.client.v1.checkout.sessions.create_async(
                params={
                    "mode": "subscription",
                    "customer": customer,
                    "client_reference_id": tenant_id,
                    "line_items": [{"price": self.price_of(plan), "quantity": 1}],
                    "success_url": success_url,
                    "cancel_url": cancel_url,
                    "metadata": metadata,
                    "subscription_data": {"metadata": metadata},
                }
            )
        )
        return str(checkout.url)

    async def portal_url(self, *, customer: str, return_url: str) -> str:
        portal = await _call(
            self.client.v1.billing_portal.sessions.create_async(
                params={"customer": customer, "return_url": return_url}
            )
        )
        return str(portal.url)

    async def invoices(self, customer: str, limit: int = 24) -> list[dict[str, Any]]:
        found = await _call(
            self.client.v1.invoices.list_async(params={"customer": customer, "limit": limit})
        )
        return [item.to_dict() for item in found.data]

    async def report_usage(
        self, *, identifier: str, customer: str, quantity: int, timestamp: int
    ) -> None:
        """One meter event; `identifier` makes a retried report count once."""
        await _call(
            self.client.v1.billing.meter_events.create_async(
                params={
                    "event_name": self.settings.stripe_meter_event,
                    "identifier": identifier,
                    "timestamp": timestamp,
                    "payload": {"stripe_customer_id": customer, "value": str(quantity)},
                },
                options={"idempotency_key": identifier},
            )
        )


async def _call(awaitable: Any) -> Any:
    import stripe

    try:
        return await awaitable
    except stripe.StripeError as error:
        message = error.user_message or str(error) or type(error).__name__
        raise ServiceUnavailable(f"Stripe refused or did not answer: {message}") from error
