"""`python -m pump`: serve one flow until SIGTERM, then drain in-flight executions and exit 0."""

from __future__ import annotations

import asyncio
import inspect
import logging
import os
import signal
import time
from typing import Any

from pydantic import ValidationError
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from pump import __version__
from pump.cluster import SlotClient
from pump.control import read_control
from pump.engine import Execution
from pump.events import TriggerEntry, run_key_of
from pump.flow import Flow
from pump.keys import (
    HEARTBEAT_TTL_SECONDS,
    LOG_STREAM_MAXLEN,
    TRIGGER_GROUP,
)
from pump.organism import Organism, parse_organism
from pump.resp import RespConnection
from pump.services import Services
from pump.settings import PumpSettings
from pump.tasks import dump_tasks, stop_tasks
from pump.triggers import Entry, TriggerStream
from pump.unrunnable import fail_poison, reject_malformed, skip_cancelled
from pump.wasm.abi import InvocationFailure
from pump.writer import RedisWriter

logger = logging.getLogger("pump")

READ_BATCH = 256
READ_BLOCK_MS = 500
MAINTENANCE_SECONDS = 1.0
HEARTBEAT_SECONDS = HEARTBEAT_TTL_SECONDS / 3
CONSUMER_CLEANUP_SECONDS = 300.0


def redis_client(url: str) -> Redis:
    """The pump's redis-py client: follows Redis Cluster redirects to its slot's node."""
    # no CLIENT SETINFO: the per-flow ACL user need not be allowed to run it
    if "driver_info" in inspect.signature(Redis.__init__).parameters:
        return SlotClient.from_url(url, decode_responses=True, driver_info=None)
    return SlotClient.from_url(url, decode_responses=True, lib_name=None, lib_version=None)


class Pump:
    def __init__(self, settings: PumpSettings, organism: Organism | None = None) -> None:
        self.settings = settings
        self.organism = organism or parse_organism(settings.organism_yaml)
        self.client = redis_client(settings.redis_url)
        self.writer = RedisWriter(settings.redis_url)
        self.in_flight: dict[str, asyncio.Task[None]] = {}
        self.processed = 0
        self.failed = 0
        self.started_at = time.time()
        self.status = "starting"
        self._stopping = asyncio.Event()
        self._slot_freed = asyncio.Event()
        self.flow: Flow | None = None
        self.stream: TriggerStream | None = None
        # Entries on their last allowed delivery: each runs alone (nothing else in flight), so
        # a pump death during it is that entry's doing and not a neighbour's.
        self._last_chance: dict[str, dict[str, str]] = {}
        self._alone: str | None = None  # the last-chance entry running now
        # execution id -> (its entry, the running execution)
        self.executions: dict[str, tuple[str, Execution]] = {}
        # Executions the control plane cancelled (id -> when heard), kept for the lookback so
        # that an entry of one arriving later is not run.
        self.cancelled: dict[str, float] = {}
        self._control_read = asyncio.Event()

    def stop(self) -> None:
        if not self._stopping.is_set():
            logger.info("stop requested: draining %d in-flight executions", len(self.in_flight))
            self._stopping.set()
            self._slot_freed.set()

    async def run(self) -> int:
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.stop)
        loop.add_signal_handler(signal.SIGUSR1, dump_tasks)
        self.writer.start()
        services = Services(self.settings, self.organism, self.client, self.writer)
        self.flow = flow = Flow(self.organism, services)
        self.stream = TriggerStream(
            self.client,
            RespConnection(self.settings.redis_url),
            flow.keys,
            self.settings.consumer,
            int(self.settings.reclaim_idle_seconds * 1000),
        )
        if not await self._connect():  # stopped before Redis could be reached
            await self.writer.close()
            await services.aclose()
            await self.client.aclose()
            return 0
        background = [
            loop.create_task(self._heartbeat_loop(), name="heartbeat"),
            loop.create_task(self._maintenance_loop(), name="maintenance"),
            loop.create_task(self._preload_modules(flow), name="preload"),
            loop.create_task(self._control_loop(), name="control"),
        ]
        self.status = "running"
        self._heartbeat()
        self.log("info", f"pump {__version__} serving as consumer {self.settings.consumer}")
        try:
            try:
                async with asyncio.timeout(2.0):  # cancels sent while no pump ran come first
                    await self._control_read.wait()
            except TimeoutError:
                logger.warning("control requests not read yet; resuming entries anyway")
            try:
                await self._resume(await self.stream.read_own_pending(self.settings.concurrency))
                await self._reclaim()
            except (RedisError, OSError) as error:  # the maintenance loop retries every second
                logger.warning("resuming pending triggers failed: %s", error)
            await self._read_loop()
            self.status = "draining"
            self._heartbeat()
            while self.in_flight:
                await asyncio.gather(*list(self.in_flight.values()), return_exceptions=True)
        finally:
            await stop_tasks(background)
            self.status = "stopped"
            self._heartbeat()
            await self.writer.close()
            await self.stream.close()
            await services.aclose()
            await self.client.aclose()
        logger.info("stopped after %d executions", self.processed)
        return 0

    async def _connect(self) -> bool:
        """Create the consumer group, waiting for Redis; False if stopped meanwhile."""
        assert self.stream is not None
        delay = 0.1
        while not self._stopping.is_set():
            try:
                await self.stream.ensure_group()
                return True
            except (RedisConnectionError, RedisTimeoutError, OSError) as error:
                logger.warning("redis unreachable (%s); retrying in %.1fs", error, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
        return False

    async def _read_loop(self) -> None:
        assert self.stream is not None
        concurrency = self.settings.concurrency
        while not self._stopping.is_set():
            if self._last_chance or self._alone is not None:
                if self._alone is None and not self.in_flight:
                    await self._run_alone()
                else:
                    self._slot_freed.clear()
                    await self._slot_freed.wait()
                continue
            free = concurrency - len(self.in_flight)
            if free <= 0:
                self._slot_freed.clear()
                await self._slot_freed.wait()
                continue
            try:
                entries = await self.stream.read_new(min(free, READ_BATCH), READ_BLOCK_MS)
            except (ConnectionError, RedisConnectionError, RedisTimeoutError, OSError) as error:
                logger.warning("reading triggers failed (%s); retrying", error)
                await asyncio.sleep(0.5)
                continue
            for entry_id, fields in entries:
                self._start(entry_id, fields, reclaimed=False)

    def _start(self, entry_id: str, fields: dict[str, str], *, reclaimed: bool) -> None:
        assert self.flow is not None and self.stream is not None
        if entry_id in self.in_flight:
            return
        try:
            entry = TriggerEntry.decode(fields)
        except (KeyError, ValueError, ValidationError) as error:
            self._reject(entry_id, fields, error)
            return
        if entry.execution_id in self.cancelled:
            self._skip_cancelled(entry_id, entry)
            return
        task = asyncio.get_running_loop().create_task(self._execute(entry_id, entry, reclaimed))
        self.in_flight[entry_id] = task

    async def _execute(self, entry_id: str, entry: TriggerEntry, reclaimed: bool) -> None:
        assert self.flow is not None and self.stream is not None
        execution = Execution(self.flow, entry, reclaimed=reclaimed)
        self.executions[entry.execution_id] = (entry_id, execution)
        try:
            outcome = await execution.run()
            if outcome.status == "failed":
                self.failed += 1
            self.writer.ack(
                self.flow.keys.triggers,
                TRIGGER_GROUP,
                entry_id,
                forget=self.flow.keys.execution_state(entry.run_key),
            )
            await self.writer.sync()
        finally:
            self.processed += 1
            del self.in_flight[entry_id]
            if self.executions.get(entry.execution_id, ("", None))[1] is execution:
                del self.executions[entry.execution_id]
            if entry_id == self._alone:
                self._alone = None
            self._slot_freed.set()

    async def _run_alone(self) -> None:
        assert self.stream is not None
        entry_id = next(iter(self._last_chance))
        fields = self._last_chance.pop(entry_id)
        self.log("warning", f"running execution {fields.get('execution_id')} alone: last delivery")
        # Counted as delivered `limit` times only now that it runs (written before it starts):
        # a death from here on is its own.
        self.writer.send(*self.stream.count_command(entry_id, self.settings.delivery_limit))
        await self.writer.sync()
        self._start(entry_id, fields, reclaimed=True)
        if entry_id in self.in_flight:
            self._alone = entry_id

    def _poison(self, entry_id: str, fields: dict[str, str], deliveries: int) -> None:
        """An entry whose pump died every time it ran it: fail its execution, acknowledge it,
        and go on serving the flow."""
        assert self.flow is not None
        message = (
            f"the trigger was delivered {deliveries - 1} times and its pump stopped each time "
            "before finishing it (it crashed or was killed; the last time it ran alone), so it "
            f"is not run again (delivery limit {self.settings.delivery_limit})"
        )
        self.log("error", f"execution {fields.get('execution_id', '')}: {message}")
        self.failed += 1
        fail_poison(self.writer, self.flow.keys, entry_id, fields, message)

    def _skip_cancelled(self, entry_id: str, entry: TriggerEntry) -> None:
        assert self.flow is not None
        skip_cancelled(self.writer, self.flow.keys, entry_id, entry.execution_id)

    async def _control_loop(self) -> None:
        assert self.flow is not None
        await read_control(
            self.client, self.flow.keys, self.cancel, self.cancelled, self._control_read
        )

    def cancel(self, execution_id: str) -> None:
        """Stop a running execution now (its HTTP request aborted, its WASM guest stopped
        through its epoch); remember the id so that a later entry of it is not run."""
        self.cancelled[execution_id] = time.time()
        running = self.executions.get(execution_id)
        task = self.in_flight.get(running[0]) if running is not None else None
        if running is None or task is None or task.done():
            return
        self.log("info", f"cancelling execution {execution_id}")
        running[1].cancellation.cancel()
        task.cancel()

    def _reject(self, entry_id: str, fields: dict[str, str], error: Exception) -> None:
        """A malformed trigger entry cannot run; record why and acknowledge it."""
        assert self.flow is not None
        message = f"trigger entry {entry_id} is malformed: {error}"
        self.log("error", message)
        reject_malformed(self.writer, self.flow.keys, entry_id, fields, message)

    async def _reclaim(self) -> None:
        assert self.stream is not None
        free = self.settings.concurrency - len(self.in_flight)
        await self._resume(await self.stream.reclaim(free))

    async def _resume(self, claimed: list[Entry]) -> None:
        """Run entries a dead consumer left, except executions that had already finished;
        past the delivery limit an entry is poison, on its last delivery it runs alone."""
        assert self.stream is not None and self.flow is not None
        entries = [
            item
            for item in claimed
            if item[0] not in self.in_flight and item[0] not in self._last_chance
        ]
        if not entries:
            return
        runnable: list[Entry] = []
        ids = [run_key_of(fields) for _, fields in entries]
        for (entry_id, fields), status in zip(
            entries, await self.stream.finished(ids), strict=True
        ):
            if status is None:
                runnable.append((entry_id, fields))
            else:
                # it finished (its final event is written) but was not acknowledged: ack only
                execution_id = fields.get("execution_id", "")
                self.log("info", f"execution {execution_id} already {status}; acked")
                self.writer.ack(
                    self.flow.keys.triggers,
                    TRIGGER_GROUP,
                    entry_id,
                    forget=self.flow.keys.execution_state(run_key_of(fields)),
                )
        limit = self.settings.delivery_limit
        deliveries = await self.stream.deliveries([entry_id for entry_id, _ in runnable])
        for (entry_id, fields), delivered in zip(runnable, deliveries, strict=True):
            if delivered == 0:
                continue  # acknowledged meanwhile (by a predecessor still draining)
            if delivered > limit:
                self._poison(entry_id, fields, delivered)
            elif delivered == limit and delivered > 1:
                # Held, not run yet: counted one short, so that if this pump dies before its
                # turn the entry comes back for its last chance instead of as poison.
                self.writer.send(*self.stream.count_command(entry_id, limit - 1))
                self._last_chance[entry_id] = fields
                self._slot_freed.set()
            else:
                self.log(
                    "warning", f"resuming execution {fields.get('execution_id')} of a dead pump"
                )
                self._start(entry_id, fields, reclaimed=True)

    async def _maintenance_loop(self) -> None:
        assert self.stream is not None
        last_cleanup = time.monotonic()
        while True:
            await asyncio.sleep(MAINTENANCE_SECONDS)
            try:
                held = [*self.in_flight, *self._last_chance]
                if held:  # entries this pump holds must not look abandoned
                    self.writer.send(*self.stream.refresh_command(held))
                if not self._stopping.is_set():
                    await self._reclaim()
                if time.monotonic() - last_cleanup > CONSUMER_CLEANUP_SECONDS:
                    last_cleanup = time.monotonic()
                    await self.stream.forget_stale_consumers()
            except (RedisError, OSError) as error:
                logger.warning("maintenance failed: %s", error)

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT_SECONDS)
            self._heartbeat()

    def _heartbeat(self) -> None:
        assert self.flow is not None
        key = self.flow.keys.heartbeat
        fields: dict[str, Any] = {
            "status": self.status,
            "version": __version__,
            "started_at": repr(self.started_at),
            "updated_at": repr(time.time()),
            "in_flight": len(self.in_flight),
            "processed": self.processed,
            "failed": self.failed,
            "consumer": self.settings.consumer,
            "pid": os.getpid(),
        }
        args: list[Any] = ["HSET", key]
        for name, value in fields.items():
            args += [name, value]
        self.writer.send(*args)
        self.writer.send("EXPIRE", key, HEARTBEAT_TTL_SECONDS)

    async def _preload_modules(self, flow: Flow) -> None:
        for reference in flow.wasm_references():
            try:
                await flow.services.modules.get(reference)
            except InvocationFailure as failure:
                self.log("error", f"{reference}: {failure.message}")

    def log(self, level: str, message: str) -> None:
        """A pump-level line in `...:logs` (not tied to an execution) and on stderr."""
        logger.log(getattr(logging, level.upper(), logging.INFO), message)
        if self.flow is not None:
            self.writer.xadd(
                self.flow.keys.logs,
                {"ts": repr(time.time()), "level": level, "message": message},
                maxlen=LOG_STREAM_MAXLEN,
            )
