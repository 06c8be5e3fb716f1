"""Request and response bodies of /api/auth and /api/keys."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Credentials(BaseModel):
    email: str = Field(max_length=1000, examples=["ada@example.com"])
    password: str = Field(max_length=10_000, examples=["correct horse battery"])


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str


class TenantOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    tier: str


class AccountOut(BaseModel):
    user: UserOut
    tenant: TenantOut


class SessionOut(AccountOut):
    token: str = Field(description="Bearer token for `Authorization: Bearer ...`")


class ApiKeyCreate(BaseModel):
    name: str = Field(max_length=1000, examples=["ci deploys"])


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    key: str = Field(description="The API key; shown only in this response")
