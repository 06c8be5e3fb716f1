"""What people and systems do to waits through the API: send an event, approve, reject."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.errors import Conflict, InvalidInput, NotFound, Unauthorized
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.waits import service
from control_plane.waits.kept import check_keepable, keep
from control_plane.waits.models import ExecutionWait
from pump.organism.models import TOPIC_PATTERN

EVENT_TOKEN_BYTES = 32
MAX_EVENTS_MATCHED = 1_000
MAX_COMMENT_CHARS = 2_000
NO_FLOW = "flow {flow_id} not found"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_event_token(session: AsyncSession, flow: Flow) -> str:
    token = "fpe_" + secrets.token_urlsafe(EVENT_TOKEN_BYTES)
    flow.event_token_hash = _hash(token)
    await session.flush()
    return token


async def event_flow(
    session: AsyncSession, flow_id: str, principal: Principal | None, event_token: str | None
) -> Flow:
    """The flow an event is sent to: the caller's tenant's (API key or session), or any flow
    whose event token the caller holds; 404 alike for unknown flows and wrong tokens."""
    flow = await session.get(Flow, flow_id)
    if principal is not None:
        if flow is None or flow.tenant_id != principal.tenant_id:
            raise NotFound(NO_FLOW.format(flow_id=flow_id))
        return flow
    if event_token is None:
        raise Unauthorized(
            "send an API key ('Authorization: Bearer fpk_...') or the flow's event token "
            "('X-Event-Token')"
        )
    stored = flow.event_token_hash if flow is not None else None
    if flow is None or stored is None or not hmac.compare_digest(stored, _hash(event_token)):
        raise NotFound(NO_FLOW.format(flow_id=flow_id))
    return flow


def check_topic(topic: str) -> None:
    if not re.match(TOPIC_PATTERN, topic):
        raise InvalidInput(
            f"topic {topic[:80]!r} is not a topic name (letters, digits, '.', '_', '-')",
            problems=[{"path": "topic", "message": "invalid topic"}],
        )


async def deliver_event(
    app: FastAPI,
    flow_id: str,
    tenant_id: str,
    topic: str,
    correlation_id: str,
    payload: Any,
    keep_seconds: int = 0,
) -> tuple[list[str], datetime | None]:
    """Resume every execution of the flow waiting for (topic, correlation_id) with the event's
    payload: the ids of those resumed; when there were none and `keep_seconds` is set, the
    event is kept for the first such wait that parks (kept.py) until the moment returned."""
    check_topic(topic)
    check_keepable(payload, keep_seconds)
    async with app.state.engine.connect() as connection:
        rows = (
            await connection.execute(
                select(ExecutionWait.id, ExecutionWait.execution_id)
                .where(
                    ExecutionWait.flow_id == flow_id,
                    ExecutionWait.topic == topic,
                    ExecutionWait.correlation_id == correlation_id,
                    ExecutionWait.status == "pending",
                    ExecutionWait.kind == "event",
                )
                .limit(MAX_EVENTS_MATCHED)
            )
        ).all()
    resumed: list[str] = []
    for wait_id, execution_id in rows:
        decision = service.Decision("resumed", payload=payload)
        if await service.resume(app, wait_id, decision, flow_id):
            resumed.append(execution_id)
    if resumed or not keep_seconds:
        return resumed, None
    kept_until = await keep(
        app.state.engine,
        tenant_id=tenant_id,
        flow_id=flow_id,
        topic=topic,
        correlation_id=correlation_id,
        payload=payload,
        keep_seconds=keep_seconds,
    )
    return resumed, kept_until


async def pending_approval(
    session: AsyncSession, principal: Principal, execution_id: str
) -> ExecutionWait:
    execution = await session.get(Execution, execution_id)
    if execution is None or execution.tenant_id != principal.tenant_id:
        raise NotFound(f"execution {execution_id} not found")
    wait = (
        await session.scalars(
            select(ExecutionWait).where(
                ExecutionWait.execution_id == execution_id,
                ExecutionWait.status == "pending",
                ExecutionWait.kind == "approval",
            )
        )
    ).first()
    if wait is None:
        raise Conflict(
            f"execution {execution_id} is not waiting for an approval (it is {execution.status})"
        )
    return wait


def _comment(comment: str | None) -> str | None:
    if comment is not None and len(comment) > MAX_COMMENT_CHARS:
        raise InvalidInput(
            f"comment is over {MAX_COMMENT_CHARS} characters",
            problems=[{"path": "comment", "message": "too long"}],
        )
    return comment


async def approve(
    app: FastAPI,
    session: AsyncSession,
    principal: Principal,
    execution_id: str,
    comment: str | None,
) -> None:
    _comment(comment)
    wait = await pending_approval(session, principal, execution_id)
    decision = service.Decision("resumed", payload=wait.input, decided_by=principal.user_id)
    wait_id, flow_id = wait.id, wait.flow_id
    await session.rollback()  # release the read before the claim in another transaction
    if not await service.resume(app, wait_id, decision, flow_id):
        raise Conflict(f"execution {execution_id} was decided already")


async def reject(
    app: FastAPI,
    session: AsyncSession,
    principal: Principal,
    execution_id: str,
    comment: str | None,
) -> None:
    _comment(comment)
    wait = await pending_approval(session, principal, execution_id)
    error = f"rejected at listener {wait.listener!r}" + (f": {comment}" if comment else "")
    decision = service.Decision(
        "rejected", decided_by=principal.user_id, reason="rejected", error=error
    )
    wait_id = wait.id
    await session.rollback()
    if not await service.close(app.state.engine, wait_id, decision):
        raise Conflict(f"execution {execution_id} was decided already")
