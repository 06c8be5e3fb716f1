"""Redis locks shared by every control-plane replica: the reconciler's leadership and a
per-flow lock that serializes starting and stopping a flow's pump. Both are tokens with a TTL,
renewed or released only by their holder (compare-and-set in Lua)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

from control_plane.errors import ServiceUnavailable
from control_plane.tasks import stop_task

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
RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
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
FLOW_LOCK_LEASE_SECONDS = 5.0


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
    redis: aioredis.Redis, flow_id: str, *, wait: float, lease: float = FLOW_LOCK_LEASE_SECONDS
) -> AsyncIterator[None]:
    """Hold the flow's lifecycle lock. Waits up to `wait` seconds for another holder (a replica
    starting or stopping the same flow), then refuses with a 503 that says so. The lock is a
    short lease renewed while held, so a holder that crashed frees it within `lease` seconds
    (a stop may drain for longer than any fixed TTL)."""
    key, token = flow_lock_key(flow_id), secrets.token_hex(16)
    lease_ms = max(1, int(lease * 1000))
    deadline = time.monotonic() + wait
    while not await redis.set(key, token, nx=True, px=lease_ms):
        if time.monotonic() >= deadline:
            raise FlowBusy(
                f"flow {flow_id} is being started or stopped by another request; try again shortly"
            )
        await asyncio.sleep(POLL_SECONDS)

    async def renew() -> None:
        while True:
            await asyncio.sleep(lease / 3)
            with contextlib.suppress(Exception):  # an outage: the lease may lapse, as it should
                await redis.eval(RENEW, 1, key, token, lease_ms)

    renewal = asyncio.get_running_loop().create_task(renew(), name=f"flow-lock-{flow_id}")
    try:
        yield
    finally:
        await stop_task(renewal)
        await redis.eval(RELEASE, 1, key, token)


class FlowBusy(ServiceUnavailable):
    pass
