"""The reconciler's state changes, each a compare-and-set committed before it acts.

Every change names what it saw (the flow's desired state and status, the run's generation).
If an API request changed the flow meanwhile (a stop, a new start), the UPDATE waits for that
request's transaction, matches no row, and the reconciler drops its plan instead of undoing
what the owner just did. The crash policy (backoff, give-up) is here as plain arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.flows.models import Flow
from control_plane.pumps.models import PumpRun
from control_plane.settings import Settings

MAX_REASON_CHARS = 4000


@dataclass(frozen=True)
class CrashVerdict:
    crash_count: int
    window_started_at: datetime
    give_up: bool
    restart_at: datetime | None


def crash_verdict(run: PumpRun, now: datetime, settings: Settings) -> CrashVerdict:
    """Count this crash in the window; the first restart is immediate, then the delay doubles
    up to the maximum; `pump_crash_limit` crashes within the window mark the flow `error`."""
    window = timedelta(seconds=settings.pump_crash_window_seconds)
    started = run.crash_window_started_at
    if started is None or now - started > window:
        count, started = 1, now
    else:
        count = run.crash_count + 1
    if count >= settings.pump_crash_limit:
        return CrashVerdict(count, started, True, None)
    delay = 0.0
    if count > 1:
        delay = min(
            settings.pump_restart_backoff_seconds * 2 ** (count - 2),
            settings.pump_restart_backoff_max_seconds,
        )
    return CrashVerdict(count, started, False, now + timedelta(seconds=delay))


def give_up_reason(verdict: CrashVerdict, reason: str, settings: Settings) -> str:
    window = int(settings.pump_crash_window_seconds)
    text = f"the pump crashed {verdict.crash_count} times within {window} s; last exit: {reason}"
    return text[:MAX_REASON_CHARS]


async def _rowcount(session: AsyncSession, statement: Any) -> int:
    result = await session.execute(statement.execution_options(synchronize_session=False))
    return int(getattr(result, "rowcount", 0) or 0)


async def _flow_in(
    session: AsyncSession, flow_id: str, statuses: tuple[str, ...], **values: Any
) -> bool:
    statement = (
        update(Flow)
        .where(Flow.id == flow_id, Flow.desired_state == "running", Flow.status.in_(statuses))
        .values(**values)
    )
    return await _rowcount(session, statement) == 1


async def _run_at(session: AsyncSession, flow_id: str, seen_generation: int, **values: Any) -> bool:
    statement = (
        update(PumpRun)
        .where(PumpRun.flow_id == flow_id, PumpRun.generation == seen_generation)
        .values(**values)
    )
    return await _rowcount(session, statement) == 1


async def _commit_if(session: AsyncSession, *conditions: bool) -> bool:
    if all(conditions):
        await session.commit()
        return True
    await session.rollback()
    return False


async def claim_restart(
    session: AsyncSession,
    flow: Flow,
    run: PumpRun | None,
    *,
    backend: str,
    organism_sha256: str,
    now: datetime,
) -> int | None:
    """Flow -> starting and a new generation; returns it, or None when the flow moved on."""
    if not await _flow_in(session, flow.id, (flow.status,), status="starting", status_reason=None):
        await session.rollback()
        return None
    fresh = {
        "started_at": now, "ready_at": None, "last_activity_at": now, "last_processed": 0,
        "restart_at": None, "organism_sha256": organism_sha256, "backend": backend,
    }  # fmt: skip
    if run is None:
        session.add(
            PumpRun(flow_id=flow.id, tenant_id=flow.tenant_id, generation=1, crash_count=0, **fresh)
        )
        try:
            await session.commit()
        except IntegrityError:
            await session.rollback()
            return None
        return 1
    moved = await _run_at(session, flow.id, run.generation, generation=run.generation + 1, **fresh)
    return run.generation + 1 if await _commit_if(session, moved) else None


async def mark_ready(session: AsyncSession, flow_id: str, generation: int, now: datetime) -> bool:
    flow_ok = await _flow_in(
        session, flow_id, ("starting", "idle"), status="running", status_reason=None
    )
    run_ok = await _run_at(session, flow_id, generation, ready_at=now, last_activity_at=now)
    return await _commit_if(session, flow_ok, run_ok)


async def note_activity(
    session: AsyncSession, flow_id: str, generation: int, processed: int, now: datetime
) -> None:
    await _run_at(session, flow_id, generation, last_processed=processed, last_activity_at=now)
    await session.commit()


async def record_crash(
    session: AsyncSession,
    flow: Flow,
    run: PumpRun,
    verdict: CrashVerdict,
    reason: str,
    settings: Settings,
    *,
    flow_reason: str | None = None,
) -> bool:
    """`flow_reason`: the flow's error text when the verdict gives up (default: the count)."""
    run_ok = await _run_at(
        session,
        flow.id,
        run.generation,
        crash_count=verdict.crash_count,
        crash_window_started_at=verdict.window_started_at,
        last_exit=reason[:MAX_REASON_CHARS],
        restart_at=verdict.restart_at,
    )
    flow_ok = True
    if verdict.give_up:
        flow_ok = await _flow_in(
            session, flow.id, (flow.status,), status="error",
            status_reason=(flow_reason or give_up_reason(verdict, reason, settings))[
                :MAX_REASON_CHARS
            ],
        )  # fmt: skip
    return await _commit_if(session, run_ok, flow_ok)


async def mark_error(session: AsyncSession, flow: Flow, reason: str) -> bool:
    """A flow that cannot start at all (its saved organism is unusable): no retries."""
    flow_ok = await _flow_in(
        session, flow.id, (flow.status,), status="error", status_reason=reason[:MAX_REASON_CHARS]
    )
    return await _commit_if(session, flow_ok)


async def mark_idle(session: AsyncSession, flow_id: str, generation: int, now: datetime) -> bool:
    flow_ok = await _flow_in(session, flow_id, ("running",), status="idle", status_reason=None)
    run_ok = await _run_at(session, flow_id, generation, restart_at=None, last_activity_at=now)
    return await _commit_if(session, flow_ok, run_ok)


async def forget_run(session: AsyncSession, run: PumpRun) -> bool:
    """Drop the run record of a flow that is stopped or deleted (then remove its pump); not
    when the flow is to run by now (started after the caller read its state)."""
    running = select(Flow.id).where(Flow.id == run.flow_id, Flow.desired_state == "running")
    statement = delete(PumpRun).where(
        PumpRun.flow_id == run.flow_id, PumpRun.generation == run.generation, ~running.exists()
    )
    return await _commit_if(session, await _rowcount(session, statement) == 1)
