"""A flow's log lines (`tenant:{t}:flow:{f}:logs`, written by its pump) as Server-Sent Events:
the last `history` lines first, then new lines as they arrive (XREAD BLOCK), with a comment
line every `keepalive` seconds so proxies keep the connection open. A client that reconnects
with `Last-Event-ID` resumes after that line instead of replaying history."""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator
from typing import Any

import redis.asyncio as aioredis

from control_plane.json_limits import storable_text
from control_plane.pumps.schemas import LogLine
from pump.keys import LOG_STREAM_MAXLEN, FlowKeys

LOG_LEVELS = frozenset({"debug", "info", "warning", "error"})
KEEPALIVE_SECONDS = 15.0
READ_BATCH = 500
MAX_STREAM_ID_PART = 2**64 - 1  # a Redis stream id is two unsigned 64-bit numbers
MAX_MESSAGE_CHARS = 16_384  # a longer line (a pump writes what it likes) is cut on the way out


def stream_id_problem(entry_id: str) -> str | None:
    """Why `entry_id` cannot be a Redis stream id (`<ms>-<seq>`), or None when it can."""
    milliseconds, _, sequence = entry_id.partition("-")
    if not (milliseconds.isascii() and milliseconds.isdigit()):
        return "Last-Event-ID must look like 1700000000000-0 (an id this stream sent)"
    if not (sequence.isascii() and sequence.isdigit()):
        return "Last-Event-ID must look like 1700000000000-0 (an id this stream sent)"
    if len(entry_id) > 41 or max(int(milliseconds), int(sequence)) > MAX_STREAM_ID_PART:
        return "Last-Event-ID is not an id this stream can hold (each part fits in 64 bits)"
    return None


def log_line(entry_id: str, fields: dict[str, str]) -> LogLine:
    """A line as the pump wrote it, made presentable whatever it holds (pumps are untrusted)."""
    step = fields.get("step")
    try:
        ts = float(fields.get("ts", "0"))
    except ValueError:
        ts = 0.0
    level = fields.get("level", "info")
    return LogLine(
        id=entry_id,
        ts=ts if math.isfinite(ts) else 0.0,
        level=level if level in LOG_LEVELS else "info",
        message=storable_text(fields.get("message", ""), MAX_MESSAGE_CHARS),
        execution_id=storable_text(fields.get("execution_id") or "", 64) or None,
        listener=storable_text(fields.get("listener") or "", 64) or None,
        step=int(step) if step and step.isascii() and step.isdigit() and len(step) < 10 else None,
    )


def sse_message(line: LogLine) -> str:
    data = json.dumps(line.model_dump(exclude_none=True), separators=(",", ":"))
    return f"id: {line.id}\nevent: log\ndata: {data}\n\n"


async def log_events(
    redis: aioredis.Redis,
    keys: FlowKeys,
    *,
    history: int,
    last_event_id: str | None,
    follow: bool,
    keepalive: float = KEEPALIVE_SECONDS,
) -> AsyncIterator[str]:
    cursor = "$"
    if last_event_id:
        cursor = last_event_id
        if not follow:  # what was written since that line, then stop
            since: Any = await redis.xrange(keys.logs, min=f"({cursor}", count=LOG_STREAM_MAXLEN)
            for entry_id, fields in since:
                yield sse_message(log_line(entry_id, fields))
            return
    elif history > 0:
        entries: Any = await redis.xrevrange(keys.logs, count=history)
        for entry_id, fields in reversed(entries):
            yield sse_message(log_line(entry_id, fields))
        if entries:
            cursor = entries[0][0]
    if not follow:
        return
    if cursor == "$":
        # "$" would skip lines written between this read and the next: pin the current end.
        newest: Any = await redis.xrevrange(keys.logs, count=1)
        cursor = newest[0][0] if newest else "0-0"
    yield ": connected\n\n"
    while True:
        response: Any = await redis.xread(
            {keys.logs: cursor}, count=READ_BATCH, block=int(keepalive * 1000)
        )
        if not response:
            yield ": keepalive\n\n"
            continue
        for entry_id, fields in response[0][1]:
            cursor = entry_id
            yield sse_message(log_line(entry_id, fields))
