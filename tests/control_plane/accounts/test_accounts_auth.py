"""Sign-up, log-in, who-am-I, log-out and bearer-token resolution, on SQLite and Postgres."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select, update

from control_plane.accounts.credentials import hash_token
from control_plane.accounts.models import AuthToken, Membership, Tenant, User
from control_plane.db import utcnow
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import (
    PASSWORD,
    count_rows,
    sessions,
    sign_up,
    unique_email,
)


async def test_sign_up_creates_user_personal_tenant_and_session(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    email = unique_email("ada")
    response = await client.post(
        "/api/auth/signup", json={"email": f"  {email.upper()} ", "password": PASSWORD}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert set(body) == {"token", "user", "tenant", "role"} and body["role"] == "owner"
    assert body["token"].startswith("fps_")
    assert body["user"]["email"] == email.lower()
    assert body["tenant"]["tier"] == "self-hosted"  # Stripe is not configured
    assert (
        await count_rows(
            app,
            Membership,
            Membership.user_id == body["user"]["id"],
            Membership.tenant_id == body["tenant"]["id"],
        )
        == 1
    )
    async with sessions(app)() as session:
        user = await session.get_one(User, body["user"]["id"])
        assert user.password_hash is not None and user.password_hash.startswith("$argon2")
        assert PASSWORD not in user.password_hash
        stored = await session.scalar(select(AuthToken).where(AuthToken.user_id == user.id))
        assert stored is not None and stored.kind == "session"
        assert stored.token_hash == hash_token(body["token"]) != body["token"]
        assert stored.expires_at is not None and stored.expires_at > utcnow()

    me = await client.get("/api/auth/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200
    assert me.json() == {"user": body["user"], "tenant": body["tenant"], "role": "owner"}


async def test_sign_up_uses_the_default_tier_setting(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    settings.default_tier = "pro"
    account = await sign_up(client)
    me = await client.get("/api/auth/me", headers=account.headers)
    assert me.json()["tenant"]["tier"] == "pro"


@pytest.mark.parametrize(
    ("email", "password", "field", "message"),
    [
        ("not-an-email", PASSWORD, "email", "is not an email address"),
        ("two@@example.com", PASSWORD, "email", "is not an email address"),
        ("", PASSWORD, "email", "is not an email address"),
        ("ok@example.com", "short", "password", "at least 8 characters"),
        ("ok@example.com", "x" * 1025, "password", "at most 1024 characters"),
    ],
)
async def test_sign_up_refuses_bad_credentials_and_stores_nothing(
    client: httpx.AsyncClient, app: FastAPI, email: str, password: str, field: str, message: str
) -> None:
    email = unique_email() if email == "ok@example.com" else email
    users_before = await count_rows(app, User)
    tenants_before = await count_rows(app, Tenant)
    response = await client.post("/api/auth/signup", json={"email": email, "password": password})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InvalidInput"
    assert [problem["path"] for problem in body["problems"]] == [field]
    assert message in body["problems"][0]["message"]
    assert field in body["detail"]
    assert await count_rows(app, User) == users_before
    assert await count_rows(app, Tenant) == tenants_before


async def test_sign_up_lists_every_problem(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/signup", json={"email": "nope", "password": "1"})
    assert response.status_code == 422
    assert [problem["path"] for problem in response.json()["problems"]] == ["email", "password"]


async def test_duplicate_email_is_a_conflict_whatever_its_case(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    tenants_before = await count_rows(app, Tenant)
    response = await client.post(
        "/api/auth/signup", json={"email": account.email.upper(), "password": "another password"}
    )
    assert response.status_code == 409
    assert response.json()["error"] == "Conflict"
    assert account.email in response.json()["detail"]
    assert await count_rows(app, User, func.lower(User.email) == account.email) == 1
    assert await count_rows(app, Tenant) == tenants_before


async def test_log_in_opens_a_new_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    response = await client.post(
        "/api/auth/login", json={"email": account.email.upper(), "password": PASSWORD}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["token"].startswith("fps_") and body["token"] != account.token
    assert body["user"] == {"id": account.user_id, "email": account.email}
    assert body["tenant"]["id"] == account.tenant_id


async def test_wrong_password_and_unknown_email_get_the_same_401(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    tokens_before = await count_rows(app, AuthToken)
    wrong_password = await client.post(
        "/api/auth/login", json={"email": account.email, "password": "not the password"}
    )
    unknown_email = await client.post(
        "/api/auth/login", json={"email": unique_email("nobody"), "password": PASSWORD}
    )
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.json()["error"] == "Unauthorized"
    assert "token" not in wrong_password.json()
    assert await count_rows(app, AuthToken) == tokens_before


async def test_log_out_revokes_only_that_session(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    second = await client.post(
        "/api/auth/login", json={"email": account.email, "password": PASSWORD}
    )
    other_headers = {"Authorization": f"Bearer {second.json()['token']}"}
    response = await client.post("/api/auth/logout", headers=account.headers)
    assert response.status_code == 204
    assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 401
    assert (await client.post("/api/auth/logout", headers=account.headers)).status_code == 401
    assert (await client.get("/api/auth/me", headers=other_headers)).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer fps_not-a-real-token"},
        {"Authorization": "Bearer something-else"},
    ],
)
async def test_requests_without_a_valid_token_are_401(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    for method, path in [("GET", "/api/auth/me"), ("GET", "/api/flows"), ("GET", "/api/keys")]:
        response = await client.request(method, path, headers=headers)
        assert response.status_code == 401, (path, headers)
        assert response.json()["error"] == "Unauthorized"
        assert "Bearer" in response.json()["detail"] or "token" in response.json()["detail"]


async def test_expired_session_is_refused(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(AuthToken)
            .where(AuthToken.token_hash == hash_token(account.token))
            .values(expires_at=utcnow() - timedelta(seconds=1))
        )
    response = await client.get("/api/auth/me", headers=account.headers)
    assert response.status_code == 401
    assert "expired" in response.json()["detail"]
