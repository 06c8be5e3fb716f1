"""The accounts service of the app: the Clerk verifier (`app.state.clerk`, None without
CLERK_ISSUER) with its JWKS cache, and (with background tasks) the hourly purge of workspaces
whose deletion date passed (their owner was deleted in Clerk)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI
from sqlalchemy.exc import SQLAlchemyError

from control_plane.accounts.clerk import ClerkVerifier
from control_plane.accounts.clerk_webhooks import purge_deleted_workspaces
from control_plane.settings import Settings
from control_plane.tasks import stop_task

log = structlog.get_logger("control_plane.accounts")
PURGE_INTERVAL_SECONDS = 3600.0


@asynccontextmanager
async def accounts_service(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    app.state.clerk = ClerkVerifier(settings) if settings.clerk_enabled else None
    task = asyncio.create_task(_purge_loop(app)) if settings.background_tasks else None
    try:
        yield
    finally:
        if task is not None:
            await stop_task(task)


async def _purge_loop(app: FastAPI) -> None:
    while True:
        try:
            async with app.state.sessionmaker() as session, session.begin():
                purged = await purge_deleted_workspaces(session)
            if purged:
                log.info("accounts.workspaces_purged", count=purged)
        except (SQLAlchemyError, OSError) as error:
            log.warning("accounts.purge_failed", error=str(error))
        await asyncio.sleep(PURGE_INTERVAL_SECONDS)
