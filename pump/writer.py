"""Group commit of the pump's Redis writes.

Every execution queues its commands (event XADDs, thread-buffer pushes, acknowledgements) here;
one background task sends whatever has accumulated as a single pipeline, so a thousand
executions a second cost a few hundred round trips, not tens of thousands. Commands keep their
queue order, which is what makes "acknowledge only after the final event is written" hold:
the XACK of an execution is queued after its final XADD and Redis applies them in order."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from pump.resp import Command, RespConnection, RespError, bulk

logger = logging.getLogger("pump.writer")

RETRY_DELAYS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.0)


class RedisWriter:
    def __init__(self, redis_url: str) -> None:
        self._connection = RespConnection(redis_url)
        self._pending: list[Command] = []
        self._acks: dict[tuple[str, str], list[str]] = {}
        self._forget_after_ack: list[str] = []  # keys to delete once their batch is applied
        self._waiters: list[asyncio.Future[None]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self._packed: dict[tuple[Any, ...], tuple[bytes, tuple[bytes, ...]]] = {}
        self.commands_written = 0
        self.round_trips = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(), name="redis-writer")

    def send(self, *command: Any) -> None:
        self._pending.append(command)
        self._wake.set()

    def xadd(self, key: str, fields: dict[str, str], *, maxlen: int | None = None) -> None:
        shape = (key, maxlen, *fields)
        prefix = self._packed.get(shape)
        if prefix is None:  # the command, key and field names of this shape, packed once
            args: list[Any] = ["XADD", key, *(("MAXLEN", "~", maxlen) if maxlen else ()), "*"]
            head = b"*%d\r\n" % (len(args) + 2 * len(fields)) + b"".join(map(bulk, args))
            prefix = self._packed[shape] = (head, tuple(bulk(name) for name in fields))
        head, names = prefix
        parts = [head]
        for name, value in zip(names, fields.values(), strict=True):
            data = value.encode()
            parts.append(name)
            parts.append(b"$%d\r\n%b\r\n" % (len(data), data))
        self._pending.append(b"".join(parts))
        self._wake.set()

    def ack(self, stream: str, group: str, entry_id: str, *, forget: str | None = None) -> None:
        """XACK after everything queued so far; acks of one round trip share one XACK.
        `forget` is a key deleted once Redis has applied the XACK (the finished marker, which
        only matters while the entry is unacknowledged)."""
        self._acks.setdefault((stream, group), []).append(entry_id)
        if forget is not None:
            self._forget_after_ack.append(forget)
        self._wake.set()

    async def sync(self) -> None:
        """Return once every command queued before this call is applied by Redis."""
        if self._task is None:
            raise RuntimeError("the writer is not started")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiters.append(waiter)
        self._wake.set()
        await waiter

    async def close(self) -> None:
        """Write what is queued, then stop."""
        if self._task is None:
            return
        self._closing = True
        self._wake.set()
        await self._task
        self._task = None
        await self._connection.close()

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._pending or self._acks or self._waiters:
                batch, self._pending = self._pending, []
                for (stream, group), ids in self._acks.items():
                    batch.append(("XACK", stream, group, *ids))
                self._acks = {}
                forget, self._forget_after_ack = self._forget_after_ack, []
                waiters, self._waiters = self._waiters, []
                if batch:
                    await self._write(batch)
                if forget:
                    self._pending.append(("UNLINK", *forget))
                for waiter in waiters:
                    if not waiter.done():
                        waiter.set_result(None)
            if self._closing:
                return

    async def _write(self, batch: list[Command]) -> None:
        attempt = 0
        while True:
            try:
                if not self._connection.connected:
                    await self._connection.connect()
                replies = await self._connection.execute(batch)
            except (ConnectionError, OSError, TimeoutError) as error:
                # Redis is unreachable: keep the batch (executions wait on it) and retry.
                # A batch that was half applied is sent again: events are at-least-once.
                delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
                attempt += 1
                logger.warning("redis write failed (%s); retrying in %.2fs", error, delay)
                await asyncio.sleep(delay)
                continue
            self.round_trips += 1
            self.commands_written += len(batch)
            failures = [reply for reply in replies if isinstance(reply, RespError)]
            if failures:
                logger.error(
                    "%d of %d redis commands failed, first: %s",
                    len(failures),
                    len(batch),
                    failures[0],
                )
            return
