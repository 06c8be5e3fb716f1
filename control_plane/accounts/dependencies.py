"""FastAPI dependencies that resolve a request to a `Principal` (user, tenant, tier).

Other domains import `Principal`, `current_principal` and, for endpoints that browsers reach
through EventSource (which cannot send headers), `current_principal_allowing_query_token`."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Query
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from control_plane.accounts.service import Principal, authenticate
from control_plane.db import DatabaseSession
from control_plane.errors import Unauthorized

__all__ = [
    "CurrentPrincipal",
    "Principal",
    "current_principal",
    "current_principal_allowing_query_token",
]

_bearer = HTTPBearer(
    auto_error=False,
    description="A session token (`fps_...`, from log-in) or an API key (`fpk_...`)",
)
MISSING_TOKEN = "authentication required: send the header 'Authorization: Bearer <token>'"


async def current_principal(
    session: DatabaseSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized(MISSING_TOKEN)
    return await authenticate(session, credentials.credentials)


async def current_principal_allowing_query_token(
    session: DatabaseSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    token: Annotated[
        str | None,
        Query(description="The bearer token, for clients that cannot send headers (SSE)"),
    ] = None,
) -> Principal:
    if credentials is not None:
        return await authenticate(session, credentials.credentials)
    if token:
        return await authenticate(session, token)
    raise Unauthorized(MISSING_TOKEN)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
