"""Flow lifecycle: start, stop, status, and the trigger path's `ensure_accepting`.

Functions take the session first and never commit. The database is written (flushed) before
the backend is asked to act, so a refused start leaves nothing running; the reconciler
(reconciler.py) owns everything that happens later: readiness, crashes, idleness."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.models import Tenant
from control_plane.billing.plans import OVER_PLAN
from control_plane.billing.tiers import UPGRADE_URL, check_quota, tier_limits
from control_plane.blobs import BlobCorrupted, BlobNotFound
from control_plane.db import utcnow
from control_plane.errors import (
    Conflict,
    ControlPlaneError,
    InvalidOrganism,
    NotFound,
    QuotaExceeded,
    ServiceUnavailable,
)
from control_plane.flows.models import Flow, FlowVersion
from control_plane.pumps.backends import PumpRef
from control_plane.pumps.locks import FlowBusy
from control_plane.pumps.models import PumpRun
from control_plane.pumps.orchestrator import (
    MODULE_RESOLVERS,
    LaunchRequest,
    Observation,
    Orchestrator,
    ResolvedModules,
)
from control_plane.pumps.queue import QueueDepth, queue_limit
from control_plane.pumps.secrets import secret_values
from pump.organism import Organism, OrganismError, parse_organism

log = structlog.get_logger("control_plane.pumps")
UNLIMITED_MEMORY_BYTES = 2**53
WAKE_CLAIM_SECONDS = 30
WAKE_LOCK_WAIT_SECONDS = 2.0


def flow_ref(flow: Flow) -> PumpRef:
    return PumpRef(flow.tenant_id, flow.id)


def wake_claim_key(flow_id: str) -> str:
    return f"flowplane:pumps:waking:{flow_id}"


@dataclass(frozen=True)
class FlowStatusView:
    desired: str
    observed: str
    status: str
    reason: str | None
    heartbeat: dict[str, Any] | None
    outdated: bool  # the saved organism differs from the one the pump runs
    running_version: int | None  # the version number the pump runs
    restarts: dict[str, Any] | None
    queue: QueueDepth
    queue_limit: int
    memory: MemoryUsage | None  # None: the organism does not use project memory


@dataclass(frozen=True)
class MemoryUsage:
    used_bytes: int
    quota_bytes: int | None  # None: unlimited


async def start_flow(session: AsyncSession, pumps: Orchestrator, flow: Flow) -> str:
    """Validate, record the intent, launch the pump; returns the flow's status. Starting a flow
    whose pump already runs the saved organism changes nothing; a changed organism restarts it
    (draining the old pump first)."""
    refuse_over_plan(flow)
    organism = startable_organism(flow)
    tier = await tenant_tier(session, flow.tenant_id)
    quota = memory_quota(organism, tier)
    async with pumps.flow_lock(flow.id):
        run = await session.get(PumpRun, flow.id, populate_existing=True)
        observation = await pumps.observe(flow_ref(flow))
        unchanged = run is not None and run.organism_sha256 == organism_sha256(flow.organism_yaml)
        if unchanged and flow.desired_state == "running" and observation.state.alive:
            return "running" if observation.ready else flow.status
        if observation.state.alive:
            await _backend_call(pumps.halt(flow_ref(flow)))
        run = await _record_start(session, pumps, flow, run, reset_crashes=True)
        flow.desired_state, flow.status, flow.status_reason = "running", "starting", None
        await session.flush()
        await _backend_call(launch(session, pumps, flow, organism, quota))
    log.info("pump.started", flow_id=flow.id, tenant_id=flow.tenant_id, generation=run.generation)
    return flow.status


async def redeploy_saved(session: AsyncSession, pumps: Orchestrator, flow: Flow) -> str | None:
    """After a save: roll a running flow's pump to the saved organism. The old pump drains
    (finishes the executions it holds; triggers it has not read wait in the stream) and a new
    one starts on the new version before this returns, so once the save is answered no trigger
    runs on the old version. Returns `applied`, None when there is nothing to roll (stopped,
    idle: the next wake-up starts the saved version), or why the old pump was kept."""
    if flow.desired_state != "running" or flow.status not in ("starting", "running"):
        return None
    run = await session.get(PumpRun, flow.id)
    if run is not None and run.organism_sha256 == organism_sha256(flow.organism_yaml):
        return None
    try:
        await start_flow(session, pumps, flow)
    except ControlPlaneError as error:
        log.warning("pump.redeploy_refused", flow_id=flow.id, error=error.detail)
        return f"the pump was not moved to this version: {error.detail}"
    log.info("pump.redeployed", flow_id=flow.id, tenant_id=flow.tenant_id)
    return "applied"


async def stop_flow(session: AsyncSession, pumps: Orchestrator, flow: Flow) -> str:
    """Drain and stop the pump, delete its Redis user; the flow stays stopped until started."""
    async with pumps.flow_lock(flow.id):
        await _backend_call(pumps.halt(flow_ref(flow)))
        flow.desired_state, flow.status, flow.status_reason = "stopped", "stopped", None
        run = await session.get(PumpRun, flow.id)
        if run is not None:
            await session.delete(run)
        await session.flush()
    log.info("pump.stopped", flow_id=flow.id, tenant_id=flow.tenant_id)
    return flow.status


async def flow_status(session: AsyncSession, pumps: Orchestrator, flow: Flow) -> FlowStatusView:
    observation = await pumps.observe(flow_ref(flow))
    queue = await pumps.queue(flow_ref(flow))
    limit = queue_limit(pumps.settings, await tenant_tier(session, flow.tenant_id))
    run = await session.get(PumpRun, flow.id)
    status = flow.status
    if status == "starting" and observation.ready:
        status = "running"  # the reconciler records it on its next pass
    restarts = None
    if run is not None and (run.crash_count or run.last_exit):
        restarts = {
            "crashes": run.crash_count,
            "last_exit": run.last_exit,
            "next_restart_at": run.restart_at.isoformat() if run.restart_at else None,
        }
    digest = organism_sha256(flow.organism_yaml)
    running_sha = run.organism_sha256 if run is not None else None
    running_version = None
    if running_sha is not None:
        running_version = await session.scalar(
            select(func.max(FlowVersion.number)).where(
                FlowVersion.flow_id == flow.id, FlowVersion.content_hash == running_sha
            )
        )
    return FlowStatusView(
        desired=flow.desired_state,
        observed=observed_phase(observation),
        status=status,
        reason=flow.status_reason,
        heartbeat=present_heartbeat(observation.heartbeat),
        outdated=running_sha is not None and running_sha != digest,
        running_version=running_version,
        restarts=restarts,
        queue=queue,
        queue_limit=limit,
        memory=await _memory_usage(session, pumps, flow, digest),
    )


# organism sha256 -> whether it uses project memory (the editor polls the status; a YAML may be
# megabytes, so only its digest and one bit are kept)
_USES_PROJECT_MEMORY: dict[str, bool] = {}
_USES_PROJECT_MEMORY_KEPT = 1024


def _uses_project_memory(organism_yaml: str, digest: str) -> bool:
    known = _USES_PROJECT_MEMORY.get(digest)
    if known is None:
        try:
            known = parse_organism(organism_yaml).memory.project
        except OrganismError:
            known = False
        if len(_USES_PROJECT_MEMORY) >= _USES_PROJECT_MEMORY_KEPT:
            _USES_PROJECT_MEMORY.clear()
        _USES_PROJECT_MEMORY[digest] = known
    return known


async def _memory_usage(
    session: AsyncSession, pumps: Orchestrator, flow: Flow, digest: str
) -> MemoryUsage | None:
    if not _uses_project_memory(flow.organism_yaml, digest):
        return None
    quota = project_memory_quota(await tenant_tier(session, flow.tenant_id), enforce=False)
    return MemoryUsage(
        used_bytes=await pumps.memory_used(flow_ref(flow)),
        quota_bytes=None if quota == UNLIMITED_MEMORY_BYTES else quota,
    )


async def ensure_accepting(app: FastAPI, session: AsyncSession, flow: Flow) -> None:
    """Called by every trigger before it enqueues. Refuses triggers for stopped and failed
    flows; wakes an idle (scaled-to-zero) flow without waiting for it: the trigger waits in
    the flow's stream until the new pump reads it."""
    refuse_over_plan(flow)
    if flow.desired_state != "running":
        raise Conflict(f"flow '{flow.name}' is stopped: start it before sending triggers")
    if flow.status == "error":
        reason = f": {flow.status_reason}" if flow.status_reason else ""
        raise Conflict(
            f"flow '{flow.name}' is in error and not running{reason}. "
            "Fix the flow and start it again before sending triggers"
        )
    if flow.status == "idle":
        await wake_flow(session, app.state.pumps, flow)


async def wake_flow(session: AsyncSession, pumps: Orchestrator, flow: Flow) -> bool:
    """Start an idle flow's pump once, however many triggers arrive at the same moment (a
    Redis claim shared by every control-plane replica). True when this call started it."""
    claim = wake_claim_key(flow.id)
    if not await pumps.redis.set(claim, "1", nx=True, ex=WAKE_CLAIM_SECONDS):
        return False
    organism = parse_organism(flow.organism_yaml)
    quota = memory_quota(organism, await tenant_tier(session, flow.tenant_id), enforce=False)
    try:
        async with pumps.flow_lock(flow.id, wait=WAKE_LOCK_WAIT_SECONDS):
            run = await session.get(PumpRun, flow.id, populate_existing=True)
            run = await _record_start(session, pumps, flow, run)
            flow.status, flow.status_reason = "starting", None
            await session.flush()
            await _backend_call(launch(session, pumps, flow, organism, quota))
    except FlowBusy:
        # The reconciler is stopping this pump right now; it wakes idle flows whose trigger
        # stream has entries waiting, so this trigger is still served.
        await pumps.redis.delete(claim)
        return False
    log.info("pump.woken", flow_id=flow.id, tenant_id=flow.tenant_id, generation=run.generation)
    return True


async def launch(
    session: AsyncSession, pumps: Orchestrator, flow: Flow, organism: Organism, quota: int
) -> None:
    """Gather what the pump needs (secrets, modules) and start it with a fresh credential."""
    references = sorted(
        {item.handler for item in organism.listeners if item.handler.startswith(("wasm:", "tool:"))}
    )
    modules = ResolvedModules()
    for resolve in MODULE_RESOLVERS if references else []:
        modules = modules.merged(await resolve(session, flow.tenant_id, references))
    request = LaunchRequest(
        ref=flow_ref(flow),
        organism_yaml=flow.organism_yaml,
        secrets=await secret_values(session, pumps.secret_box, flow),
        memory_quota_bytes=quota,
        modules=modules,
    )
    await pumps.launch(request)


async def pump_module_bytes(
    session: AsyncSession, pumps: Orchestrator, token: str, filename: str
) -> bytes:
    """A module a pump may download: its token is valid, its flow still exists, and the hash
    is one the token names. Anything else is NotFound (nothing to learn from the answer)."""
    granted = pumps.module_files.verify(token)
    sha256 = filename.removesuffix(".wasm")
    if granted is None or not filename.endswith(".wasm") or sha256 not in granted[1]:
        raise NotFound("no such module")
    ref = granted[0]
    found = await session.scalar(
        select(Flow.id).where(Flow.id == ref.flow_id, Flow.tenant_id == ref.tenant_id)
    )
    if found is None:
        raise NotFound("no such module")
    try:
        return await pumps.module_files.blobs.get(sha256)
    except (BlobNotFound, BlobCorrupted) as error:
        raise NotFound(f"module {sha256} is not available: {error}") from error


def refuse_over_plan(flow: Flow) -> None:
    """A flow beyond its workspace's plan (billing/plans.py) neither starts nor takes triggers."""
    if flow.status == OVER_PLAN:
        raise QuotaExceeded(
            f"flow '{flow.name}' is over the workspace's plan and cannot run: "
            f"{flow.status_reason or 'upgrade, or delete flows to make room'}",
            quota="flows",
            limit=0,
            upgrade_url=UPGRADE_URL,
        )


def startable_organism(flow: Flow) -> Organism:
    try:
        organism = parse_organism(flow.organism_yaml)
    except OrganismError as error:
        raise InvalidOrganism(
            f"flow '{flow.name}' cannot start: {error}",
            [problem.model_dump(exclude_none=True) for problem in error.problems],
        ) from error
    if not organism.listeners:
        raise Conflict(
            f"flow '{flow.name}' has no listeners: add at least one step before starting it"
        )
    return organism


def memory_quota(organism: Organism, tier: str, *, enforce: bool = True) -> int:
    """FLOWPLANE_MEMORY_QUOTA_BYTES: the tier's project memory when the organism opts in."""
    if not organism.memory.project:
        return 0
    return project_memory_quota(tier, enforce=enforce)


def project_memory_quota(tier: str, *, enforce: bool = True) -> int:
    """The tier's project memory in bytes (UNLIMITED_MEMORY_BYTES when it has no cap)."""
    allowed = tier_limits(tier).project_memory_bytes
    if enforce:
        check_quota(tier, "project_memory_bytes", 0, adding=1 if allowed == 0 else 0)
    return UNLIMITED_MEMORY_BYTES if allowed is None else allowed


async def tenant_tier(session: AsyncSession, tenant_id: str) -> str:
    tier = await session.scalar(select(Tenant.tier).where(Tenant.id == tenant_id))
    return tier or "free"


def organism_sha256(organism_yaml: str) -> str:
    return hashlib.sha256(organism_yaml.encode("utf-8")).hexdigest()


def observed_phase(observation: Observation) -> str:
    """`running`, `draining`, `starting` (runs, no heartbeat yet), `exited` or `stopped`."""
    if observation.ready:
        assert observation.heartbeat is not None
        return observation.heartbeat.get("status", "running")
    if observation.state.alive:
        return "starting"
    return "exited" if observation.state.phase == "exited" else "stopped"


def present_heartbeat(heartbeat: dict[str, str] | None) -> dict[str, Any] | None:
    if heartbeat is None:
        return None
    numbers = {
        "in_flight": int,
        "processed": int,
        "failed": int,
        "started_at": float,
        "updated_at": float,
    }
    body: dict[str, Any] = {}
    for name in (
        "status",
        "version",
        "started_at",
        "updated_at",
        "in_flight",
        "processed",
        "failed",
    ):
        if name in heartbeat:
            try:
                body[name] = numbers[name](heartbeat[name]) if name in numbers else heartbeat[name]
            except ValueError:
                body[name] = heartbeat[name]
    return body


async def _record_start(
    session: AsyncSession,
    pumps: Orchestrator,
    flow: Flow,
    run: PumpRun | None,
    *,
    reset_crashes: bool = False,
) -> PumpRun:
    now = utcnow()
    if run is None:
        run = PumpRun(
            flow_id=flow.id, tenant_id=flow.tenant_id, backend=pumps.backend.name, generation=0,
            last_processed=0, crash_count=0,
        )  # fmt: skip
        session.add(run)
    run.backend = pumps.backend.name
    run.generation += 1
    run.started_at, run.ready_at, run.last_activity_at = now, None, now
    run.last_processed, run.restart_at = 0, None
    run.organism_sha256 = organism_sha256(flow.organism_yaml)
    if reset_crashes:
        run.crash_count, run.crash_window_started_at, run.last_exit = 0, None, None
    return run


async def _backend_call(call: Awaitable[None]) -> None:
    """Backend and Redis failures become a clear 503 instead of an internal error."""
    try:
        await call
    except ControlPlaneError:
        raise
    except Exception as error:
        log.exception("pump.backend_failed")
        raise ServiceUnavailable(
            f"the pump backend could not complete the request: {error}"
        ) from error
