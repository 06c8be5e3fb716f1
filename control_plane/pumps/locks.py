"""Redis locks shared by every control-plane replica: the reconciler's leadership and a
per-flow lock that serializes starting and stopping a flow's pump. Both are tokens with a TTL,
renewed or released only by their holder (compare-and-set in Lua)."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from control_plane.errors import ServiceUnavailable

HOLD_OR_TAKE = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if not holder then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""
RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""
POLL_SECONDS = 0.02


class LeaderLock:
    """One leader among the replicas; it renews its lease every pass, so a dead leader is
    replaced after `ttl` seconds."""

    def __init__(self, redis: aioredis.Redis, key: str, ttl: float) -> None:
        self.redis = redis
        self.key = key
        self.ttl_ms = max(1, int(ttl * 1000))
        self.token = secrets.token_hex(16)

    async def hold(self) -> bool:
        """Renew the lease if held, take it if free; True when this replica leads."""
        held = await self.redis.eval(HOLD_OR_TAKE, 1, self.key, self.token, self.ttl_ms)
        return bool(held)

    async def take_over(self) -> None:
        """Take the lease whoever holds it (only where no other replica can exist)."""
        await self.redis.set(self.key, self.token, px=self.ttl_ms)

    async def release(self) -> None:
        await self.redis.eval(RELEASE, 1, self.key, self.token)


def flow_lock_key(flow_id: str) -> str:
    return f"flowplane:pumps:lock:{flow_id}"


@asynccontextmanager
async def flow_lock(
    redis: aioredis.Redis, flow_id: str, *, ttl: float, wait: float
) -> AsyncIterator[None]:
    """Hold the flow's lifecycle lock. Waits up to `wait` seconds for another holder (a replica
    starting or stopping the same flow), then refuses with a 503 that says so."""
    key, token = flow_lock_key(flow_id), secrets.token_hex(16)
    deadline = time.monotonic() + wait
    while not await redis.set(key, token, nx=True, px=max(1, int(ttl * 1000))):
        if time.monotonic() >= deadline:
            raise FlowBusy(
                f"flow {flow_id} is being started or stopped by another request; try again shortly"
            )
        await asyncio.sleep(POLL_SECONDS)
    try:
        yield
    finally:
        await redis.eval(RELEASE, 1, key, token)


class FlowBusy(ServiceUnavailable):
    pass
