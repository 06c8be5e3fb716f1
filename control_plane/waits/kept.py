"""Events kept for a wait that has not parked yet.

An event can arrive before the execution that awaits it has reached its wait step: a flow
that starts a job and then waits for the job's callback races the callback. Sent with
`keep_seconds`, an event nobody waits for is kept (`kept_events`); on each tick of the waits
loop the oldest kept event with the (flow, topic, correlation_id) of a pending event wait
resumes that wait, and is deleted in the same transaction as the wait's claim: one kept event
resumes exactly one wait (a live event resumes every wait it matches). Expired events are
deleted by the same tick.

Kept events are untrusted input held on the tenant's behalf, so they are bounded: at most
`MAX_KEPT_PAYLOAD_BYTES` of JSON each and about `MAX_KEPT_PER_TENANT` at a time (429 past it)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import orjson
import structlog
from fastapi import FastAPI
from sqlalchemy import and_, delete, func, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.db import new_id, utcnow
from control_plane.errors import ControlPlaneError, InvalidInput, TooManyRequests
from control_plane.waits import service
from control_plane.waits.models import ExecutionWait, KeptEvent

log = structlog.get_logger("control_plane.waits")
MAX_KEPT_PAYLOAD_BYTES = 64 * 1024
MAX_KEPT_PER_TENANT = 10_000
MATCHES_PER_TICK = 100


def check_keepable(payload: Any, keep_seconds: int) -> None:
    """Refuse, before anything is done, an event that asks to be kept but could not be."""
    if keep_seconds and _json_size(payload) > MAX_KEPT_PAYLOAD_BYTES:
        raise InvalidInput(
            f"payload is over {MAX_KEPT_PAYLOAD_BYTES} bytes of JSON: too large to keep "
            "(send it with keep_seconds 0, or send less)",
            problems=[{"path": "payload", "message": "too large to keep"}],
        )


def _json_size(value: Any) -> int:
    try:
        return len(orjson.dumps(value))
    except TypeError:  # past orjson (an integer over 64 bits): the standard library measures
        return len(json.dumps(value).encode())


async def keep(
    engine: AsyncEngine,
    *,
    tenant_id: str,
    flow_id: str,
    topic: str,
    correlation_id: str,
    payload: Any,
    keep_seconds: int,
) -> datetime:
    """Keep the event until the returned moment; 429 when the tenant keeps too many."""
    now = utcnow()
    async with engine.begin() as connection:
        kept = await connection.scalar(
            select(func.count())
            .select_from(KeptEvent)
            .where(KeptEvent.tenant_id == tenant_id, KeptEvent.expires_at > now)
        )
        if (kept or 0) >= MAX_KEPT_PER_TENANT:
            raise TooManyRequests(
                f"the workspace keeps {MAX_KEPT_PER_TENANT} events already: wait until some "
                "resume or expire, or send with a shorter keep_seconds"
            )
        expires_at = now + timedelta(seconds=keep_seconds)
        await connection.execute(
            insert(KeptEvent).values(
                id=new_id(),
                tenant_id=tenant_id,
                flow_id=flow_id,
                topic=topic,
                correlation_id=correlation_id,
                payload=payload,
                created_at=now,
                expires_at=expires_at,
            )
        )
    return expires_at


async def resume_with_kept_events(app: FastAPI, limit: int = MATCHES_PER_TICK) -> int:
    """Drop expired kept events; resume pending event waits that a kept event matches (the
    oldest event first, each to one wait); returns how many waits were resumed."""
    engine: AsyncEngine = app.state.engine
    now = utcnow()
    async with engine.connect() as connection:
        expired = (
            await connection.scalars(
                select(KeptEvent.id).where(KeptEvent.expires_at <= now).limit(500)
            )
        ).all()
        pairs = (
            await connection.execute(
                select(KeptEvent.id, KeptEvent.payload, ExecutionWait.id, ExecutionWait.flow_id)
                .join(
                    ExecutionWait,
                    and_(
                        ExecutionWait.flow_id == KeptEvent.flow_id,
                        ExecutionWait.topic == KeptEvent.topic,
                        ExecutionWait.correlation_id == KeptEvent.correlation_id,
                    ),
                )
                .where(
                    KeptEvent.expires_at > now,
                    ExecutionWait.status == "pending",
                    ExecutionWait.kind == "event",
                )
                .order_by(KeptEvent.created_at, ExecutionWait.created_at)
                .limit(limit)
            )
        ).all()
    if expired:  # written only when there is something to delete: SQLite has one writer
        async with engine.begin() as connection:
            await connection.execute(delete(KeptEvent).where(KeptEvent.id.in_(expired)))
    used: set[str] = set()
    resumed = 0
    for kept_id, payload, wait_id, flow_id in pairs:
        if kept_id in used or wait_id in used:
            continue
        decision = service.Decision("resumed", payload=payload, decided_by=f"event {kept_id}")
        try:
            if await service.resume(app, wait_id, decision, flow_id, kept_event_id=kept_id):
                used |= {kept_id, wait_id}
                resumed += 1
        except ControlPlaneError as refused:  # a stopped flow: the wait and the event stay
            log.info("waits.kept_event_deferred", wait_id=wait_id, reason=refused.detail)
    return resumed
