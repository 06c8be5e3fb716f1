"""Requests from the control plane on the flow's `...:control` stream (capped): today only
`{type: cancel, execution_id}`. A pump reads them as they come (XREAD BLOCK) and, when it
starts, those of the last `CONTROL_LOOKBACK_SECONDS` (a cancel sent while no pump ran)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError

from pump.keys import CONTROL_LOOKBACK_SECONDS, FlowKeys

logger = logging.getLogger("pump.control")


async def read_control(
    client: Redis,
    keys: FlowKeys,
    cancel: Callable[[str], None],
    heard: dict[str, float],
    caught_up: asyncio.Event,
) -> None:
    """Call `cancel(execution_id)` for each cancel request, forever; forget ids in `heard`
    (execution id -> when) older than the lookback. `caught_up` is set once the requests of
    the lookback are read (the pump waits for it before resuming a predecessor's entries)."""
    last = f"{int((time.time() - CONTROL_LOOKBACK_SECONDS) * 1000)}-0"
    while True:
        try:
            block = 1000 if caught_up.is_set() else None
            reply: Any = await client.xread({keys.control: last}, count=100, block=block)
        except (RedisError, OSError) as error:
            logger.warning("reading control requests failed: %s", error)
            await asyncio.sleep(1.0)
            continue
        for _stream, items in reply or []:
            for entry_id, fields in items:
                last = entry_id
                request: dict[str, str] = fields or {}
                if request.get("type") == "cancel" and request.get("execution_id"):
                    cancel(request["execution_id"])
        if not reply:
            caught_up.set()
        horizon = time.time() - CONTROL_LOOKBACK_SECONDS
        for execution_id, moment in list(heard.items()):
            if moment < horizon:
                del heard[execution_id]
