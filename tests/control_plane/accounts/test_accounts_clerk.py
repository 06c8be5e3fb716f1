"""Clerk sign-in against locally generated RSA keys and a local JWKS endpoint over HTTP, and
Svix-signed user webhooks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta

import httpx
from fastapi import FastAPI

from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import sign_up
from tests.control_plane.triggers.triggers_helpers import running_app
from tests.standins.clerk_standin import WEBHOOK_SECRET, ClerkStandIn, new_key


@asynccontextmanager
async def clerk_app(
    settings: Settings,
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient, ClerkStandIn]]:
    clerk = ClerkStandIn()
    await clerk.start()
    configured = settings.model_copy(
        update={
            "clerk_issuer": clerk.issuer,
            "clerk_webhook_secret": WEBHOOK_SECRET,
            "clerk_authorized_parties": "https://app.example.com",
            "background_tasks": False,
        }
    )
    try:
        async with running_app(configured) as (app, client):
            yield app, client, clerk
    finally:
        await clerk.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_tokens_work_and_create_the_user_on_first_use(settings: Settings) -> None:
    async with clerk_app(settings) as (_, client, clerk):
        token = clerk.token("user_alpha", email="alpha@example.com", azp="https://app.example.com")
        me = await client.get("/api/auth/me", headers=bearer(token))
        assert me.status_code == 200, me.text
        assert me.json()["user"]["email"] == "alpha@example.com"
        assert me.json()["role"] == "owner" and me.json()["tenant"]["tier"] == "self-hosted"
        again = await client.get("/api/auth/me", headers=bearer(clerk.token("user_alpha")))
        assert again.json() == me.json(), "the same user and workspace on later requests"
        assert clerk.jwks_requests == 1, "the JWKS is cached"
        created = await client.post("/api/flows", json={"name": "mine"}, headers=bearer(token))
        assert created.status_code == 201
        # Local accounts and API keys keep working beside Clerk.
        local = await sign_up(client)
        assert (await client.get("/api/auth/me", headers=local.headers)).status_code == 200


async def test_bad_tokens_are_401(settings: Settings) -> None:
    async with clerk_app(settings) as (_, client, clerk):
        now = datetime.now(UTC)
        bad = {
            "expired": clerk.token("user_b", lifetime=-60),
            "wrong issuer": clerk.token("user_b", issuer="https://evil.example.com"),
            "wrong key": clerk.token("user_b", key=new_key()),
            "unknown kid": clerk.token("user_b", key=new_key(), kid="other"),
            "alg none": clerk.unsigned_token("user_b", clerk.issuer),
            "wrong azp": clerk.token("user_b", azp="https://evil.example.com"),
            "not yet valid": clerk.token("user_b", nbf=int((now + timedelta(hours=1)).timestamp())),
            "garbage": "eyJhbGciOi.x.y",
        }
        for case, token in bad.items():
            response = await client.get("/api/auth/me", headers=bearer(token))
            assert response.status_code == 401, f"{case}: {response.status_code} {response.text}"
            assert response.json()["error"] == "Unauthorized"


async def test_svix_signed_user_events_create_update_and_disable(settings: Settings) -> None:
    async with clerk_app(settings) as (_, client, clerk):
        payload, headers = clerk.user_event("user.created", "user_gamma", "gamma@example.com")
        created = await client.post("/webhooks/clerk", content=payload, headers=headers)
        assert created.status_code == 200, created.text
        replay = await client.post("/webhooks/clerk", content=payload, headers=headers)
        assert replay.status_code == 200 and replay.json()["duplicate"] is True
        token = clerk.token("user_gamma")
        me = await client.get("/api/auth/me", headers=bearer(token))
        assert me.json()["user"]["email"] == "gamma@example.com"

        payload, headers = clerk.user_event("user.updated", "user_gamma", "gamma2@example.com")
        assert (
            await client.post("/webhooks/clerk", content=payload, headers=headers)
        ).status_code == 200
        me = await client.get("/api/auth/me", headers=bearer(token))
        assert me.json()["user"]["email"] == "gamma2@example.com"

        payload, headers = clerk.user_event("user.deleted", "user_gamma")
        refused = await client.post(
            "/webhooks/clerk",
            content=payload,
            headers=dict(headers, **{"svix-signature": "v1,AAAA"}),
        )
        assert refused.status_code == 400
        stale, stale_headers = clerk.user_event(
            "user.deleted", "user_gamma", at=datetime.now(UTC) - timedelta(hours=1)
        )
        assert (
            await client.post("/webhooks/clerk", content=stale, headers=stale_headers)
        ).status_code == 400
        assert (await client.get("/api/auth/me", headers=bearer(token))).status_code == 200

        deleted = await client.post("/webhooks/clerk", content=payload, headers=headers)
        assert (
            deleted.status_code == 200 and "1 workspace(s) scheduled" in deleted.json()["applied"]
        )
        gone = await client.get("/api/auth/me", headers=bearer(clerk.token("user_gamma")))
        assert gone.status_code == 401, "a deleted user loses access at once"
