"""A local stand-in of the Stripe API, served over real HTTP (aiohttp) for the real `stripe`
SDK (`STRIPE_API_BASE` pointed at it), with the parts Flowplane uses: customers, Checkout
Sessions (subscription mode), billing portal sessions, invoices and meter events.

Completing a Checkout (in a browser: GET /checkout/{id} and its Pay button; in tests:
`complete_checkout`) creates the subscription and an invoice and sends the events Stripe
sends, signed with Stripe's scheme (`t=<unix>,v1=HMAC-SHA256(secret, "<t>.<payload>")`), to
`deliver` (a callable) or over HTTP to `webhook_url`. Meter events are counted once per
`identifier`, as Stripe does.

Run on its own (Playwright): python -m tests.standins.stripe_standin --webhook-url URL
--secret whsec_... ; it prints `STRIPE_API_BASE=http://127.0.0.1:<port>` when ready."""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import itertools
import json
import re
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

from aiohttp import ClientSession, web

Deliver = Callable[[bytes, str], Awaitable[int]]  # (payload, Stripe-Signature) -> status


async def _no_content(_: web.Request) -> web.Response:
    return web.Response(status=204)


def sign(payload: bytes, secret: str, timestamp: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends with `payload`."""
    stamp = int(time.time()) if timestamp is None else timestamp
    signed = f"{stamp}.".encode() + payload
    digest = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def decode_form(body: str) -> dict[str, Any]:
    """Stripe's form encoding (`a[b][0][c]=v`) back into nested dicts and lists."""
    root: dict[str, Any] = {}
    for key, value in parse_qsl(body, keep_blank_values=True):
        parts = re.findall(r"[^\[\]]+", key)
        node = root
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        node[parts[-1]] = value
    return _lists(root)


def _lists(node: Any) -> Any:
    if isinstance(node, dict):
        if node and all(key.isdigit() for key in node):
            return [_lists(node[key]) for key in sorted(node, key=int)]
        return {key: _lists(value) for key, value in node.items()}
    return node


@dataclass
class StripeStandIn:
    secret: str
    webhook_url: str | None = None
    deliver: Deliver | None = None
    url: str = ""
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)
    sessions: dict[str, dict[str, Any]] = field(default_factory=dict)
    subscriptions: dict[str, dict[str, Any]] = field(default_factory=dict)
    invoices: dict[str, dict[str, Any]] = field(default_factory=dict)
    meter_events: dict[str, dict[str, Any]] = field(default_factory=dict)  # by identifier
    meter_requests: int = 0
    events: list[dict[str, Any]] = field(default_factory=list)
    _ids: Any = field(default_factory=lambda: itertools.count(1))
    _runner: web.AppRunner | None = None

    def new_id(self, prefix: str) -> str:
        return f"{prefix}_{secrets.token_hex(6)}{next(self._ids):04d}"

    # --- server -------------------------------------------------------------------------
    async def start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/customers", self._create_customer)
        app.router.add_post("/v1/checkout/sessions", self._create_session)
        app.router.add_post("/v1/billing_portal/sessions", self._create_portal)
        app.router.add_get("/v1/invoices", self._list_invoices)
        app.router.add_post("/v1/billing/meter_events", self._meter_event)
        app.router.add_get("/checkout/{id}", self._checkout_page)
        app.router.add_post("/checkout/{id}/pay", self._pay)
        app.router.add_get("/portal/{id}", self._portal_page)
        app.router.add_get("/favicon.ico", _no_content)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- API ----------------------------------------------------------------------------
    async def _form(self, request: web.Request) -> dict[str, Any]:
        if request.headers.get("Authorization", "") != "Bearer sk_test_standin":
            raise web.HTTPUnauthorized(
                text=json.dumps({"error": {"type": "invalid_request_error", "message": "bad key"}}),
                content_type="application/json",
            )
        return decode_form(await request.text())

    async def _create_customer(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        customer = {
            "id": self.new_id("cus"),
            "object": "customer",
            "email": form.get("email"),
            "metadata": form.get("metadata", {}),
        }
        self.customers[customer["id"]] = customer
        return web.json_response(customer)

    async def _create_session(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        session_id = self.new_id("cs")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": form.get("mode"),
            "customer": form.get("customer"),
            "client_reference_id": form.get("client_reference_id"),
            "metadata": form.get("metadata", {}),
            "subscription_data": form.get("subscription_data", {}),
            "line_items": form.get("line_items", []),
            "success_url": form.get("success_url"),
            "cancel_url": form.get("cancel_url"),
            "status": "open",
            "url": f"{self.url}/checkout/{session_id}",
        }
        self.sessions[session_id] = session
        return web.json_response({k: v for k, v in session.items() if k != "line_items"})

    async def _create_portal(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        portal_id = self.new_id("bps")
        return web.json_response(
            {
                "id": portal_id,
                "object": "billing_portal.session",
                "customer": form.get("customer"),
                "return_url": form.get("return_url"),
                "url": f"{self.url}/portal/{portal_id}",
            }
        )

    async def _list_invoices(self, request: web.Request) -> web.Response:
        await self._form(request)
        customer = request.query.get("customer")
        found = [item for item in self.invoices.values() if item["customer"] == customer]
        return web.json_response(
            {"object": "list", "data": found, "has_more": False, "url": "/v1/invoices"}
        )

    async def _meter_event(self, request: web.Request) -> web.Response:
        form = await self._form(request)
        self.meter_requests += 1
        identifier = form.get("identifier") or self.new_id("mev")
        event = self.meter_events.setdefault(
            identifier,
            {
                "object": "billing.meter_event",
                "identifier": identifier,
                "event_name": form.get("event_name"),
                "payload": form.get("payload", {}),
                "timestamp": int(form.get("timestamp") or time.time()),
                "created": int(time.time()),
                "livemode": False,
            },
        )
        return web.json_response(event)

    # --- the hosted pages -----------------------------------------------------------------
    async def _checkout_page(self, request: web.Request) -> web.Response:
        session = self.sessions[request.match_info["id"]]
        plan = session["metadata"].get("plan", "")
        html = (
            "<!doctype html><title>Stripe Checkout (stand-in)</title>"
            f"<h1>Subscribe to {plan}</h1>"
            f"<form method=post action='/checkout/{session['id']}/pay'>"
            "<button type=submit>Pay and subscribe</button></form>"
        )
        return web.Response(text=html, content_type="text/html")

    async def _pay(self, request: web.Request) -> web.Response:
        session = await self.complete_checkout(request.match_info["id"])
        raise web.HTTPSeeOther(session["success_url"])

    async def _portal_page(self, request: web.Request) -> web.Response:
        return web.Response(
            text="<!doctype html><title>Billing portal (stand-in)</title><h1>Billing portal</h1>",
            content_type="text/html",
        )

    # --- what Stripe does on its side -----------------------------------------------------
    async def complete_checkout(self, session_id: str) -> dict[str, Any]:
        """Pay: the subscription and its first invoice exist, and the events are sent."""
        session = self.sessions[session_id]
        price = (session["line_items"] or [{}])[0].get("price")
        subscription = {
            "id": self.new_id("sub"),
            "object": "subscription",
            "customer": session["customer"],
            "status": "active",
            "metadata": session["subscription_data"].get("metadata", {}),
            "items": {"object": "list", "data": [{"price": {"id": price}, "quantity": 1}]},
        }
        self.subscriptions[subscription["id"]] = subscription
        session.update(status="complete", subscription=subscription["id"])
        invoice = {
            "id": self.new_id("in"),
            "object": "invoice",
            "number": f"STANDIN-{len(self.invoices) + 1:04d}",
            "customer": session["customer"],
            "subscription": subscription["id"],
            "status": "paid",
            "amount_due": 2900,
            "currency": "usd",
            "created": int(time.time()),
            "hosted_invoice_url": f"{self.url}/invoice",
            "invoice_pdf": None,
        }
        self.invoices[invoice["id"]] = invoice
        public = {k: v for k, v in session.items() if k != "line_items"}
        await self.send("checkout.session.completed", public)
        await self.send("customer.subscription.created", subscription)
        await self.send("invoice.paid", invoice)
        return session

    def event(self, kind: str, obj: dict[str, Any]) -> tuple[bytes, str]:
        """A signed event (payload, Stripe-Signature), not sent."""
        event = {
            "id": self.new_id("evt"),
            "object": "event",
            "type": kind,
            "created": int(time.time()),
            "livemode": False,
            "api_version": "2025-01-27.acacia",
            "data": {"object": obj},
        }
        self.events.append(event)
        payload = json.dumps(event).encode()
        return payload, sign(payload, self.secret)

    async def send(self, kind: str, obj: dict[str, Any]) -> int:
        payload, signature = self.event(kind, obj)
        return await self.post(payload, signature)

    async def post(self, payload: bytes, signature: str) -> int:
        if self.deliver is not None:
            return await self.deliver(payload, signature)
        assert self.webhook_url, "the stand-in needs deliver or webhook_url"
        async with (
            ClientSession() as client,
            client.post(
                self.webhook_url,
                data=payload,
                headers={"Stripe-Signature": signature, "Content-Type": "application/json"},
            ) as response,
        ):
            return response.status


async def _serve(webhook_url: str, secret: str) -> None:
    standin = StripeStandIn(secret=secret, webhook_url=webhook_url)
    await standin.start()
    print(f"STRIPE_API_BASE={standin.url}", flush=True)
    await asyncio.Event().wait()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--webhook-url", required=True)
    parser.add_argument("--secret", required=True)
    options = parser.parse_args()
    asyncio.run(_serve(options.webhook_url, options.secret))
