"""FastAPI dependencies that resolve a request to a `Principal` (user, tenant, tier).

Other domains import `Principal` and `current_principal`. The token is only ever read from the
`Authorization` header, never from the URL (where access logs, proxies and the browser's
history would keep it): the editor reads the logs stream with fetch, not EventSource."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

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


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
