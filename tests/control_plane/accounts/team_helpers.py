"""A workspace with one member of each role (owner, admin, editor, viewer), made through the
invitations API."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import Account, sign_up


async def invite_and_join(
    client: httpx.AsyncClient, inviter: Account, role: str, member: Account | None = None
) -> Account:
    """`member` (a new account if None) joins the inviter's workspace as `role`; returns the
    member acting in that workspace (a session for it)."""
    member = member or await sign_up(client)
    invited = await client.post(
        "/api/members/invitations",
        json={"email": member.email, "role": role},
        headers=inviter.headers,
    )
    assert invited.status_code == 201, invited.text
    accepted = await client.post(
        f"/api/invitations/{invited.json()['token']}/accept", headers=member.headers
    )
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["tenant"]["id"] == inviter.tenant_id and body["role"] == role
    return Account(
        email=member.email,
        token=body["token"],
        user_id=member.user_id,
        tenant_id=inviter.tenant_id,
    )


async def team_of(client: httpx.AsyncClient, app: FastAPI) -> dict[str, Account]:
    owner = await sign_up(client)
    team = {"owner": owner}
    for role in ("admin", "editor", "viewer"):
        team[role] = await invite_and_join(client, owner, role)
    return team
