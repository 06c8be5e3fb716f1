"""Clerk sign-in (when CLERK_ISSUER is set): session JWTs verified offline against the
issuer's JWKS, and the users they name.

Verification: RS256 only (so `alg: none` and HMAC tricks are refused before any key is
looked at), signature by a key of the JWKS (cached `clerk_jwks_cache_seconds`; an unknown
`kid` refetches at most every 30 seconds), `iss` equal to CLERK_ISSUER, `exp`/`nbf`/`iat` with
5 seconds of leeway, a `sub`, and `azp` (when present) among the authorized parties. Anything
else is 401. A valid token of a user not yet known creates the user and a personal workspace on
first use; a disabled (deleted in Clerk) user is 401."""

from __future__ import annotations

import asyncio
import base64
import re
import time
from typing import Any

import structlog
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.models import Membership, Tenant, User
from control_plane.db import utcnow
from control_plane.errors import Unauthorized
from control_plane.settings import Settings

log = structlog.get_logger("control_plane.accounts")

ALGORITHMS = ["RS256"]
LEEWAY_SECONDS = 5
REFETCH_INTERVAL_SECONDS = 30.0
INVALID = "the Clerk session token is invalid or expired; sign in again"


FRONTEND_API_HOST = re.compile(r"^[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?$")


def frontend_api_host(publishable_key: str) -> str | None:
    """The host of a Clerk instance's Frontend API, encoded in its publishable key
    (`pk_test_` or `pk_live_`, then base64 of `<host>$`); None for anything else."""
    match = re.fullmatch(r"pk_(?:test|live)_([A-Za-z0-9+/=_-]+)", publishable_key.strip())
    if not match:
        return None
    encoded = match.group(1).replace("-", "+").replace("_", "/")
    try:
        decoded = base64.b64decode(encoded + "=" * (-len(encoded) % 4)).decode("ascii")
    except (ValueError, UnicodeDecodeError):
        return None
    host = decoded[:-1].lower() if decoded.endswith("$") else ""
    return host if FRONTEND_API_HOST.match(host) else None


class ClerkVerifier:
    def __init__(self, settings: Settings) -> None:
        self.issuer = settings.clerk_issuer.rstrip("/")
        self.jwks_url = settings.clerk_jwks_url or f"{self.issuer}/.well-known/jwks.json"
        self.cache_seconds = settings.clerk_jwks_cache_seconds
        parties = settings.clerk_authorized_parties or settings.public_url
        self.authorized_parties = {
            party.strip().rstrip("/") for party in parties.split(",") if party.strip()
        }
        self._keys: dict[str, Any] = {}
        self._fetched_at = -1e9
        self._lock = asyncio.Lock()

    async def verify(self, token: str) -> dict[str, Any]:
        import jwt  # imported on first use: a server without Clerk does not carry it

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as error:
            raise Unauthorized(INVALID) from error
        if header.get("alg") not in ALGORITHMS:
            raise Unauthorized(f"{INVALID} (algorithm {header.get('alg')!r} is not accepted)")
        key = await self._key(str(header.get("kid", "")))
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                issuer=self.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.PyJWTError as error:
            raise Unauthorized(f"{INVALID} ({error})") from error
        azp = claims.get("azp")
        if (
            azp is not None
            and self.authorized_parties
            and azp.rstrip("/") not in self.authorized_parties
        ):
            raise Unauthorized(f"{INVALID} (azp {azp!r} is not an authorized party)")
        return claims

    async def _key(self, kid: str) -> Any:
        if kid not in self._keys or self._age() >= self.cache_seconds:
            async with self._lock:  # one fetch for the requests that arrive meanwhile
                age = self._age()
                if age >= self.cache_seconds or (
                    kid not in self._keys and age >= REFETCH_INTERVAL_SECONDS
                ):
                    await self._fetch()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthorized(f"{INVALID} (signed by an unknown key)")
        return key

    def _age(self) -> float:
        return time.monotonic() - self._fetched_at

    async def _fetch(self) -> None:
        import httpx
        import jwt

        try:
            async with httpx.AsyncClient(timeout=10) as client:
                response = await client.get(self.jwks_url)
                response.raise_for_status()
                keys = jwt.PyJWKSet.from_dict(response.json())
        except (httpx.HTTPError, jwt.PyJWTError, ValueError) as error:
            log.warning("clerk.jwks_failed", url=self.jwks_url, error=str(error))
            self._fetched_at = time.monotonic()  # keep the cached keys; retry later
            return
        self._keys = {key.key_id: key.key for key in keys.keys if key.key_id}
        self._fetched_at = time.monotonic()


async def clerk_user(session: AsyncSession, claims: dict[str, Any], *, plan: str) -> User:
    """The user a verified token names; created with a personal workspace on first use."""
    subject = str(claims["sub"])
    user = await session.scalar(select(User).where(User.clerk_user_id == subject))
    if user is None:
        email = claims.get("email") if isinstance(claims.get("email"), str) else None
        user = await sync_user(session, subject, email, plan=plan)
    if user.disabled_at is not None:
        raise Unauthorized("this account was deleted")
    return user


async def sync_user(session: AsyncSession, clerk_id: str, email: str | None, *, plan: str) -> User:
    """Create or update the user of a Clerk id (first use or the `user.*` webhooks). A local
    account with the same (Clerk-verified) email is linked rather than duplicated."""
    email = (email or f"{clerk_id}@users.clerk.invalid").strip().lower()
    user = await session.scalar(select(User).where(User.clerk_user_id == clerk_id))
    if user is None:
        user = await session.scalar(
            select(User).where(User.email == email, User.clerk_user_id.is_(None))
        )
        if user is not None:
            user.clerk_user_id = clerk_id
    if user is not None:
        if email != user.email and not email.endswith("@users.clerk.invalid"):
            taken = await session.scalar(select(User.id).where(User.email == email))
            if taken is None:
                user.email = email
        await session.flush()
        return user
    user = User(email=email, clerk_user_id=clerk_id, password_hash=None, created_at=utcnow())
    tenant = Tenant(name=email, tier=plan)
    try:
        async with session.begin_nested():
            session.add_all([user, tenant])
            await session.flush()
            session.add(Membership(tenant_id=tenant.id, user_id=user.id, role="owner"))
            await session.flush()
    except IntegrityError:  # a concurrent first request created it
        found = await session.scalar(select(User).where(User.clerk_user_id == clerk_id))
        if found is None:
            raise
        return found
    log.info("clerk.user_created", user_id=user.id, tenant_id=tenant.id)
    return user


async def clerk_principal(
    session: AsyncSession,
    verifier: ClerkVerifier,
    token: str,
    *,
    plan: str,
    workspace: str | None,
) -> Any:
    """The principal of a Clerk session token, acting in `workspace` (the
    X-Flowplane-Workspace header) when given, else in the user's personal workspace."""
    from control_plane.accounts.service import Principal  # service imports this module

    claims = await verifier.verify(token)
    user = await clerk_user(session, claims, plan=plan)
    query = (
        select(Membership.tenant_id, Membership.role, Tenant.tier)
        .join(Tenant, Tenant.id == Membership.tenant_id)
        .where(Membership.user_id == user.id)
    )
    if workspace:
        query = query.where(Membership.tenant_id == workspace)
    row = (await session.execute(query.order_by(Membership.created_at).limit(1))).first()
    if row is None:
        raise Unauthorized(
            f"you are not a member of workspace {workspace}" if workspace else INVALID
        )
    tenant_id, role, tier = row
    return Principal(
        user_id=user.id,
        tenant_id=tenant_id,
        tier=tier,
        token_id=f"clerk:{claims.get('sid', '')}"[:64],
        token_kind="clerk",
        role=role,
    )


def looks_like_jwt(token: str) -> bool:
    return token.count(".") == 2 and token.startswith("ey")
