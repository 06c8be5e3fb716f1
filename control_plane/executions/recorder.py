"""The recorder: every flow's `...:events` stream -> `executions` and `execution_steps`.

One consumer group, `recorder`, per events stream; each control-plane replica with
`background_tasks` on is one consumer, so replicas share the work and each event is recorded
once. A round reads up to `recorder_batch_size` events from all streams with one XREADGROUP,
writes them in one transaction (recording.py) and acknowledges them only after the commit
(after a round short of a full batch, the next waits `recorder_linger_ms`):
a crash replays the batch, and the writes are idempotent.

Streams are those of flows that should run plus flows with unfinished executions (a flow
stopped a moment ago still has events to record), re-read every `recorder_refresh_seconds`.
On Redis Cluster one XREADGROUP may only name streams of one hash slot (one flow), so a round
reads every slot's streams in one pipeline (redis-py sends one batch per node) without
blocking, and sleeps `recorder_block_ms` when nothing came.
On each refresh the recorder also claims events left pending by a dead replica and trims
each stream of events it recorded more than `EVENT_KEEP_SECONDS` ago."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import lru_cache
from typing import Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.crc import key_slot
from redis.exceptions import ResponseError
from sqlalchemy import select, union
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db import HISTORY_PAGE_CACHE_KIB
from control_plane.executions.events import StreamOwner, parse_events
from control_plane.executions.folding import Caps
from control_plane.executions.models import Execution
from control_plane.executions.recording import apply
from control_plane.executions.storage import HeldConnection
from control_plane.flows.models import Flow
from control_plane.metrics import Metrics, app_metrics
from control_plane.outages import log_failure
from control_plane.settings import Settings
from control_plane.tasks import stop_task
from pump.keys import EVENT_STREAM_MAXLEN, LOG_STREAM_MAXLEN, FlowKeys, parse_flow_key

log = structlog.get_logger("control_plane.recorder")
GROUP = "recorder"
EVENT_KEEP_SECONDS = 300  # recorded events stay this long (late `?wait=true` readers)
WRITE_RETRY_SECONDS = 1.0
MIN_PARSED_DATA_BYTES = 1024 * 1024

Entry = tuple[str, str, dict[str, str]]  # (stream, entry id, fields)


class Recorder:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: Redis,
        metrics: Metrics,
        settings: Settings,
        *,
        cluster: bool = False,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._cluster = cluster
        self._metrics = metrics
        self._settings = settings
        self._caps = Caps(
            outputs_max_bytes=settings.execution_outputs_max_bytes,
            step_max_bytes=settings.execution_step_max_bytes,
        )
        # an event's data past this is not parsed (it is recorded as a truncated preview)
        self._max_data_bytes = max(
            4 * max(settings.execution_outputs_max_bytes, settings.execution_step_max_bytes),
            MIN_PARSED_DATA_BYTES,
        )
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._streams: set[str] = set()
        self._grouped: set[str] = set()
        self._refreshed_at = 0.0
        self._held = HeldConnection(engine, page_cache_kib=HISTORY_PAGE_CACHE_KIB)

    async def run(self) -> None:
        try:
            while True:
                try:
                    await self.round()
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log_failure(log, "recorder.round_failed", error)
                    await asyncio.sleep(WRITE_RETRY_SECONDS)
        finally:
            await self.close()

    async def close(self) -> None:
        await self._held.close()

    async def round(self) -> int:
        """Refresh when due, read one batch and record it; returns the events read."""
        if time.monotonic() - self._refreshed_at >= self._settings.recorder_refresh_seconds:
            await self.refresh()
        if not self._streams:
            await asyncio.sleep(self._settings.recorder_refresh_seconds)
            self._refreshed_at = 0.0
            return 0
        try:
            if self._cluster:
                response = await self._read_each_slot()
            else:
                response = await self._redis.xreadgroup(
                    GROUP,
                    self.consumer,
                    dict.fromkeys(sorted(self._streams), ">"),
                    count=self._settings.recorder_batch_size,
                    block=self._settings.recorder_block_ms,
                )
        except ResponseError as error:
            if "NOGROUP" not in str(error):
                raise
            self._grouped.clear()  # a stream was deleted (its flow too): set groups up again
            await self.refresh()
            return 0
        entries = [
            (stream, entry_id, fields)
            for stream, stream_entries in response or []
            for entry_id, fields in stream_entries
            if fields is not None
        ]
        await self.record(entries)
        if 0 < len(entries) < self._settings.recorder_batch_size:
            # let the next batch gather: under load, fewer and larger transactions (each is a
            # commit, and SQLite's write lock taken from admission) for a few ms of history lag
            await asyncio.sleep(self._settings.recorder_linger_ms / 1000)
        return len(entries)

    async def _read_each_slot(self) -> Any:
        by_slot: dict[int, list[str]] = {}
        for stream in sorted(self._streams):
            by_slot.setdefault(key_slot(stream.encode()), []).append(stream)
        pipe = self._redis.pipeline(transaction=False)
        for streams in by_slot.values():
            pipe.xreadgroup(
                GROUP,
                self.consumer,
                dict.fromkeys(streams, ">"),
                count=self._settings.recorder_batch_size,
            )
        response: list[Any] = []
        for result in await pipe.execute(raise_on_error=False):
            if isinstance(result, Exception):
                raise result
            response += result or []
        if not response:
            await asyncio.sleep(self._settings.recorder_block_ms / 1000)
        return response

    async def record(self, entries: list[Entry]) -> None:
        if not entries:
            return
        events = [
            event
            for stream, _, fields in entries
            for event in parse_events(fields, stream_owner(stream), self._max_data_bytes)
        ]
        while True:
            try:
                recorded = await self._held.run(apply, events, self._caps)
                break
            except Exception as error:  # the database is away: keep the batch, try again
                log.warning("recorder.write_failed", error=str(error), events=len(events))
                await asyncio.sleep(WRITE_RETRY_SECONDS)
        by_stream: dict[str, list[str]] = {}
        for stream, entry_id, _ in entries:
            by_stream.setdefault(stream, []).append(entry_id)
        pipe = self._redis.pipeline(transaction=False)
        for stream, ids in by_stream.items():
            pipe.xack(stream, GROUP, *ids)
        await pipe.execute()
        for _, seconds in recorded.started:
            self._metrics.trigger_to_start.observe(max(seconds, 0.0))
        for status, count in recorded.finished.items():
            self._metrics.executions.labels(status).inc(count)
        if recorded.messages:
            self._metrics.pump_messages.inc(recorded.messages)

    async def refresh(self) -> None:
        self._refreshed_at = time.monotonic()
        self._streams = await self._discover()
        new = self._streams - self._grouped
        if new:
            pipe = self._redis.pipeline(transaction=False)
            for stream in new:
                pipe.xgroup_create(stream, GROUP, id="0", mkstream=True)
            for stream, result in zip(new, await pipe.execute(raise_on_error=False), strict=True):
                if isinstance(result, Exception) and "BUSYGROUP" not in str(result):
                    log.warning("recorder.group_failed", stream=stream, error=str(result))
                else:
                    self._grouped.add(stream)
        self._grouped &= self._streams
        await self._claim_abandoned()
        await self._trim()

    async def _discover(self) -> set[str]:
        running = select(Flow.tenant_id, Flow.id).where(Flow.desired_state == "running")
        unfinished = select(Execution.tenant_id, Execution.flow_id).where(
            Execution.status.in_(("queued", "running"))
        )
        async with self._engine.connect() as connection:
            rows = await connection.execute(union(running, unfinished))
            return {FlowKeys(tenant, flow).events for tenant, flow in rows}

    async def _claim_abandoned(self) -> None:
        """Record what a dead replica read but never acknowledged."""
        idle_ms = int(self._settings.recorder_claim_idle_seconds * 1000)
        for stream in list(self._grouped):
            try:
                result: Any = await self._redis.xautoclaim(
                    stream, GROUP, self.consumer, idle_ms, start_id="0-0", count=1000
                )
            except ResponseError:
                continue
            claimed = [(stream, entry_id, fields) for entry_id, fields in result[1] if fields]
            if claimed:
                log.info("recorder.claimed", stream=stream, events=len(claimed))
                await self.record(claimed)

    async def _trim(self) -> None:
        """Drop events the group has recorded and that are older than EVENT_KEEP_SECONDS, and
        hold each flow's events and logs streams to their caps whatever its pump wrote (a pump
        is untrusted: it may leave MAXLEN out of its XADDs)."""
        keep_from_ms = int((time.time() - EVENT_KEEP_SECONDS) * 1000)
        for stream in list(self._grouped):
            await self._cap(stream)
            try:
                groups = await self._redis.xinfo_groups(stream)
                group = next((g for g in groups if g["name"] == GROUP), None)
                if group is None:
                    continue
                boundary = _entry_ms(group["last-delivered-id"])
                if int(group.get("pending", 0)):
                    summary = await self._redis.xpending(stream, GROUP)
                    boundary = min(boundary, _entry_ms(summary["min"]))
                cutoff = min(boundary, keep_from_ms)
                if cutoff > 0:
                    await self._redis.xtrim(stream, minid=f"{cutoff}-0", approximate=True)
            except ResponseError as error:
                log.debug("recorder.trim_skipped", stream=stream, error=str(error))

    async def _cap(self, stream: str) -> None:
        owner = stream_owner(stream)
        if owner is None:
            return
        logs = FlowKeys(owner.tenant_id, owner.flow_id).logs
        pipe = self._redis.pipeline(transaction=False)
        pipe.xtrim(stream, maxlen=EVENT_STREAM_MAXLEN, approximate=True)
        pipe.xtrim(logs, maxlen=LOG_STREAM_MAXLEN, approximate=True)
        dropped, _ = await pipe.execute(raise_on_error=False)
        if isinstance(dropped, int) and dropped > 0:
            log.warning(
                "recorder.events_over_cap", flow_id=owner.flow_id, dropped=dropped,
                cap=EVENT_STREAM_MAXLEN,
            )  # fmt: skip


@lru_cache(maxsize=4096)  # asked once per event, of a few streams
def stream_owner(stream: str) -> StreamOwner | None:
    """The flow whose events stream this is (`pump.keys.FlowKeys.events`)."""
    parsed = parse_flow_key(stream)
    if parsed is None or parsed[1] != "events":
        return None
    return StreamOwner(parsed[0].tenant_id, parsed[0].flow_id)


def _entry_ms(entry_id: Any) -> int:
    text = str(entry_id or "0-0")
    return int(text.split("-", 1)[0])


@asynccontextmanager
async def run_recorder(app: FastAPI) -> AsyncIterator[Recorder]:
    recorder = Recorder(
        app.state.engine,
        app.state.redis.client,
        app_metrics(app),
        app.state.settings,
        cluster=app.state.redis.cluster,
    )
    app.state.recorder = recorder
    task = asyncio.get_running_loop().create_task(recorder.run(), name="recorder")
    try:
        yield recorder
    finally:
        await stop_task(task)
