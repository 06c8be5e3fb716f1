"""Personal API keys: shown once, stored hashed, usable as bearer tokens, revocable, private."""

from __future__ import annotations

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from control_plane.accounts.credentials import hash_token
from control_plane.accounts.models import AuthToken
from tests.control_plane.accounts.accounts_helpers import count_rows, sessions, sign_up


async def test_create_list_use_and_revoke_a_key(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    created = await client.post("/api/keys", json={"name": " ci deploys "}, headers=account.headers)
    assert created.status_code == 201, created.text
    key = created.json()
    assert set(key) == {"id", "name", "prefix", "created_at", "expires_at", "key"}
    assert key["expires_at"] is None
    assert key["name"] == "ci deploys"
    assert key["key"].startswith("fpk_") and key["key"].startswith(key["prefix"])
    assert len(key["prefix"]) == 12

    async with sessions(app)() as session:
        stored = await session.get_one(AuthToken, key["id"])
        assert stored.token_hash == hash_token(key["key"])
        assert stored.expires_at is None
        assert key["key"] not in {stored.token_hash, stored.prefix, stored.name}

    listed = (await client.get("/api/keys", headers=account.headers)).json()
    assert listed == [
        {
            "id": key["id"],
            "name": "ci deploys",
            "prefix": key["prefix"],
            "created_at": key["created_at"],
            "expires_at": None,
            "last_used_at": None,
            "revoked_at": None,
        }
    ]

    key_headers = {"Authorization": f"Bearer {key['key']}"}
    me = await client.get("/api/auth/me", headers=key_headers)
    assert me.status_code == 200
    assert me.json()["user"]["id"] == account.user_id
    assert me.json()["tenant"]["id"] == account.tenant_id
    used = (await client.get("/api/keys", headers=account.headers)).json()[0]
    assert used["last_used_at"] is not None

    revoked = await client.delete(f"/api/keys/{key['id']}", headers=account.headers)
    assert revoked.status_code == 204
    assert (await client.get("/api/auth/me", headers=key_headers)).status_code == 401
    after = (await client.get("/api/keys", headers=account.headers)).json()[0]
    assert after["revoked_at"] is not None
    again = await client.delete(f"/api/keys/{key['id']}", headers=account.headers)
    assert again.status_code == 204
    assert (await client.get("/api/keys", headers=account.headers)).json()[0] == after


async def test_keys_are_listed_newest_first_without_sessions(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    names = ["first", "second", "third"]
    for name in names:
        await client.post("/api/keys", json={"name": name}, headers=account.headers)
    listed = (await client.get("/api/keys", headers=account.headers)).json()
    assert [key["name"] for key in listed] == list(reversed(names))


async def test_another_users_keys_are_invisible(client: httpx.AsyncClient) -> None:
    owner, stranger = await sign_up(client), await sign_up(client)
    key = (await client.post("/api/keys", json={"name": "mine"}, headers=owner.headers)).json()
    assert (await client.get("/api/keys", headers=stranger.headers)).json() == []
    response = await client.delete(f"/api/keys/{key['id']}", headers=stranger.headers)
    missing = await client.delete(
        "/api/keys/0123456789abcdef0123456789abcdef", headers=stranger.headers
    )
    assert response.status_code == missing.status_code == 404
    assert response.json()["error"] == "NotFound"
    key_headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/api/auth/me", headers=key_headers)).status_code == 200


async def test_a_session_id_is_not_a_key_id(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    async with sessions(app)() as session:
        session_id = await session.scalar(
            select(AuthToken.id).where(AuthToken.token_hash == hash_token(account.token))
        )
    response = await client.delete(f"/api/keys/{session_id}", headers=account.headers)
    assert response.status_code == 404
    assert (await client.get("/api/auth/me", headers=account.headers)).status_code == 200


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"name": "  "}, "InvalidInput"),
        ({"name": "x" * 101}, "InvalidInput"),
        ({}, "InvalidRequest"),
    ],
)
async def test_bad_key_names_are_refused_and_nothing_is_stored(
    client: httpx.AsyncClient, app: FastAPI, body: dict[str, str], error: str
) -> None:
    account = await sign_up(client)
    response = await client.post("/api/keys", json=body, headers=account.headers)
    assert response.status_code == 422
    assert response.json()["error"] == error
    assert response.json()["problems"][0]["path"].endswith("name")
    assert (
        await count_rows(
            app, AuthToken, AuthToken.user_id == account.user_id, AuthToken.kind == "api_key"
        )
        == 0
    )


async def test_log_out_with_an_api_key_is_refused(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    key = (await client.post("/api/keys", json={"name": "k"}, headers=account.headers)).json()
    key_headers = {"Authorization": f"Bearer {key['key']}"}
    response = await client.post("/api/auth/logout", headers=key_headers)
    assert response.status_code == 400
    assert "DELETE /api/keys" in response.json()["detail"]
    assert (await client.get("/api/auth/me", headers=key_headers)).status_code == 200
