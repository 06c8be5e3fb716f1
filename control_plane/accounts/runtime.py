"""The accounts service of the app: the Clerk verifier (`app.state.clerk`, None without
CLERK_ISSUER) with its JWKS cache."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from control_plane.accounts.clerk import ClerkVerifier
from control_plane.settings import Settings


@asynccontextmanager
async def accounts_service(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.clerk = ClerkVerifier(settings) if settings.clerk_enabled else None
    yield
