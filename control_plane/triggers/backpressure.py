"""Backpressure: refuse a trigger fast, before any work, when it could not be served in time.

- Redis is restarting or loading its dataset: 503 with Retry-After (nothing would be stored).
- This process already admits `max_in_flight_triggers` triggers: 503 with Retry-After (the app
  itself is saturated; clients would time out while their request was executed anyway).
- The flow already has `max_queued_per_flow` triggers waiting or running (the tier's limit
  unless FLOWPLANE_MAX_QUEUED_PER_FLOW is set): 429 with Retry-After.

A flow's depth is read from its stream's consumer group at most every
`queue_depth_cache_seconds` (one XINFO per flow and interval, shared by concurrent requests)
and topped up with what this process admitted since; several replicas may together overshoot
the bound by what they admit within one interval."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from redis.asyncio import Redis

from control_plane.billing.tiers import UPGRADE_URL
from control_plane.errors import ServiceUnavailable, TooManyRequests
from control_plane.outages import redis_unavailable
from control_plane.pumps.queue import queue_depth, queue_limit
from control_plane.redis import RedisConnections
from control_plane.settings import Settings
from control_plane.triggers.catalog import FlowTriggers


@dataclass
class _Reading:
    depth: int
    read_at: float
    admitted: int = 0  # by this process since the reading


class Backpressure:
    def __init__(self, connections: RedisConnections, settings: Settings) -> None:
        self._connections = connections
        self._max_in_flight = settings.max_in_flight_triggers
        self._settings = settings
        self._cache_seconds = settings.queue_depth_cache_seconds
        self._readings: dict[str, _Reading] = {}
        self._reads: dict[str, asyncio.Task[int]] = {}
        self.in_flight = 0

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the process's trigger slots while a trigger is admitted."""
        self.ensure_open()
        self.in_flight += 1
        try:
            yield
        finally:
            self.in_flight -= 1

    def ensure_open(self) -> None:
        """Refuse with 503 while Redis is away or every slot is taken."""
        if not self._connections.ready:
            raise ServiceUnavailable(
                "Redis is restarting or loading its data; the trigger was not stored, "
                "send it again shortly"
            )
        if self.in_flight >= self._max_in_flight:
            raise ServiceUnavailable(
                f"the control plane is admitting {self.in_flight:,} triggers already (setting "
                "FLOWPLANE_MAX_IN_FLIGHT_TRIGGERS); the trigger was not stored, send it again "
                "shortly"
            )

    def limit(self, tier: str) -> int:
        return queue_limit(self._settings, tier)

    async def check(self, flow: FlowTriggers) -> None:
        """Refuse with 429 when the flow's queue is full."""
        limit = self.limit(flow.tier)
        depth = await self.depth(flow)
        if depth >= limit:
            raise TooManyRequests(
                f"flow {flow.flow_id} has {depth:,} triggers waiting or running, the most it "
                f"may have (limit {limit:,}); the trigger was not stored, send it again shortly",
                limit="max_queued_per_flow",
                upgrade_url=UPGRADE_URL,
            )

    def admitted(self, flow_id: str, count: int = 1) -> None:
        reading = self._readings.get(flow_id)
        if reading is not None:
            reading.admitted += count

    async def depth(self, flow: FlowTriggers) -> int:
        reading = self._readings.get(flow.flow_id)
        if reading is None or time.monotonic() - reading.read_at >= self._cache_seconds:
            task = self._reads.get(flow.flow_id)
            if task is None:  # one read per flow at a time; concurrent requests share it
                task = asyncio.get_running_loop().create_task(self._read(flow))
                self._reads[flow.flow_id] = task
                task.add_done_callback(lambda _: self._reads.pop(flow.flow_id, None))
            depth = await asyncio.shield(task)
            reading = self._readings.get(flow.flow_id) or _Reading(depth, time.monotonic())
        return reading.depth + reading.admitted

    async def _read(self, flow: FlowTriggers) -> int:
        redis: Redis = self._connections.client
        try:
            depth = (await queue_depth(redis, flow.keys.triggers)).depth
        except Exception as error:
            if redis_unavailable(error):
                self._connections.report_unreachable()
            raise
        self._readings[flow.flow_id] = _Reading(depth, time.monotonic())
        return depth
