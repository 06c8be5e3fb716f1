"""The scheduler: fires the cron triggers of running flows, once per tick across replicas.

Every `scheduler_interval_seconds` each replica with `background_tasks` on:

1. syncs `schedule_states` with the schedule triggers of flows whose desired state is running
   (a new trigger starts at its next tick from now; a changed cron or timezone is recomputed;
   a trigger or flow that went away loses its row, so a restarted flow does not fire for the
   time it was stopped);
2. claims due rows with `SELECT ... FOR UPDATE SKIP LOCKED` (on Postgres; SQLite has a single
   writer) and, in that same transaction, inserts one queued execution per row and moves
   `next_fire_at` to the first tick after now; commits; then XADDs the trigger entries.

Misfires (the control plane was down across one or more ticks): one execution for the whole
missed window, then the schedule resumes at its next regular tick. The execution's
idempotency key (`schedule:<trigger>:<tick>`) makes a double fire of one tick impossible even
without row locks."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import structlog
from croniter import croniter
from fastapi import FastAPI
from sqlalchemy import delete, select, tuple_, update

from control_plane.accounts.models import Tenant
from control_plane.db import utcnow
from control_plane.errors import ControlPlaneError
from control_plane.executions.background import periodic
from control_plane.executions.storage import dialect_insert
from control_plane.flows.models import Flow
from control_plane.metrics import app_metrics
from control_plane.settings import Settings
from control_plane.triggers.catalog import TriggerSpec
from control_plane.triggers.models import ScheduleState
from control_plane.triggers.records import (
    add_to_counters,
    enqueue_entries,
    execution_row,
    insert_executions,
    mark_enqueue_failed,
    new_execution_id,
    trigger_entry,
)
from control_plane.triggers.runtime import trigger_runtime
from control_plane.triggers.service import ensure_flow_accepting
from pump.keys import FlowKeys

log = structlog.get_logger("control_plane.scheduler")
CLAIM_LIMIT = 100
SYNC_EVERY_TICKS = 5


def next_fire(cron: str, timezone: str, after: datetime, unit: str = "minute") -> datetime:
    """The first tick of `cron` (in `timezone`) strictly after `after`, in UTC."""
    expression = cron.strip()
    if unit == "second" and not expression.startswith("@"):
        minute, rest = expression.split(None, 1)
        expression = f"* {rest} {minute}"  # croniter's sixth field is seconds
    local = after.astimezone(ZoneInfo(timezone))
    moment: datetime = croniter(expression, local).get_next(datetime)
    return moment.astimezone(UTC)


class Scheduler:
    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._settings: Settings = app.state.settings
        self._engine = app.state.engine
        self._flows_seen: dict[str, datetime] = {}  # flow id -> updated_at of its parsed specs
        self._specs: dict[str, tuple[str, list[TriggerSpec]]] = {}  # flow -> (tenant, schedules)
        self._ticks = 0

    async def tick(self) -> int:
        """Sync when due, then fire everything due; returns the executions fired."""
        if self._ticks % SYNC_EVERY_TICKS == 0:
            await self.sync()
        self._ticks += 1
        fired = 0
        while True:
            claimed, count = await self.fire_due()
            fired += count
            if claimed < CLAIM_LIMIT:
                return fired

    async def sync(self) -> None:
        catalog = trigger_runtime(self._app).catalog
        async with self._engine.connect() as connection:
            running = (
                await connection.execute(
                    select(Flow.id, Flow.tenant_id, Flow.updated_at).where(
                        Flow.desired_state == "running"
                    )
                )
            ).all()
            changed = [row.id for row in running if self._flows_seen.get(row.id) != row.updated_at]
            if changed:
                rows = await connection.execute(
                    select(Flow.id, Flow.tenant_id, Flow.organism_yaml, Flow.updated_at).where(
                        Flow.id.in_(changed)
                    )
                )
                for flow_id, tenant_id, organism_yaml, updated_at in rows:
                    schedules = [
                        spec
                        for spec in catalog.triggers_of(organism_yaml)
                        if spec.kind == "schedule"
                    ]
                    self._specs[flow_id] = (tenant_id, schedules)
                    self._flows_seen[flow_id] = updated_at
        running_ids = {row.id for row in running}
        for flow_id in set(self._specs) - running_ids:
            self._specs.pop(flow_id, None)
            self._flows_seen.pop(flow_id, None)
        await self._write_states()

    async def _write_states(self) -> None:
        wanted = {
            (flow_id, spec.name): (tenant_id, spec)
            for flow_id, (tenant_id, specs) in self._specs.items()
            for spec in specs
            if spec.cron and self._computable(flow_id, spec)
        }
        now = utcnow()
        async with self._engine.begin() as connection:
            rows = await connection.execute(
                select(
                    ScheduleState.flow_id,
                    ScheduleState.trigger_name,
                    ScheduleState.cron,
                    ScheduleState.timezone,
                    ScheduleState.target,
                    ScheduleState.payload,
                )
            )
            existing = {(row[0], row[1]): row[2:] for row in rows}
            obsolete = [key for key in existing if key not in wanted]
            if obsolete:
                await connection.execute(
                    delete(ScheduleState).where(
                        tuple_(ScheduleState.flow_id, ScheduleState.trigger_name).in_(obsolete)
                    )
                )
            missing = []
            for key, (tenant_id, spec) in wanted.items():
                timezone = spec.timezone or "UTC"
                state = (spec.cron, timezone, spec.target, spec.payload)
                if key not in existing:
                    missing.append(self._state_row(key, tenant_id, spec, timezone, now))
                elif existing[key] != state:
                    values: dict[str, Any] = {"target": spec.target, "payload": spec.payload}
                    if existing[key][:2] != state[:2]:
                        values.update(cron=spec.cron, timezone=timezone)
                        values["next_fire_at"] = self._next(spec.cron or "", timezone, now)
                    await connection.execute(
                        update(ScheduleState)
                        .where(
                            ScheduleState.flow_id == key[0], ScheduleState.trigger_name == key[1]
                        )
                        .values(**values)
                    )
            if missing:
                statement = dialect_insert(
                    connection.dialect.name,
                    ScheduleState.__table__,  # type: ignore[arg-type]
                ).on_conflict_do_nothing(index_elements=["flow_id", "trigger_name"])
                await connection.execute(statement, missing)

    def _state_row(
        self, key: tuple[str, str], tenant_id: str, spec: TriggerSpec, timezone: str, now: datetime
    ) -> dict[str, Any]:
        return {
            "flow_id": key[0],
            "trigger_name": key[1],
            "tenant_id": tenant_id,
            "target": spec.target,
            "payload": spec.payload,
            "cron": spec.cron,
            "timezone": timezone,
            "next_fire_at": self._next(spec.cron or "", timezone, now),
            "last_fired_at": None,
        }

    def _computable(self, flow_id: str, spec: TriggerSpec) -> bool:
        """False (and a warning) for a schedule croniter cannot evaluate, so one bad trigger
        does not stop every flow's schedules."""
        try:
            self._next(spec.cron or "", spec.timezone or "UTC", utcnow())
        except (ValueError, KeyError, TypeError) as error:
            log.warning("schedule.invalid", flow_id=flow_id, trigger=spec.name, error=str(error))
            return False
        return True

    def _next(self, cron: str, timezone: str, after: datetime) -> datetime:
        return next_fire(cron, timezone, after, self._settings.scheduler_tick_unit)

    async def fire_due(self) -> tuple[int, int]:
        """Claim and fire due schedules; returns (rows claimed, executions fired)."""
        runtime = trigger_runtime(self._app)
        now = utcnow()
        rows: list[dict[str, Any]] = []
        payloads: dict[str, Any] = {}
        wake: set[str] = set()
        async with self._engine.begin() as connection:
            claimed = (
                await connection.execute(
                    select(ScheduleState.__table__, Flow.desired_state, Flow.status, Tenant.tier)
                    .join(Flow, Flow.id == ScheduleState.flow_id)
                    .join(Tenant, Tenant.id == Flow.tenant_id)
                    .where(ScheduleState.next_fire_at <= now)
                    .order_by(ScheduleState.next_fire_at)
                    .limit(CLAIM_LIMIT)
                    .with_for_update(of=ScheduleState.__table__, skip_locked=True)
                )
            ).all()
            for state in claimed:
                desired_state, status, tier = state.desired_state, state.status, state.tier
                tick_at = state.next_fire_at
                await connection.execute(
                    update(ScheduleState)
                    .where(
                        ScheduleState.flow_id == state.flow_id,
                        ScheduleState.trigger_name == state.trigger_name,
                    )
                    .values(
                        next_fire_at=self._next(state.cron, state.timezone, now),
                        last_fired_at=tick_at,
                    )
                )
                if desired_state != "running" or status == "error":
                    continue  # the next sync drops a stopped flow's row; an errored one waits
                try:
                    await runtime.usage.check(state.tenant_id, tier)
                except ControlPlaneError as refusal:
                    log.warning("schedule.skipped", flow_id=state.flow_id, reason=refusal.detail)
                    continue
                if status == "idle":
                    wake.add(state.flow_id)
                execution_id = new_execution_id()
                payloads[execution_id] = state.payload if state.payload is not None else {}
                rows.append(
                    execution_row(
                        execution_id=execution_id,
                        tenant_id=state.tenant_id,
                        flow_id=state.flow_id,
                        trigger=TriggerSpec(state.trigger_name, "schedule", state.target),
                        trigger_kind="schedule",
                        payload=payloads[execution_id],
                        created_at=now,
                        input_max_bytes=self._settings.execution_input_max_bytes,
                        idempotency_key=f"schedule:{state.trigger_name}:{tick_at.isoformat()}",
                    )
                )
            inserted = await connection.run_sync(insert_executions, rows)
            fresh = [row for row in rows if row["id"] in inserted]
            await connection.run_sync(add_to_counters, fresh)
        await self._enqueue(fresh, payloads)
        for flow_id in wake:
            await self._wake(flow_id)
        return len(claimed), len(fresh)

    async def _enqueue(self, fresh: list[dict[str, Any]], payloads: dict[str, Any]) -> None:
        if not fresh:
            return
        runtime = trigger_runtime(self._app)
        redis = self._app.state.redis.client
        entries = [
            (
                FlowKeys(row["tenant_id"], row["flow_id"]).triggers,
                trigger_entry(row, payloads[row["id"]]),
            )
            for row in fresh
        ]
        results = await enqueue_entries(redis, entries)
        failed = [
            row["id"] for row, r in zip(fresh, results, strict=True) if isinstance(r, Exception)
        ]
        metrics = app_metrics(self._app)
        metrics.executions.labels("queued").inc(len(fresh) - len(failed))
        for row in fresh:
            runtime.usage.add(row["tenant_id"], 1)
        if failed:
            error = next(r for r in results if isinstance(r, Exception))
            await mark_enqueue_failed(self._engine, failed, error, metrics)
        log.info("schedule.fired", executions=len(fresh) - len(failed), at=time.time())

    async def _wake(self, flow_id: str) -> None:
        try:
            await ensure_flow_accepting(self._app, flow_id)
        except ControlPlaneError as refusal:
            log.warning("schedule.wake_refused", flow_id=flow_id, reason=refusal.detail)


@asynccontextmanager
async def run_scheduler(app: FastAPI) -> AsyncIterator[Scheduler]:
    scheduler = Scheduler(app)
    app.state.scheduler = scheduler
    settings: Settings = app.state.settings
    async with periodic("scheduler", lambda: settings.scheduler_interval_seconds, scheduler.tick):
        yield scheduler
