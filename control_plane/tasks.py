"""Stopping background tasks for good."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel `task` until it ends, then raise what it failed with (if anything but the
    cancellation). Once is not always enough: a cancellation that lands while redis-py reads a
    reply can be turned into a timeout or swallowed by the client, and the task would run on
    (an app's shutdown then waits for it forever)."""
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=1.0)
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
