"""Group commit of accepted triggers: INSERT (queued) -> COMMIT -> XADD -> answer.

Webhooks, Run-button triggers and retries are admitted here (schedules insert inside their
claim transaction, scheduler.py). Requests queue up; a few worker tasks each take whatever has
accumulated, and for the whole batch:

1. re-read each flow's token hash and run state (the catalog may be a second old), insert the
   executions with `ON CONFLICT (flow_id, idempotency_key) DO NOTHING`, add them to the
   month's counters, commit: on Postgres one statement (admission_postgres.py), on SQLite a
   short transaction;
2. XADD the new executions' trigger entries in one pipeline (while the next batch is being
   stored: the XADDs keep the batches' order);
3. answer each request: its execution id, the earlier execution for a repeated idempotency
   key, or the refusal that applies to it alone.

This path owns its transaction instead of using the request's session because the commit
must come before the XADD and the XADD before the 2xx, and because one commit (one fsync)
for many requests is what lets a few cores accept over a thousand webhooks a second.

If the XADD fails after the commit, the execution is marked `failed` (reason
`enqueue_failed`) and the caller gets 503; if even that write fails, the reaper finds the
queued row without a stream entry later (reaper.py)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import structlog
from redis.asyncio import Redis
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db import utcnow
from control_plane.errors import ServiceUnavailable
from control_plane.executions.models import Execution
from control_plane.executions.storage import HeldConnection
from control_plane.metrics import Metrics
from control_plane.outages import DATABASE_RETRY_AFTER_SECONDS, database_unavailable
from control_plane.tasks import stop_task
from control_plane.triggers.admission_store import Stored, store, store_in_one_statement
from control_plane.triggers.catalog import FlowTriggers, TriggerSpec
from control_plane.triggers.quota import UsageTracker
from control_plane.triggers.records import (
    NEVER_ENQUEUED,
    enqueue_entries,
    execution_row,
    mark_enqueue_failed,
    new_execution_id,
    trigger_entry,
)

log = structlog.get_logger("control_plane.triggers")
STORE_ATTEMPTS = 2


@dataclass
class TriggerRequest:
    flow: FlowTriggers
    trigger: TriggerSpec
    trigger_kind: str  # webhook | manual | schedule | retry
    payload: Any
    idempotency_key: str | None = None
    retry_of: str | None = None
    token_hash: str | None = None  # webhooks: must still match the flow's inside the batch
    check_run_state: bool = True  # False once `ensure_accepting` has passed
    execution_id: str = field(default_factory=new_execution_id)


@dataclass(frozen=True)
class Admitted:
    execution_id: str
    created: bool  # False: the execution that first used this idempotency key
    created_at: datetime


@dataclass
class PendingTrigger:
    request: TriggerRequest
    future: asyncio.Future[Admitted]
    row: dict[str, Any] = field(default_factory=dict)


class Admitter:
    def __init__(
        self,
        engine: AsyncEngine,
        redis: Redis,
        usage: UsageTracker,
        metrics: Metrics,
        *,
        workers: int,
        max_batch: int,
        input_max_bytes: int,
    ) -> None:
        self._engine = engine
        self._redis = redis
        self._usage = usage
        self._metrics = metrics
        self._dialect = engine.dialect.name
        # SQLite has one writer: parallel batches would only queue on its lock.
        self._worker_count = 1 if self._dialect == "sqlite" else max(1, workers)
        self._max_batch = max_batch
        self._input_max_bytes = input_max_bytes
        self._queue: asyncio.Queue[PendingTrigger] = asyncio.Queue()
        self._workers: list[asyncio.Task[None]] = []

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._workers = [
            loop.create_task(self._work(), name=f"trigger-admission-{number}")
            for number in range(self._worker_count)
        ]

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        await self._queue.join()
        workers, self._workers = self._workers, []
        for worker in workers:
            await stop_task(worker)

    async def admit(self, request: TriggerRequest) -> Admitted:
        if not self._workers:
            raise ServiceUnavailable("the control plane is not accepting triggers (shutting down)")
        future: asyncio.Future[Admitted] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(PendingTrigger(request, future))
        # A client that goes away cancels only this future; the batch is written regardless.
        return await future

    async def _work(self) -> None:
        held = HeldConnection(self._engine, autocommit=self._dialect == "postgresql")
        answering: asyncio.Task[None] | None = None
        try:
            while True:
                batch = [await self._queue.get()]
                while len(batch) < self._max_batch and not self._queue.empty():
                    batch.append(self._queue.get_nowait())
                now = utcnow()
                try:
                    stored = await self._store_batch(batch, held, now)
                except Exception as error:  # never let one bad batch stop admission
                    log.exception("trigger.admission_failed", size=len(batch))
                    _fail(batch, _unavailable(error))
                    stored = None
                except BaseException:  # cancelled: this batch is not answered
                    for _ in batch:
                        self._queue.task_done()
                    raise
                # This batch's XADD and answers overlap the next batch's transaction; the
                # XADDs stay in batch order (each waits for the one before).
                answering = asyncio.get_running_loop().create_task(
                    self._answer(batch, stored, now, answering)
                )
        finally:
            if answering is not None:
                await asyncio.wait([answering])
            await held.close()

    async def _store_batch(
        self, batch: list[PendingTrigger], held: HeldConnection, now: datetime
    ) -> Stored | None:
        """Commit the batch; None when it could not be stored (every request refused)."""
        for item in batch:
            request = item.request
            item.row = execution_row(
                execution_id=request.execution_id,
                tenant_id=request.flow.tenant_id,
                flow_id=request.flow.flow_id,
                trigger=request.trigger,
                trigger_kind=request.trigger_kind,
                payload=request.payload,
                created_at=now,
                input_max_bytes=self._input_max_bytes,
                idempotency_key=request.idempotency_key,
                retry_of=request.retry_of,
            )
        work = store_in_one_statement if self._dialect == "postgresql" else store
        for attempt in range(STORE_ATTEMPTS):
            try:
                return await held.run(work, batch, now)
            except Exception as error:
                # The held connection may have died with a database restart: one more try on
                # a new one. (Had the first try committed, its ids now conflict: 503, and the
                # reaper fails the rows it left queued; nothing was acknowledged.)
                if attempt + 1 < STORE_ATTEMPTS and database_unavailable(error):
                    continue
                log.warning("trigger.store_failed", error=str(error)[:300], size=len(batch))
                unavailable = ServiceUnavailable(
                    _unavailable(error),
                    retry_after=DATABASE_RETRY_AFTER_SECONDS if database_unavailable(error) else 1,
                )
                for item in batch:
                    _reject(item, unavailable)
                break
        return None

    async def _answer(
        self,
        batch: list[PendingTrigger],
        stored: Stored | None,
        now: datetime,
        before: asyncio.Task[None] | None,
    ) -> None:
        try:
            if before is not None:
                await asyncio.wait([before])
            if stored is not None:
                await self._enqueue_stored(stored, now)
        except Exception as error:
            log.exception("trigger.admission_failed", size=len(batch))
            _fail(batch, _unavailable(error))
        finally:
            for _ in batch:
                self._queue.task_done()

    async def _enqueue_stored(self, stored: Stored, now: datetime) -> None:
        fresh, repeats, refused = stored
        for item, refusal in refused:
            _reject(item, refusal)
        revive = [
            (item, ident, at) for item, ident, at, never_enqueued in repeats if never_enqueued
        ]
        for item, execution_id, created_at, never_enqueued in repeats:
            if not never_enqueued:
                _resolve(item, Admitted(execution_id, created=False, created_at=created_at))
        if revive:
            await self._revive(revive)
        for item in fresh:
            self._usage.add(item.request.flow.tenant_id, 1)
        await self._enqueue(fresh, now)

    async def _revive(self, repeats: list[tuple[PendingTrigger, str, datetime]]) -> None:
        """A repeated key whose first execution never reached the stream (its XADD failed,
        and its caller got a 503): queue that execution again and enqueue it now, so the
        retry is what the first attempt should have been."""
        ids = [ident for _, ident, _ in repeats]
        try:
            async with self._engine.begin() as connection:
                revived = set(
                    (
                        await connection.execute(
                            update(Execution)
                            .where(
                                Execution.id.in_(ids),
                                Execution.status == "failed",
                                Execution.reason.in_(NEVER_ENQUEUED),
                            )
                            .values(
                                status="queued",
                                reason=None,
                                error=None,
                                finished_at=None,
                                enqueued_at=None,
                            )
                            .returning(Execution.id)
                        )
                    ).scalars()
                )
        except Exception as error:
            _fail([item for item, _, _ in repeats], _unavailable(error))
            return
        again: list[PendingTrigger] = []
        for item, ident, created_at in repeats:
            if ident in revived:
                item.row = {**item.row, "id": ident, "created_at": created_at}
                again.append(item)
            else:  # revived by a concurrent repeat meanwhile: it is queued now
                _resolve(item, Admitted(ident, created=False, created_at=created_at))
        await self._enqueue(again, utcnow(), created=False)

    async def _enqueue(
        self, fresh: list[PendingTrigger], now: datetime, *, created: bool = True
    ) -> None:
        if not fresh:
            return
        results = await enqueue_entries(
            self._redis,
            [
                (item.request.flow.keys.triggers, trigger_entry(item.row, item.request.payload))
                for item in fresh
            ],
        )
        failed = [
            (item, r) for item, r in zip(fresh, results, strict=True) if isinstance(r, Exception)
        ]
        for item, result in zip(fresh, results, strict=True):
            if not isinstance(result, Exception):
                _resolve(item, Admitted(item.row["id"], created=created, created_at=now))
        self._metrics.executions.labels("queued").inc(len(fresh) - len(failed))
        if failed:
            await self._mark_enqueue_failed(failed)

    async def _mark_enqueue_failed(self, failed: list[tuple[PendingTrigger, Any]]) -> None:
        message = await mark_enqueue_failed(
            self._engine, [item.row["id"] for item, _ in failed], failed[0][1], self._metrics
        )
        _fail([item for item, _ in failed], f"{message}; try again")


def _resolve(item: PendingTrigger, admitted: Admitted) -> None:
    if not item.future.done():
        item.future.set_result(admitted)


def _reject(item: PendingTrigger, error: BaseException) -> None:
    if not item.future.done():
        item.future.set_exception(error)


def _fail(items: list[PendingTrigger], detail: str) -> None:
    for item in items:
        _reject(item, ServiceUnavailable(detail))


def _unavailable(error: BaseException) -> str:
    return f"the trigger could not be stored ({type(error).__name__}); try again"
