"""Helpers for tests that need signed-up users, tiers and row counts (imported by the flows and
organism editor tests too)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.accounts.service import set_tenant_tier

PASSWORD = "correct horse battery"


@dataclass(frozen=True)
class Account:
    email: str
    token: str
    user_id: str
    tenant_id: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def unique_email(label: str = "user") -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}@example.com"


async def sign_up(client: httpx.AsyncClient, email: str | None = None) -> Account:
    email = email or unique_email()
    response = await client.post("/api/auth/signup", json={"email": email, "password": PASSWORD})
    assert response.status_code == 201, response.text
    body = response.json()
    return Account(
        email=body["user"]["email"],
        token=body["token"],
        user_id=body["user"]["id"],
        tenant_id=body["tenant"]["id"],
    )


def sessions(app: FastAPI) -> async_sessionmaker[AsyncSession]:
    maker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    return maker


async def set_tier(app: FastAPI, tenant_id: str, tier: str) -> None:
    async with sessions(app)() as session, session.begin():
        await set_tenant_tier(session, tenant_id, tier)


async def count_rows(app: FastAPI, model: Any, *conditions: Any) -> int:
    async with sessions(app)() as session:
        count = await session.scalar(select(func.count()).select_from(model).where(*conditions))
        return int(count or 0)
