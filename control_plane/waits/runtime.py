"""Background work of waits, one-off jobs, callbacks and stall detection, on replicas with
`background_tasks` on. Every replica runs the loops; row claims keep each action to one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from control_plane.callbacks.delivery import Deliverer
from control_plane.callbacks.secret import seal_clear_secrets
from control_plane.executions.background import periodic
from control_plane.executions.stalls import detect_stalls
from control_plane.jobs import service as jobs
from control_plane.settings import Settings
from control_plane.waits import service
from control_plane.waits.kept import resume_with_kept_events


@asynccontextmanager
async def waits_service(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        if settings.background_tasks:
            await seal_clear_secrets(app.state.engine, app.state.pumps.secret_box)
            deliverer = Deliverer(app)
            stack.push_async_callback(deliverer.close)

            async def tick() -> None:
                await service.fire_due(app)
                await resume_with_kept_events(app)
                await jobs.fire_due(app)
                await service.recover_stuck(app, settings.wait_recover_seconds)

            async def stalls() -> None:
                await detect_stalls(app)

            await stack.enter_async_context(
                periodic("waits", lambda: settings.wait_poll_seconds, tick)
            )
            await stack.enter_async_context(
                periodic("callbacks", lambda: settings.wait_poll_seconds, deliverer.tick)
            )
            await stack.enter_async_context(
                periodic("stalls", lambda: settings.stall_interval_seconds, stalls)
            )
        yield
