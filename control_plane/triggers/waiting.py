"""`?wait=true`: wait for an execution's final event on its flow's events stream.

Reading the pump's events directly (rather than polling the recorder's tables) answers as soon
as the pump finishes and works on replicas that run no recorder. One tail task per stream
serves every waiter of that flow in this process; a waiter registers before its trigger is
enqueued and the tail starts from the stream's end at that moment, so no final event can be
missed."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

import structlog
from redis.asyncio import Redis

from control_plane.tasks import stop_task
from pump.events import SEGMENT_END_TYPES, Event

log = structlog.get_logger("control_plane.triggers")
READ_BLOCK_MS = 1000
READ_COUNT = 1000


@dataclass(frozen=True)
class Outcome:
    status: str  # succeeded | failed | waiting (a builtin.wait parked it)
    outputs: Any = None
    error: str | None = None
    reason: str | None = None


def outcome_of(event: Event) -> Outcome:
    if event.type == "execution.completed":
        return Outcome(status="succeeded", outputs=event.data.get("outputs"))
    if event.type == "execution.waiting":
        return Outcome(status="waiting")
    error = event.data.get("error")
    return Outcome(
        status="failed",
        error=str(error) if error is not None else None,
        reason=event.data.get("reason"),
    )


@dataclass
class _Tail:
    position: str
    waiters: dict[str, asyncio.Future[Outcome]] = field(default_factory=dict)
    task: asyncio.Task[None] | None = None


class CompletionWatcher:
    def __init__(self, redis: Redis) -> None:
        self._redis = redis
        self._tails: dict[str, _Tail] = {}
        self._starting: dict[str, asyncio.Lock] = {}

    async def register(self, stream: str, execution_id: str) -> asyncio.Future[Outcome]:
        """A future resolved by the execution's final event. Call before enqueueing it."""
        lock = self._starting.setdefault(stream, asyncio.Lock())
        async with lock:
            tail = self._tails.get(stream)
            if tail is None:
                latest: Any = await self._redis.xrevrange(stream, count=1)
                tail = _Tail(position=str(latest[0][0]) if latest else "0-0")
                self._tails[stream] = tail
            future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
            tail.waiters[execution_id] = future
            if tail.task is None or tail.task.done():
                tail.task = asyncio.get_running_loop().create_task(
                    self._follow(stream, tail), name=f"wait-{stream}"
                )
        return future

    def unregister(self, stream: str, execution_id: str) -> None:
        tail = self._tails.get(stream)
        if tail is not None:
            tail.waiters.pop(execution_id, None)

    async def close(self) -> None:
        tasks = [tail.task for tail in self._tails.values() if tail.task is not None]
        for task in tasks:
            await stop_task(task)
        self._tails.clear()

    async def _follow(self, stream: str, tail: _Tail) -> None:
        try:
            while tail.waiters:
                try:
                    response: Any = await self._redis.xread(
                        {stream: tail.position}, count=READ_COUNT, block=READ_BLOCK_MS
                    )
                except Exception as error:
                    log.warning("trigger.wait_read_failed", stream=stream, error=str(error))
                    await asyncio.sleep(0.5)
                    continue
                for _, entries in response or []:
                    for entry_id, fields in entries:
                        tail.position = entry_id
                        self._deliver(tail, fields)
        finally:
            if self._tails.get(stream) is tail and not tail.waiters:
                del self._tails[stream]

    @staticmethod
    def _deliver(tail: _Tail, fields: dict[str, str]) -> None:
        if fields.get("type") not in SEGMENT_END_TYPES:
            return
        future = tail.waiters.get(fields.get("execution_id", ""))
        if future is None or future.done():
            return
        try:
            future.set_result(outcome_of(Event.decode(fields)))
        except (ValueError, KeyError) as error:
            log.warning("trigger.wait_bad_event", error=str(error))
