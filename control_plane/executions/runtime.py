"""The executions domain's background work: the recorder and retention, on replicas with
`background_tasks` on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager

from fastapi import FastAPI

from control_plane.executions.recorder import run_recorder
from control_plane.executions.retention import run_retention
from control_plane.settings import Settings


@asynccontextmanager
async def executions_service(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    async with AsyncExitStack() as stack:
        if settings.background_tasks:
            await stack.enter_async_context(run_recorder(app))
            await stack.enter_async_context(run_retention(app))
        yield
