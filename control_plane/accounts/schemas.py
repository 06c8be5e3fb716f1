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
    expires_in_days: int | None = Field(
        default=None,
        ge=1,
        le=3650,
        description="The key stops working this many days from now; none: until revoked",
    )


class PasswordChange(BaseModel):
    current_password: str = Field(max_length=10_000)
    new_password: str = Field(max_length=10_000, examples=["a new horse battery"])


class SessionsRevoked(BaseModel):
    revoked: int = Field(description="How many sessions were revoked")


class ApiKeyOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    prefix: str = Field(description="The key's first characters, to tell keys apart")
    created_at: datetime
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked_at: datetime | None


class ApiKeyCreated(BaseModel):
    id: str
    name: str
    prefix: str
    created_at: datetime
    expires_at: datetime | None
    key: str = Field(description="The API key; shown only in this response")
