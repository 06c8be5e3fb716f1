"""The reconciler's arithmetic and locks: crash backoff, give-up, leadership, flow locks."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from control_plane.pumps.locks import FlowBusy, LeaderLock, flow_lock, flow_lock_key
from control_plane.pumps.models import PumpRun
from control_plane.pumps.reconciler import leader_lock_key
from control_plane.pumps.transitions import crash_verdict
from control_plane.settings import Settings

NOW = datetime(2030, 1, 1, tzinfo=UTC)
POLICY = Settings(
    pump_crash_limit=5,
    pump_crash_window_seconds=600,
    pump_restart_backoff_seconds=1.0,
    pump_restart_backoff_max_seconds=4.0,
)


def run(crashes: int, window_started: datetime | None) -> PumpRun:
    return PumpRun(flow_id="f", tenant_id="t", backend="process", generation=1, crash_count=crashes,
                   crash_window_started_at=window_started)  # fmt: skip


def test_the_first_crash_restarts_at_once_then_the_delay_doubles_up_to_the_cap() -> None:
    delays = []
    record = run(0, None)
    for _ in range(4):
        verdict = crash_verdict(record, NOW, POLICY)
        assert not verdict.give_up and verdict.restart_at is not None
        delays.append((verdict.restart_at - NOW).total_seconds())
        record = run(verdict.crash_count, verdict.window_started_at)
    assert delays == [0.0, 1.0, 2.0, 4.0]
    final = crash_verdict(record, NOW, POLICY)
    assert final.give_up and final.crash_count == 5 and final.restart_at is None


def test_crashes_outside_the_window_start_a_new_count() -> None:
    verdict = crash_verdict(run(4, NOW - timedelta(seconds=601)), NOW, POLICY)
    assert (verdict.crash_count, verdict.window_started_at, verdict.give_up) == (1, NOW, False)
    assert verdict.restart_at == NOW


def test_the_leader_lock_key_is_per_database() -> None:
    first = leader_lock_key(Settings(database_url="postgresql://db-a/flowplane"))
    second = leader_lock_key(Settings(database_url="postgresql://db-b/flowplane"))
    assert first != second and first.startswith("flowplane:reconciler:leader:")
    assert leader_lock_key(Settings(reconciler_lock_key="mine")) == "mine"


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_one_leader_and_a_successor_after_release(redis: aioredis.Redis) -> None:
    key = f"test:leader:{uuid.uuid4().hex}"
    first, second = LeaderLock(redis, key, ttl=5), LeaderLock(redis, key, ttl=5)
    assert await first.hold() is True
    assert await second.hold() is False
    assert await first.hold() is True  # renews
    await second.release()  # not the holder: no effect
    assert await second.hold() is False
    await first.release()
    assert await second.hold() is True
    await second.release()


async def test_a_dead_leaders_lease_expires(redis: aioredis.Redis) -> None:
    key = f"test:leader:{uuid.uuid4().hex}"
    assert await LeaderLock(redis, key, ttl=0.2).hold()
    successor = LeaderLock(redis, key, ttl=5)
    assert await successor.hold() is False
    await asyncio.sleep(0.3)
    assert await successor.hold() is True
    await successor.release()


async def test_the_flow_lock_serializes_and_refuses_after_waiting(redis: aioredis.Redis) -> None:
    flow_id = uuid.uuid4().hex
    order: list[str] = []

    async def hold(name: str, seconds: float) -> None:
        async with flow_lock(redis, flow_id, wait=2):
            order.append(f"{name}+")
            await asyncio.sleep(seconds)
            order.append(f"{name}-")

    await asyncio.gather(hold("a", 0.2), hold("b", 0))
    assert order in (["a+", "a-", "b+", "b-"], ["b+", "b-", "a+", "a-"])
    async with flow_lock(redis, flow_id, wait=0):
        with pytest.raises(FlowBusy, match="being started or stopped by another request"):
            async with flow_lock(redis, flow_id, wait=0.1):
                pass


async def test_the_flow_lock_outlives_its_lease_while_held_and_not_its_crashed_holder(
    redis: aioredis.Redis,
) -> None:
    flow_id = uuid.uuid4().hex
    async with flow_lock(redis, flow_id, wait=0, lease=0.3):
        await asyncio.sleep(1.0)  # a long drain: renewed, still held
        with pytest.raises(FlowBusy):
            async with flow_lock(redis, flow_id, wait=0):
                pass
    # A holder that died (its lock left behind, nobody renewing it) frees it within the lease.
    await redis.set(flow_lock_key(flow_id), "dead-holder", px=300)
    async with flow_lock(redis, flow_id, wait=2):
        assert await redis.get(flow_lock_key(flow_id)) not in (None, "dead-holder", b"dead-holder")
