"""The reconciler: every `reconcile_interval_seconds`, the leader among the control-plane
replicas compares what should run (flows with desired_state `running`) with what does (the
backend's view and the pump's heartbeat) and closes the gap:

- a pump that started and heartbeats -> the flow is `running`;
- a pump that exited, vanished, never heartbeat within `pump_start_timeout_seconds`, or whose
  heartbeat expired -> a crash: restarted at once, then with doubling delays; after
  `pump_crash_limit` crashes within `pump_crash_window_seconds` the flow is `error` with the
  pump's last output as the reason, and is left alone until its owner starts it again;
- a pump killed for exceeding its memory limit -> the flow is `error` with reason
  `out_of_memory: ...` at once (a restart would replay the trigger that needed the memory);
- a running pump with no activity for the tier's `idle_stop_seconds` (and no trigger waiting)
  -> stopped, flow `idle` (scale to zero); an idle flow with a trigger waiting -> started;
- a run record whose flow was deleted -> its pump and Redis user are removed.

The first pass after a replica becomes leader adopts what it finds: pumps that run, heartbeat
and still have their Redis user are kept; the others are started again without counting a
crash (this is how flows come back after a control-plane restart).

Leadership is a short Redis lease (`reconciler_lease_seconds`, 3 s) renewed every second by
a task of its own, whatever a pass costs, and released at a clean shutdown, so a successor
takes over at once after a stop and within the lease after a crash. On the embedded default
the Redis server belongs to this process alone, so a lease found at start-up is a dead
predecessor's and is taken over at once. A pass also runs at once, without waiting for the
interval, when a pump process of this replica exits or Redis comes back after an outage."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Coroutine
from contextlib import suppress
from datetime import timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.accounts.models import Tenant
from control_plane.billing.tiers import tier_limits
from control_plane.db import utcnow
from control_plane.errors import ControlPlaneError
from control_plane.flows.models import Flow
from control_plane.outages import log_failure
from control_plane.pumps import transitions
from control_plane.pumps.backends import PumpRef
from control_plane.pumps.backends.base import OUT_OF_MEMORY
from control_plane.pumps.locks import FlowBusy, LeaderLock
from control_plane.pumps.models import PumpRun
from control_plane.pumps.orchestrator import Observation, Orchestrator
from control_plane.pumps.service import (
    flow_ref,
    launch,
    memory_quota,
    organism_sha256,
    startable_organism,
    wake_claim_key,
)
from control_plane.settings import Settings
from control_plane.tasks import stop_task
from pump.keys import HEARTBEAT_TTL_SECONDS

log = structlog.get_logger("control_plane.pumps.reconciler")
EXIT_POLL_SECONDS = 0.25  # how often a waiting reconciler looks for exited pump processes


def leader_lock_key(settings: Settings) -> str:
    if settings.reconciler_lock_key:
        return settings.reconciler_lock_key
    digest = hashlib.sha256(settings.resolved_database_url.encode()).hexdigest()[:16]
    return f"flowplane:reconciler:leader:{digest}"


class Reconciler:
    def __init__(self, app: FastAPI) -> None:
        self.settings: Settings = app.state.settings
        self.pumps: Orchestrator = app.state.pumps
        self.sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
        self.lease_seconds = self.settings.reconciler_lease_seconds
        self.leader = LeaderLock(
            self.pumps.redis, leader_lock_key(self.settings), self.lease_seconds
        )
        self.adopted = False  # the first pass as leader adopts instead of counting crashes
        self.passes = 0
        self.leading = False
        self._lease_renewed_at = 0.0
        self._stopping = asyncio.Event()
        self._kicked = asyncio.Event()

    async def run(self) -> None:
        if self.settings.embedded_redis:
            with suppress(Exception):  # the embedded server is ours alone: a lease is stale
                await self.leader.take_over()
        lease = asyncio.get_running_loop().create_task(self._keep_lease(), name="reconciler-lease")
        try:
            while not self._stopping.is_set():
                self._kicked.clear()
                try:
                    await self.pumps.backend.maintain()
                    if self.leading:
                        await self.reconcile()
                    else:
                        self.adopted = False
                except asyncio.CancelledError:
                    raise
                except Exception as error:
                    log_failure(log, "reconciler.pass_failed", error)
                await self._wait_for_next_pass()
        finally:
            await stop_task(lease)

    def kick(self) -> None:
        """Run a pass now instead of at the next interval."""
        self._kicked.set()

    def stop(self) -> None:
        """End the loop after the current step. Cancelling the task alone is not enough: a
        cancellation that lands in SQLAlchemy's pool pre-ping is absorbed as a reconnect."""
        self._stopping.set()
        self._kicked.set()

    async def close(self) -> None:
        """Give the lease up at once, so another replica (or the next start) leads now."""
        self.leading = False
        with suppress(Exception):
            await self.leader.release()

    async def _wait_for_next_pass(self) -> None:
        deadline = time.monotonic() + self.settings.reconcile_interval_seconds
        while not self._kicked.is_set() and (remaining := deadline - time.monotonic()) > 0:
            with suppress(TimeoutError):
                await asyncio.wait_for(self._kicked.wait(), min(remaining, EXIT_POLL_SECONDS))
            if self.pumps.backend.exits_seen():
                return

    async def _keep_lease(self) -> None:
        """Renew (or take) the lease every third of its duration; a leader that cannot renew
        it for a whole lease stops acting as one."""
        while True:
            try:
                leading = await self.leader.hold()
                self._lease_renewed_at = time.monotonic()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log_failure(log, "reconciler.lease_failed", error)
                leading = self.leading and (
                    time.monotonic() - self._lease_renewed_at < self.lease_seconds
                )
            if leading and not self.leading:
                log.info("reconciler.leading")
                self.kick()
            self.leading = leading
            await asyncio.sleep(self.lease_seconds / 3)

    async def reconcile(self) -> None:
        adopting = not self.adopted
        async with self.sessionmaker() as session:
            # Runs first: a flow started between the two reads then shows as wanted, never as
            # the orphan of a run without a running flow (forget_run checks again anyway).
            runs = {run.flow_id: run for run in await session.scalars(select(PumpRun))}
            rows = (
                await session.execute(
                    select(Flow, Tenant.tier)
                    .join(Tenant, Tenant.id == Flow.tenant_id)
                    .where(Flow.desired_state == "running")
                )
            ).all()
        for flow, tier in rows:
            if self._stopping.is_set():
                return
            await self._guarded(
                flow.id, self.reconcile_flow(flow, tier, runs.get(flow.id), adopting)
            )
        wanted = {flow.id for flow, _ in rows}
        for run in runs.values():
            if run.flow_id not in wanted:
                await self._guarded(run.flow_id, self.remove_orphan(run))
        self.adopted = True
        self.passes += 1

    async def _guarded(self, flow_id: str, work: Coroutine[Any, Any, None]) -> None:
        """Run one flow's step under its lifecycle lock; skip it if an API request holds it."""
        try:
            async with self.pumps.flow_lock(flow_id, wait=0):
                await work
        except FlowBusy:
            pass
        except Exception:
            log.exception("reconciler.flow_failed", flow_id=flow_id)
        finally:
            work.close()  # not started (busy, or cancelled while locking): no "never awaited"

    async def reconcile_flow(
        self, flow: Flow, tier: str, run: PumpRun | None, adopting: bool
    ) -> None:
        if flow.status == "error":
            return
        ref = flow_ref(flow)
        observation = await self.pumps.observe(ref)
        async with self.sessionmaker() as session:
            if flow.status == "idle":
                await self._check_idle_flow(session, flow, run, tier, observation)
            elif run is None:
                await self._restart(session, flow, None, tier, why="no pump was recorded")
            elif observation.state.reason == OUT_OF_MEMORY:
                await self._out_of_memory(session, flow, run, observation)
            elif adopting and not await self._adoptable(ref, run, observation):
                await self._restart(session, flow, run, tier, why="control plane restarted")
            elif observation.state.alive:
                await self._check_live_pump(session, flow, run, tier, observation)
            elif run.restart_at is not None:
                if utcnow() >= run.restart_at:
                    await self._restart(session, flow, run, tier, why="backoff elapsed")
            else:
                await self._crashed(session, flow, run, tier, observation.state.describe())

    async def _adoptable(self, ref: PumpRef, run: PumpRun, observation: Observation) -> bool:
        """A pump found by a new leader is kept if it serves with its credential, or is still
        within its start timeout; otherwise it is replaced."""
        if observation.ready:
            return await self.pumps.credentials.exists(ref.tenant_id, ref.flow_id)
        started = run.started_at or utcnow()
        recent = utcnow() - started < timedelta(seconds=self.settings.pump_start_timeout_seconds)
        return observation.state.alive and run.ready_at is None and recent

    async def _check_live_pump(
        self, session: AsyncSession, flow: Flow, run: PumpRun, tier: str, observation: Observation
    ) -> None:
        now = utcnow()
        if not observation.ready:
            if run.ready_at is None:
                started = run.started_at or now
                if now - started > timedelta(seconds=self.settings.pump_start_timeout_seconds):
                    reason = f"no heartbeat within {self.settings.pump_start_timeout_seconds:g} s of starting"
                    await self._crashed(session, flow, run, tier, _with_tail(reason, observation))
            elif observation.heartbeat is None:
                reason = (
                    f"heartbeat lost (none for {HEARTBEAT_TTL_SECONDS} s) while the process runs"
                )
                await self._crashed(session, flow, run, tier, _with_tail(reason, observation))
            return
        if not await self.pumps.credentials.exists(flow.tenant_id, flow.id):
            # Redis restarted without an ACL file: the pump cannot reconnect. New credential.
            await self._restart(session, flow, run, tier, why="its Redis user is gone")
            return
        if flow.status == "starting" or run.ready_at is None:
            await transitions.mark_ready(session, flow.id, run.generation, now)
            log.info("pump.ready", flow_id=flow.id, generation=run.generation)
            return
        await self._check_activity(session, flow, run, tier, observation)

    async def _check_activity(
        self, session: AsyncSession, flow: Flow, run: PumpRun, tier: str, observation: Observation
    ) -> None:
        assert observation.heartbeat is not None
        now = utcnow()
        processed = _int(observation.heartbeat.get("processed"))
        in_flight = _int(observation.heartbeat.get("in_flight"))
        if processed != run.last_processed or in_flight > 0:
            await transitions.note_activity(session, flow.id, run.generation, processed, now)
            return
        idle_seconds = self.idle_stop_seconds(tier)
        last_activity = run.last_activity_at or run.started_at or now
        if idle_seconds is None or now - last_activity < timedelta(seconds=idle_seconds):
            return
        ref = flow_ref(flow)
        if await self.pumps.triggers_waiting(ref):
            return
        if not await transitions.mark_idle(session, flow.id, run.generation, now):
            return
        await self.pumps.halt(ref)
        await self.pumps.redis.delete(wake_claim_key(flow.id))
        log.info("pump.idle_stopped", flow_id=flow.id, idle_seconds=idle_seconds)
        if await self.pumps.triggers_waiting(ref):  # a trigger raced the stop: serve it
            flow.status = "idle"
            await self._restart(session, flow, run, tier, why="a trigger arrived while stopping")

    async def _check_idle_flow(
        self,
        session: AsyncSession,
        flow: Flow,
        run: PumpRun | None,
        tier: str,
        observation: Observation,
    ) -> None:
        """An idle flow needs no pump, unless a trigger waits (a wake-up that was lost) or a
        woken pump runs while the waking request's status change did not commit."""
        if observation.ready and run is not None:
            await transitions.mark_ready(session, flow.id, run.generation, utcnow())
        elif not observation.state.alive and await self.pumps.triggers_waiting(flow_ref(flow)):
            await self._restart(session, flow, run, tier, why="a trigger is waiting")

    async def _crashed(
        self, session: AsyncSession, flow: Flow, run: PumpRun, tier: str, reason: str
    ) -> None:
        verdict = transitions.crash_verdict(run, utcnow(), self.settings)
        if not await transitions.record_crash(session, flow, run, verdict, reason, self.settings):
            return
        await self.pumps.halt(flow_ref(flow), drain=False)  # leftovers and the credential
        log.warning(
            "pump.crashed",
            flow_id=flow.id,
            crashes=verdict.crash_count,
            gave_up=verdict.give_up,
            restart_at=verdict.restart_at.isoformat() if verdict.restart_at else None,
            reason=reason,
        )
        if verdict.restart_at is not None and verdict.restart_at <= utcnow():
            run.crash_count = verdict.crash_count
            await self._restart(session, flow, run, tier, why="it crashed")

    async def _out_of_memory(
        self, session: AsyncSession, flow: Flow, run: PumpRun, observation: Observation
    ) -> None:
        verdict = transitions.crash_verdict(run, utcnow(), self.settings)
        verdict = transitions.CrashVerdict(
            verdict.crash_count, verdict.window_started_at, give_up=True, restart_at=None
        )
        reason = (
            f"{OUT_OF_MEMORY}: the pump exceeded its memory limit and was stopped "
            f"({observation.state.detail}). Raise FLOWPLANE_PUMP_MEMORY_BYTES or make the flow "
            "hold less data at once, then start it again"
        )
        recorded = await transitions.record_crash(
            session, flow, run, verdict, _with_tail(reason, observation), self.settings,
            flow_reason=reason,
        )  # fmt: skip
        if recorded:
            await self.pumps.halt(flow_ref(flow), drain=False)
            log.warning("pump.out_of_memory", flow_id=flow.id, detail=observation.state.detail)

    async def _restart(
        self, session: AsyncSession, flow: Flow, run: PumpRun | None, tier: str, *, why: str
    ) -> None:
        try:
            organism = startable_organism(flow)
            quota = memory_quota(organism, tier, enforce=False)
        except ControlPlaneError as error:
            await transitions.mark_error(session, flow, error.detail)
            await self.pumps.halt(flow_ref(flow), drain=False)
            return
        generation = await transitions.claim_restart(
            session,
            flow,
            run,
            backend=self.pumps.backend.name,
            organism_sha256=organism_sha256(flow.organism_yaml),
            now=utcnow(),
        )
        if generation is None:
            return
        try:
            await launch(session, self.pumps, flow, organism, quota)
        except Exception as error:
            log.exception("pump.launch_failed", flow_id=flow.id)
            await session.rollback()
            current = await session.get(PumpRun, flow.id, populate_existing=True)
            if current is not None:
                flow.status = "starting"
                await self._crashed(
                    session, flow, current, tier, f"the pump could not be started: {error}"
                )
            return
        await session.commit()
        log.info("pump.restarted", flow_id=flow.id, generation=generation, why=why)

    async def remove_orphan(self, run: PumpRun) -> None:
        async with self.sessionmaker() as session:
            if await transitions.forget_run(session, run):
                await self.pumps.halt(PumpRef(run.tenant_id, run.flow_id))
                log.info("pump.orphan_removed", flow_id=run.flow_id)

    def idle_stop_seconds(self, tier: str) -> int | None:
        if self.settings.pump_idle_stop_seconds is not None:
            return self.settings.pump_idle_stop_seconds
        return tier_limits(tier).idle_stop_seconds


def _int(value: str | None) -> int:
    try:
        return int(value or 0)
    except ValueError:
        return 0


def _with_tail(reason: str, observation: Observation) -> str:
    tail = observation.state.log_tail
    return f"{reason}; last output:\n{tail}" if tail else reason
