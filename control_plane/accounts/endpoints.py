"""/api/auth (sign-up, log-in, who am I, log-out, password, sessions) and /api/keys (personal
API keys)."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response, status

from control_plane.accounts import service
from control_plane.accounts.audit import audit_target
from control_plane.accounts.roles import Viewer, require_role
from control_plane.accounts.schemas import (
    AccountOut,
    ApiKeyCreate,
    ApiKeyCreated,
    ApiKeyOut,
    AuthConfigOut,
    Credentials,
    PasswordChange,
    SessionOut,
    SessionsRevoked,
    TenantOut,
    UserOut,
)
from control_plane.accounts.service import Principal
from control_plane.accounts.throttle import LoginLimits, LoginThrottle, SignupThrottle
from control_plane.db import DatabaseSession, utcnow
from control_plane.settings import Settings

router = APIRouter(tags=["accounts"])


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _throttle(request: Request) -> LoginThrottle:
    settings = _settings(request)
    limits = LoginLimits(
        per_account=settings.login_attempts_per_account,
        per_address=settings.login_attempts_per_address,
        window_seconds=settings.login_attempt_window_seconds,
    )
    return LoginThrottle(request.app.state.redis.client, limits)


def _address(request: Request) -> str | None:
    return request.client.host if request.client else None


THROTTLED: dict[int | str, dict[str, Any]] = {
    429: {"description": "TooManyRequests: too many failed attempts (Retry-After)"}
}


def _session_out(signed_in: service.SignedIn) -> SessionOut:
    return SessionOut(
        token=signed_in.token,
        user=UserOut.model_validate(signed_in.user),
        tenant=TenantOut.model_validate(signed_in.tenant),
    )


@router.post(
    "/auth/signup",
    response_model=SessionOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create an account with a personal workspace and log in",
    responses={429: {"description": "TooManyRequests: too many sign-ups from this address"}},
)
async def sign_up(body: Credentials, request: Request, session: DatabaseSession) -> SessionOut:
    settings = _settings(request)
    throttle = SignupThrottle(
        request.app.state.redis.client,
        per_address=settings.signups_per_address,
        window_seconds=settings.signup_window_seconds,
    )
    await throttle.attempt(_address(request))
    signed_in = await service.sign_up(
        session,
        body.email,
        body.password,
        tier=settings.new_workspace_plan,
        session_ttl=timedelta(hours=settings.session_ttl_hours),
    )
    return _session_out(signed_in)


@router.get(
    "/auth/config",
    response_model=AuthConfigOut,
    summary="How the editor signs in (public): Clerk when configured, else local accounts",
)
async def auth_config(request: Request) -> AuthConfigOut:
    settings = _settings(request)
    return AuthConfigOut(
        clerk_publishable_key=settings.clerk_publishable_key if settings.clerk_enabled else None,
        local_accounts=True,
        stripe_enabled=settings.stripe_enabled,
    )


@router.post(
    "/auth/login",
    response_model=SessionOut,
    summary="Log in with email and password",
    responses=THROTTLED,
)
async def log_in(body: Credentials, request: Request, session: DatabaseSession) -> SessionOut:
    ttl = timedelta(hours=_settings(request).session_ttl_hours)
    signed_in = await service.log_in(
        session,
        body.email,
        body.password,
        session_ttl=ttl,
        throttle=_throttle(request),
        address=_address(request),
    )
    return _session_out(signed_in)


@router.get("/auth/me", response_model=AccountOut, summary="The current user and workspace")
async def me(principal: Viewer, session: DatabaseSession) -> AccountOut:
    user, tenant = await service.account(session, principal)
    return AccountOut(
        user=UserOut.model_validate(user),
        tenant=TenantOut.model_validate(tenant),
        role=principal.role,
    )


@router.post(
    "/auth/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke the session token this request used",
)
async def log_out(
    principal: Annotated[Principal, Depends(require_role("viewer", audit=False))],
    session: DatabaseSession,
) -> None:
    await service.log_out(session, principal)


@router.post(
    "/auth/password",
    response_model=SessionsRevoked,
    summary="Change your password (a session only); your other sessions are revoked",
    responses=THROTTLED,
)
async def change_password(
    body: PasswordChange, principal: Viewer, request: Request, session: DatabaseSession
) -> SessionsRevoked:
    revoked = await service.change_password(
        session,
        principal,
        body.current_password,
        body.new_password,
        throttle=_throttle(request),
        address=_address(request),
    )
    return SessionsRevoked(revoked=revoked)


@router.delete(
    "/auth/sessions",
    response_model=SessionsRevoked,
    summary="Log out everywhere: revoke every session of yours, this one included",
)
async def revoke_sessions(principal: Viewer, session: DatabaseSession) -> SessionsRevoked:
    return SessionsRevoked(revoked=await service.revoke_sessions(session, principal))


@router.get(
    "/keys",
    response_model=list[ApiKeyOut],
    summary="List your API keys (a session only: an API key cannot list keys)",
)
async def list_keys(principal: Viewer, session: DatabaseSession) -> list[ApiKeyOut]:
    keys = await service.list_api_keys(session, principal)
    return [ApiKeyOut.model_validate(key) for key in keys]


@router.post(
    "/keys",
    response_model=ApiKeyCreated,
    status_code=status.HTTP_201_CREATED,
    summary="Create an API key (a session only; the key is shown only in this response)",
)
async def create_key(
    body: ApiKeyCreate, request: Request, principal: Viewer, session: DatabaseSession
) -> ApiKeyCreated:
    expires_at = utcnow() + timedelta(days=body.expires_in_days) if body.expires_in_days else None
    key, secret = await service.create_api_key(session, principal, body.name, expires_at)
    audit_target(request, key.id, key.name)
    return ApiKeyCreated(
        id=key.id,
        name=body.name.strip(),
        prefix=key.prefix,
        created_at=key.created_at,
        expires_at=key.expires_at,
        key=secret,
    )


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke an API key",
)
async def revoke_key(key_id: str, principal: Viewer, session: DatabaseSession) -> None:
    await service.revoke_api_key(session, principal, key_id)
