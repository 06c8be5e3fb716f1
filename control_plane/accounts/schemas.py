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
    name: str
    tier: str = Field(description="The workspace's plan")


class AccountOut(BaseModel):
    user: UserOut
    tenant: TenantOut
    role: str = Field(default="owner", description="Your role in this workspace")


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


class MemberOut(BaseModel):
    user_id: str
    email: str
    role: str
    joined_at: datetime


class RoleWrite(BaseModel):
    role: str = Field(max_length=20, examples=["editor"], description="owner|admin|editor|viewer")


class InvitationCreate(BaseModel):
    email: str = Field(max_length=1000, examples=["grace@example.com"])
    role: str = Field(default="editor", max_length=20, examples=["editor"])


class InvitationOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    email: str
    role: str
    created_at: datetime
    expires_at: datetime


class InvitationIssued(InvitationOut):
    token: str = Field(description="The single-use token; shown only in this response")
    accept_url: str = Field(description="The link to send (or show) to the invited person")


class WorkspaceOut(BaseModel):
    id: str
    name: str
    plan: str
    role: str
    current: bool


class AuditEventOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    user_id: str | None
    user_email: str | None = None
    action: str
    target_type: str
    target_id: str | None
    summary: str
    created_at: datetime
