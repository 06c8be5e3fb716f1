"""A flow's queue: the trigger entries its pump has not finished, read from the stream's
consumer group (`XINFO GROUPS`): `waiting` (not yet delivered to the pump: the group's lag)
plus `in_progress` (delivered, not yet acknowledged: the group's pending count).

Used by the status API, `/metrics` (`flowplane_flow_queue_depth`), the trigger path's
backpressure (triggers/backpressure.py) and the reconciler's idle check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from control_plane.billing.tiers import tier_limits
from control_plane.settings import Settings
from pump.keys import TRIGGER_GROUP


def queue_limit(settings: Settings, tier: str) -> int:
    """Triggers a flow may have waiting or running: FLOWPLANE_MAX_QUEUED_PER_FLOW, else the
    tier's `max_queued_per_flow`."""
    return settings.max_queued_per_flow or tier_limits(tier).max_queued_per_flow


@dataclass(frozen=True)
class QueueDepth:
    waiting: int  # on the stream, not yet read by a pump
    in_progress: int  # read by a pump, not yet acknowledged

    @property
    def depth(self) -> int:
        return self.waiting + self.in_progress


async def queue_depths(redis: Redis, streams: list[str]) -> list[QueueDepth]:
    """The depth of each trigger stream (one pipeline round trip)."""
    if not streams:
        return []
    pipe = redis.pipeline(transaction=False)
    for stream in streams:
        pipe.xinfo_groups(stream)
        pipe.xlen(stream)
    replies = await pipe.execute(raise_on_error=False)
    depths: list[QueueDepth] = []
    for index in range(len(streams)):
        groups, length = replies[2 * index], replies[2 * index + 1]
        for reply in (groups, length):
            if isinstance(reply, Exception) and not isinstance(reply, ResponseError):
                raise reply  # Redis is away: the caller decides (503, or skip a metric)
        depths.append(_depth(groups, length))
    return depths


async def queue_depth(redis: Redis, stream: str) -> QueueDepth:
    (depth,) = await queue_depths(redis, [stream])
    return depth


def _depth(groups: Any, length: Any) -> QueueDepth:
    total = int(length) if isinstance(length, int) else 0
    if isinstance(groups, Exception):  # no stream yet
        return QueueDepth(waiting=total, in_progress=0)
    group = next((item for item in groups if item.get("name") == TRIGGER_GROUP), None)
    if group is None:  # no pump ever read it: everything waits
        return QueueDepth(waiting=total, in_progress=0)
    pending = int(group.get("pending") or 0)
    lag = group.get("lag")
    # lag is unknown (null) only after entries were deleted past the group's position; the
    # stream's length is then an upper bound of what waits
    waiting = int(lag) if lag is not None else max(total - pending, 0)
    return QueueDepth(waiting=waiting, in_progress=pending)
