"""FastAPI dependencies that resolve a request to a `Principal` (user, tenant, tier).

Other domains import `Principal` and `current_principal`. The token is only ever read from the
`Authorization` header, never from the URL (where access logs, proxies and the browser's
history would keep it): the editor reads the logs stream with fetch, not EventSource."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.clerk import ClerkVerifier, clerk_principal, looks_like_jwt
from control_plane.accounts.service import Principal, authenticate
from control_plane.db import DatabaseSession
from control_plane.errors import Unauthorized

__all__ = [
    "CurrentPrincipal",
    "Principal",
    "current_principal",
]

_bearer = HTTPBearer(
    auto_error=False,
    description=(
        "A session token (`fps_...`, from log-in), an API key (`fpk_...`) or, with Clerk "
        "configured, a Clerk session JWT"
    ),
)
WORKSPACE_HEADER = "X-Flowplane-Workspace"  # Clerk tokens: which of the user's workspaces
MISSING_TOKEN = "authentication required: send the header 'Authorization: Bearer <token>'"


async def current_principal(
    request: Request,
    session: DatabaseSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized(MISSING_TOKEN)
    return await _resolve(request, session, credentials.credentials)


async def _resolve(request: Request, session: AsyncSession, token: str) -> Principal:
    """Local session tokens and API keys always; Clerk session JWTs when Clerk is configured."""
    verifier: ClerkVerifier | None = getattr(request.app.state, "clerk", None)
    if verifier is not None and looks_like_jwt(token):
        principal: Principal = await clerk_principal(
            session,
            verifier,
            token,
            plan=request.app.state.settings.new_workspace_plan,
            workspace=request.headers.get(WORKSPACE_HEADER),
        )
        return principal
    return await authenticate(session, token)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
