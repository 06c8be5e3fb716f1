"""Asyncio tasks: stopping them for good (the pump's and the control plane's), and showing
where each task of a pump waits (SIGUSR1)."""

from __future__ import annotations

import asyncio
import sys
from typing import Any


def dump_tasks() -> None:
    """SIGUSR1: write where every asyncio task waits to stderr (for a pump that seems stuck)."""
    for task in asyncio.all_tasks():
        lines = [repr(task)]
        awaited: Any = task.get_coro()
        while awaited is not None:
            frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
            if frame is not None:
                code = frame.f_code
                lines.append(f"  {code.co_filename}:{frame.f_lineno} {code.co_name}")
            awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        print("\n".join(lines), file=sys.stderr, flush=True)


async def stop_tasks(tasks: list[asyncio.Task[Any]]) -> None:
    """Cancel `tasks` until they end. Once is not always enough: a cancel that lands while
    redis-py reads a reply can be swallowed (the task stays "cancelling" and reads on for good;
    3 of 600 cancels of a blocking XREAD with redis-py 8.2), and a process stopping would wait
    for it forever. The control plane's `control_plane.tasks.stop_task` runs this too."""
    running = set(tasks)
    while running:
        for task in running:
            task.cancel()
        _, running = await asyncio.wait(running, timeout=1.0)
