"""Accounts: sign-up, log-in, bearer-token authentication, API keys and tenant tiers.

Every function takes the session first and only flushes; the request's session commits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.credentials import (
    TOKEN_PREFIXES,
    hash_password,
    hash_token,
    issue_token,
    password_needs_rehash,
    verify_password,
)
from control_plane.accounts.models import AuthToken, Membership, Tenant, TokenKind, User
from control_plane.accounts.passwords import password_problems
from control_plane.accounts.throttle import LoginThrottle
from control_plane.billing.tiers import TIERS, is_tier
from control_plane.db import utcnow
from control_plane.errors import (
    BadRequest,
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)

MAX_EMAIL_LENGTH = 254
MAX_KEY_NAME_LENGTH = 100
LAST_USED_RESOLUTION = timedelta(minutes=1)  # `last_used_at` is written at most this often
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s.]+$")
WRONG_CREDENTIALS = "wrong email or password"
INVALID_TOKEN = "the bearer token is invalid, expired or revoked; log in again"
SESSION_ONLY = (
    "this request used an API key, and {what} needs a logged-in session: "
    "log in with email and password (POST /api/auth/login) and use that session's token"
)


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a user inside one tenant, through one token."""

    user_id: str
    tenant_id: str
    tier: str
    token_id: str
    token_kind: str  # "session", "api_key" or "clerk"
    role: str = "owner"  # the user's role in the tenant (accounts/roles.py)


@dataclass(frozen=True)
class SignedIn:
    token: str
    user: User
    tenant: Tenant


async def sign_up(
    session: AsyncSession, email: str, password: str, *, tier: str, session_ttl: timedelta
) -> SignedIn:
    """Create a user with a personal tenant on `tier` and open a session for it."""
    email = normalize_email(email)
    problems = _email_problems(email) + password_problems(password)
    if problems:
        raise InvalidInput(_summary(problems), problems)
    if not is_tier(tier):
        raise ValueError(f"default tier {tier!r} is not one of {', '.join(TIERS)}")
    existing = await session.scalar(select(User.id).where(User.email == email))
    if existing is not None:
        raise Conflict(f"an account with email {email} already exists; log in instead")
    user = User(email=email, password_hash=await hash_password(password))
    tenant = Tenant(name=email, tier=tier)
    session.add_all([user, tenant])
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent sign-up with the same email won the race
        raise Conflict(f"an account with email {email} already exists; log in instead") from error
    session.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))
    token = await _open_session(session, user.id, tenant.id, session_ttl)
    return SignedIn(token=token, user=user, tenant=tenant)


async def log_in(
    session: AsyncSession,
    email: str,
    password: str,
    *,
    session_ttl: timedelta,
    throttle: LoginThrottle,
    address: str | None,
) -> SignedIn:
    """Open a session; the same 401 whether the email is unknown or the password wrong, and
    429 once the account or the client address has failed too often (`throttle.py`)."""
    email = normalize_email(email)
    attempt = await throttle.attempt(email, address)
    user = await session.scalar(select(User).where(User.email == email))
    try:
        matches = await verify_password(user.password_hash if user else None, password)
    except ServiceUnavailable:  # not checked at all: the attempt does not count
        await attempt.succeeded()
        raise
    if not matches or user is None:
        raise Unauthorized(WRONG_CREDENTIALS)
    await attempt.succeeded()
    if user.disabled_at is not None:
        raise Unauthorized("this account is disabled")
    if user.password_hash and password_needs_rehash(user.password_hash):
        user.password_hash = await hash_password(password)
    tenant = await personal_tenant(session, user.id)
    token = await _open_session(session, user.id, tenant.id, session_ttl)
    return SignedIn(token=token, user=user, tenant=tenant)


async def authenticate(session: AsyncSession, token: str) -> Principal:
    """Resolve a bearer token (session or API key) to its principal, or raise 401."""
    if not token.startswith(tuple(TOKEN_PREFIXES.values())):
        raise Unauthorized(INVALID_TOKEN)
    now = utcnow()
    row = (
        await session.execute(
            select(AuthToken, Tenant.tier, Membership.role)
            .join(Tenant, Tenant.id == AuthToken.tenant_id)
            .join(
                Membership,
                (Membership.tenant_id == AuthToken.tenant_id)
                & (Membership.user_id == AuthToken.user_id),
            )
            .join(User, User.id == AuthToken.user_id)
            .where(
                AuthToken.token_hash == hash_token(token),
                AuthToken.revoked_at.is_(None),
                or_(AuthToken.expires_at.is_(None), AuthToken.expires_at > now),
                User.disabled_at.is_(None),
            )
        )
    ).one_or_none()
    if row is None:
        raise Unauthorized(INVALID_TOKEN)
    stored, tier, role = row
    if stored.last_used_at is None or now - stored.last_used_at >= LAST_USED_RESOLUTION:
        stored.last_used_at = now
        await session.flush()
    return Principal(
        user_id=stored.user_id,
        tenant_id=stored.tenant_id,
        tier=tier,
        token_id=stored.id,
        token_kind=stored.kind,
        role=role,
    )


async def log_out(session: AsyncSession, principal: Principal) -> None:
    if principal.token_kind != "session":
        raise BadRequest(
            "log-out ends a session, and this request used an API key; "
            "revoke API keys with DELETE /api/keys/{id}"
        )
    stored = await session.get_one(AuthToken, principal.token_id)
    stored.revoked_at = utcnow()
    await session.flush()


def require_session(principal: Principal, what: str) -> None:
    """Refuse API keys where only a person who just typed the password may act."""
    if principal.token_kind != "session":
        raise Forbidden(SESSION_ONLY.format(what=what))


async def revoke_sessions(
    session: AsyncSession, principal: Principal, *, keep_current: bool = False
) -> int:
    """Revoke every open session of the principal's user (in every workspace); API keys stay.
    Returns how many were revoked."""
    conditions = [
        AuthToken.user_id == principal.user_id,
        AuthToken.kind == "session",
        AuthToken.revoked_at.is_(None),
    ]
    if keep_current:
        conditions.append(AuthToken.id != principal.token_id)
    result = await session.execute(update(AuthToken).where(*conditions).values(revoked_at=utcnow()))
    await session.flush()
    return int(getattr(result, "rowcount", 0) or 0)


async def change_password(
    session: AsyncSession,
    principal: Principal,
    current_password: str,
    new_password: str,
    *,
    throttle: LoginThrottle,
    address: str | None,
) -> int:
    """Replace the password after checking the current one (throttled like a log-in); every
    other session of the user is revoked. Returns how many were."""
    require_session(principal, "changing the password")
    user = await session.get_one(User, principal.user_id)
    problems = password_problems(new_password, path="new_password")
    if problems:
        raise InvalidInput(_summary(problems), problems)
    attempt = await throttle.attempt(user.email, address)
    if not await verify_password(user.password_hash, current_password):
        problem = {"path": "current_password", "message": "this is not your current password"}
        raise InvalidInput(_summary([problem]), [problem])
    await attempt.succeeded()
    user.password_hash = await hash_password(new_password)
    return await revoke_sessions(session, principal, keep_current=True)


async def account(session: AsyncSession, principal: Principal) -> tuple[User, Tenant]:
    user = await session.get_one(User, principal.user_id)
    tenant = await session.get_one(Tenant, principal.tenant_id)
    return user, tenant


async def personal_tenant(session: AsyncSession, user_id: str) -> Tenant:
    tenant = await session.scalar(
        select(Tenant)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Tenant.id)
        .limit(1)
    )
    if tenant is None:
        raise Unauthorized(WRONG_CREDENTIALS)
    return tenant


async def create_api_key(
    session: AsyncSession, principal: Principal, name: str, expires_at: datetime | None = None
) -> tuple[AuthToken, str]:
    """A new API key for the principal's user and tenant; the key itself is returned once.
    Only a session may create keys (a leaked key cannot mint more); `expires_at`: none by
    default, else the key stops working then."""
    require_session(principal, "creating API keys")
    name = name.strip()
    if not name or len(name) > MAX_KEY_NAME_LENGTH:
        problem = {
            "path": "name",
            "message": f"give the key a name of 1 to {MAX_KEY_NAME_LENGTH} characters",
        }
        raise InvalidInput(_summary([problem]), [problem])
    issued = issue_token("api_key")
    key = _token_row(
        "api_key", principal.user_id, principal.tenant_id, issued.token_hash, issued.prefix
    )
    key.name = name
    key.expires_at = expires_at
    session.add(key)
    await session.flush()
    return key, issued.token


async def list_api_keys(session: AsyncSession, principal: Principal) -> list[AuthToken]:
    require_session(principal, "listing API keys")
    result = await session.scalars(
        _own_api_keys(principal).order_by(AuthToken.created_at.desc(), AuthToken.id)
    )
    return list(result)


async def revoke_api_key(session: AsyncSession, principal: Principal, key_id: str) -> None:
    """Revoke one of the principal's keys; revoking a revoked key changes nothing."""
    key = await session.scalar(_own_api_keys(principal).where(AuthToken.id == key_id))
    if key is None:
        raise NotFound(f"API key {key_id} not found")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
        await session.flush()


async def set_tenant_tier(session: AsyncSession, tenant_id: str, tier: str) -> Tenant:
    """Move a tenant to another tier (billing does this; so do operators and tests)."""
    if not is_tier(tier):
        problem = {
            "path": "tier",
            "message": f"unknown tier {tier!r}; tiers are {', '.join(TIERS)}",
        }
        raise InvalidInput(_summary([problem]), [problem])
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound(f"tenant {tenant_id} not found")
    tenant.tier = tier
    await session.flush()
    return tenant


async def open_session(
    session: AsyncSession, user_id: str, tenant_id: str, session_ttl: timedelta
) -> str:
    """A new session token of `user_id` acting in `tenant_id` (a workspace switch, a join)."""
    return await _open_session(session, user_id, tenant_id, session_ttl)


def normalize_email(email: str) -> str:
    return email.strip().lower()


def _own_api_keys(principal: Principal) -> Any:
    return select(AuthToken).where(
        AuthToken.kind == "api_key",
        AuthToken.tenant_id == principal.tenant_id,
        AuthToken.user_id == principal.user_id,
    )


async def _open_session(
    session: AsyncSession, user_id: str, tenant_id: str, session_ttl: timedelta
) -> str:
    issued = issue_token("session")
    row = _token_row("session", user_id, tenant_id, issued.token_hash, issued.prefix)
    row.expires_at = row.created_at + session_ttl
    session.add(row)
    await session.flush()
    return issued.token


def _token_row(
    kind: TokenKind, user_id: str, tenant_id: str, token_hash: str, prefix: str
) -> AuthToken:
    return AuthToken(
        kind=kind,
        user_id=user_id,
        tenant_id=tenant_id,
        token_hash=token_hash,
        prefix=prefix,
        created_at=utcnow(),
    )


def _email_problems(email: str) -> list[dict[str, Any]]:
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        return [{"path": "email", "message": f"{email!r} is not an email address"}]
    return []


def _summary(problems: list[dict[str, Any]]) -> str:
    return "; ".join(f"{problem['path']}: {problem['message']}" for problem in problems)
