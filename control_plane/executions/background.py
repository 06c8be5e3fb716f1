"""A background loop as an async context manager: runs `tick` every `interval` seconds until
the app stops; an exception is logged and the loop carries on at the next interval."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog

from control_plane.outages import log_failure
from control_plane.tasks import stop_task

log = structlog.get_logger("control_plane.background")


@asynccontextmanager
async def periodic(
    name: str, interval: Callable[[], float], tick: Callable[[], Awaitable[object]]
) -> AsyncIterator[asyncio.Task[None]]:
    async def loop() -> None:
        while True:
            try:
                await tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log_failure(log.bind(task=name), "background.tick_failed", error)
            await asyncio.sleep(interval())

    task = asyncio.get_running_loop().create_task(loop(), name=name)
    try:
        yield task
    finally:
        await stop_task(task)
