"""One-off schedules: fire a flow's trigger once, at a time or after a delay.

Firing is exactly once across replicas: a due job is claimed (`pending` → `firing`, a
conditional UPDATE), then submitted like a Run with the idempotency key `job:<id>` (so even a
replica that died after submitting and a replica retrying the claim later make one execution),
then marked `fired` with its execution. A job for a flow that is stopped (or whose trigger is
gone, or over the quota) is marked `failed` with the reason, never dropped silently; a
temporary refusal (429/503) is tried again at the next tick. DELETE cancels a pending job; a
job being fired cannot be cancelled any more (409)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import and_, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.callbacks.outbox import expect_callback, validate_callback
from control_plane.db import new_id, utcnow
from control_plane.errors import Conflict, ControlPlaneError, InvalidInput, NotFound
from control_plane.flows import service as flows_service
from control_plane.jobs.models import JOB_STATUSES, OneOffJob
from control_plane.jobs.schemas import JobIn
from control_plane.triggers.admission import TriggerRequest
from control_plane.triggers.runtime import trigger_runtime
from control_plane.triggers.service import manual_flow, submit

log = structlog.get_logger("control_plane.jobs")
CLAIM_STALE_SECONDS = 30.0  # a `firing` job this old belongs to a replica that died
RETRYABLE = (429, 503)


async def create_job(
    app: FastAPI, session: AsyncSession, principal: Principal, flow_id: str, body: JobIn
) -> tuple[OneOffJob, bool]:
    """The job, and whether it was created (False: its idempotency key was used before)."""
    await flows_service.get_flow(session, principal, flow_id)
    if (body.at is None) == (body.delay_seconds is None):
        raise InvalidInput(
            "give exactly one of 'at' (an ISO 8601 time) or 'delay_seconds'",
            problems=[{"path": "at", "message": "exactly one of at or delay_seconds"}],
        )
    now = utcnow()
    if body.at is not None:
        if body.at.tzinfo is None:
            raise InvalidInput(
                "'at' needs a time zone (e.g. 2030-01-01T09:00:00Z)",
                problems=[{"path": "at", "message": "no time zone"}],
            )
        fire_at = body.at.astimezone(UTC)
        if fire_at < now - timedelta(seconds=60):
            raise InvalidInput(
                f"'at' is in the past ({fire_at.isoformat()})",
                problems=[{"path": "at", "message": "in the past"}],
            )
    else:
        fire_at = now + timedelta(seconds=body.delay_seconds or 0.0)
    if body.idempotency_key is not None:
        existing = await _by_key(session, flow_id, body.idempotency_key)
        if existing is not None:
            return existing, False
    if body.callback_url is not None:
        validate_callback(app, body.callback_url)
    flow = await manual_flow(app, principal, flow_id)
    trigger = flow.manual_trigger(body.trigger)
    job = OneOffJob(
        id=new_id(),
        tenant_id=principal.tenant_id,
        flow_id=flow_id,
        trigger=trigger.name,
        payload=body.payload,
        idempotency_key=body.idempotency_key,
        callback_url=body.callback_url,
        callback_token=body.callback_token,
        status="pending",
        fire_at=fire_at,
        created_at=now,
    )
    session.add(job)
    try:
        await session.flush()
    except IntegrityError:  # the same key, created concurrently
        await session.rollback()
        existing = await _by_key(session, flow_id, body.idempotency_key or "")
        if existing is None:
            raise
        return existing, False
    return job, True


async def _by_key(session: AsyncSession, flow_id: str, key: str) -> OneOffJob | None:
    job: OneOffJob | None = await session.scalar(
        select(OneOffJob).where(OneOffJob.flow_id == flow_id, OneOffJob.idempotency_key == key)
    )
    return job


async def list_jobs(
    session: AsyncSession, principal: Principal, flow_id: str, status: str | None
) -> list[OneOffJob]:
    await flows_service.get_flow(session, principal, flow_id)
    if status is not None and status not in JOB_STATUSES:
        raise InvalidInput(
            f"unknown status {status!r}; use one of {', '.join(JOB_STATUSES)}",
            problems=[{"path": "status", "message": "unknown status"}],
        )
    query = select(OneOffJob).where(OneOffJob.flow_id == flow_id)
    if status is not None:
        query = query.where(OneOffJob.status == status)
    return list(await session.scalars(query.order_by(OneOffJob.fire_at.desc()).limit(500)))


async def get_job(
    session: AsyncSession, principal: Principal, flow_id: str, job_id: str
) -> OneOffJob:
    job = await session.get(OneOffJob, job_id)
    if job is None or job.flow_id != flow_id or job.tenant_id != principal.tenant_id:
        raise NotFound(f"schedule {job_id} not found")
    return job


async def cancel_job(
    session: AsyncSession, principal: Principal, flow_id: str, job_id: str
) -> OneOffJob:
    job = await get_job(session, principal, flow_id, job_id)
    result = await session.execute(
        update(OneOffJob)
        .where(OneOffJob.id == job_id, OneOffJob.status == "pending")
        .values(status="cancelled")
        .execution_options(synchronize_session=False)
    )
    await session.refresh(job)
    if not result.rowcount:  # type: ignore[attr-defined]
        raise Conflict(f"schedule {job_id} is {job.status}; only a pending one can be cancelled")
    return job


async def fire_due(app: FastAPI, limit: int = 100) -> int:
    engine: AsyncEngine = app.state.engine
    now = utcnow()
    stale = now - timedelta(seconds=CLAIM_STALE_SECONDS)
    async with engine.connect() as connection:
        due = (
            await connection.execute(
                select(OneOffJob)
                .where(
                    or_(
                        and_(OneOffJob.status == "pending", OneOffJob.fire_at <= now),
                        and_(OneOffJob.status == "firing", OneOffJob.fired_at < stale),
                    )
                )
                .order_by(OneOffJob.fire_at)
                .limit(limit)
            )
        ).all()
    fired = 0
    for row in due:
        job = row._mapping
        if await _claim(engine, job["id"], job["status"], now):
            fired += await _fire(app, job)
    return fired


async def _claim(engine: AsyncEngine, job_id: str, status: str, now: datetime) -> bool:
    async with engine.begin() as connection:
        result = await connection.execute(
            update(OneOffJob)
            .where(OneOffJob.id == job_id, OneOffJob.status == status)
            .values(status="firing", fired_at=now)
        )
        return bool(result.rowcount)


async def _fire(app: FastAPI, job: Any) -> int:
    engine: AsyncEngine = app.state.engine
    try:
        flow = await trigger_runtime(app).catalog.get(job["flow_id"], max_age=0.0)
        if flow is None:
            raise NotFound(f"flow {job['flow_id']} no longer exists")
        request = TriggerRequest(
            flow=flow,
            trigger=flow.manual_trigger(job["trigger"]),
            trigger_kind="schedule",
            payload=job["payload"] if job["payload"] is not None else {},
            idempotency_key=f"job:{job['id']}",
        )
        admitted = await submit(app, request)
    except ControlPlaneError as refused:
        if refused.status in RETRYABLE:
            await _set(engine, job["id"], status="pending")
            return 0
        log.warning("jobs.failed", job_id=job["id"], reason=refused.detail)
        await _set(engine, job["id"], status="failed", error=refused.detail)
        return 0
    if job["callback_url"]:
        await expect_callback(
            engine, admitted.execution_id, job["callback_url"], job["callback_token"]
        )
    await _set(engine, job["id"], status="fired", execution_id=admitted.execution_id)
    return 1


async def _set(engine: AsyncEngine, job_id: str, **values: Any) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(OneOffJob)
            .where(OneOffJob.id == job_id, OneOffJob.status == "firing")
            .values(**values)
        )
