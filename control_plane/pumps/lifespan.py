"""Wiring into the app: the orchestrator on `app.state.pumps` for every replica, the
reconciler for replicas that run background tasks, and the `pumps` part of `/health`."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import structlog
from fastapi import FastAPI, Request

from control_plane.health.endpoints import HEALTH_CHECKS
from control_plane.pumps.keylayout import migrate_when_possible
from control_plane.pumps.orchestrator import Orchestrator
from control_plane.pumps.reconciler import Reconciler
from control_plane.tasks import stop_task


@asynccontextmanager
async def pumps_service(app: FastAPI) -> AsyncIterator[None]:
    migrating = await migrate_when_possible(
        app.state.redis.client,
        app.state.sessionmaker,
        app.state.settings.resolved_database_url,
        cluster=app.state.redis.cluster,
    )
    pumps = Orchestrator(app.state.settings, app.state.redis, blobs=app.state.blobs)
    pumps.marketplace_public_key = getattr(app.state, "marketplace_public_key", "")
    app.state.pumps = pumps
    reconciler: Reconciler | None = None
    task: asyncio.Task[None] | None = None
    if app.state.settings.background_tasks:
        reconciler = Reconciler(app)
        app.state.redis.on_restart.append(reconciler.kick)  # ACL users are lost: act now
        task = asyncio.create_task(reconciler.run(), name="pump-reconciler")
    app.state.reconciler = reconciler
    try:
        yield
    finally:
        if task is not None and reconciler is not None:
            reconciler.stop()
            try:
                await stop_task(task)
            except Exception as error:
                structlog.get_logger("control_plane.pumps").error(
                    "reconciler.failed", error=repr(error)
                )
            await reconciler.close()
        if migrating is not None:
            await stop_task(migrating)
        await pumps.close()


async def pumps_health(request: Request) -> tuple[str, dict[str, Any]]:
    pumps: Orchestrator | None = getattr(request.app.state, "pumps", None)
    if pumps is None:
        return "pumps", {"ok": False, "error": "the pump orchestrator is not started"}
    body = pumps.health()
    reconciler: Reconciler | None = getattr(request.app.state, "reconciler", None)
    if reconciler is not None:
        body["reconciler"] = {"leader": reconciler.leading, "passes": reconciler.passes}
    return "pumps", body


if pumps_health not in HEALTH_CHECKS:
    HEALTH_CHECKS.append(pumps_health)
