"""Stopping background tasks for good."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from pump.tasks import stop_tasks


async def stop_task(task: asyncio.Task[Any]) -> None:
    """Cancel `task` until it ends (`pump.tasks.stop_tasks`: once is not always enough), then
    raise what it failed with (if anything but the cancellation)."""
    await stop_tasks([task])
    with contextlib.suppress(asyncio.CancelledError):
        task.result()
