"""Triggers: webhooks, the Run button and retries become executions through one path.

`submit` checks the tier's monthly executions, admits the trigger (admission.py: row
committed, then entry on the flow's stream) and, for a flow that is not plainly running, asks
the pumps domain (`ensure_accepting`: refuse a stopped or failed flow with 409, wake an idle
one) before admitting it."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.db import utcnow
from control_plane.errors import InvalidInput, NotFound
from control_plane.executions.models import Execution
from control_plane.flows import service as flows_service
from control_plane.flows.models import Flow
from control_plane.pumps.secrets import SecretBox
from control_plane.pumps.service import ensure_accepting
from control_plane.triggers.admission import Admitted, TriggerRequest
from control_plane.triggers.admission_store import NO_WEBHOOK_HERE, FlowNotHot
from control_plane.triggers.body import parse_payload
from control_plane.triggers.catalog import FlowTriggers
from control_plane.triggers.models import WebhookToken
from control_plane.triggers.runtime import trigger_runtime
from control_plane.triggers.schemas import RunResult

WEBHOOK_TOKEN_BYTES = 32
MAX_IDEMPOTENCY_KEY = 255


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def rotate_webhook_token(
    session: AsyncSession, principal: Principal, flow_id: str, box: SecretBox
) -> str:
    """Issue a new webhook token for the flow (the old one stops working); returns it. The
    trigger path checks its hash; the token itself is kept encrypted (like flow secrets) so the
    owner can see the full URL again later."""
    record = await flows_service.get_flow(session, principal, flow_id)
    token = secrets.token_urlsafe(WEBHOOK_TOKEN_BYTES)
    record.flow.webhook_token_hash = hash_token(token)
    stored = await session.get(WebhookToken, flow_id)
    if stored is None:
        session.add(
            WebhookToken(flow_id=flow_id, token_encrypted=box.seal(token), created_at=utcnow())
        )
    else:
        stored.token_encrypted, stored.created_at = box.seal(token), utcnow()
    await session.flush()
    return token


async def webhook_flow(app: FastAPI, flow_id: str, token: str) -> FlowTriggers:
    """The flow this webhook address belongs to; 404 alike for an unknown flow and a wrong
    token, so the address reveals nothing."""
    catalog = trigger_runtime(app).catalog
    flow = await catalog.get(flow_id)
    if flow is not None and not _token_matches(flow, token):
        # Maybe rotated a moment ago: look again, unless the entry is fresh already.
        flow = await catalog.get(flow_id, max_age=0.25)
    if flow is None or not _token_matches(flow, token):
        raise NotFound(NO_WEBHOOK_HERE)
    return flow


def _token_matches(flow: FlowTriggers, token: str) -> bool:
    stored = flow.webhook_token_hash
    return stored is not None and hmac.compare_digest(stored, hash_token(token))


async def submit(app: FastAPI, request: TriggerRequest) -> Admitted:
    """Admit a trigger: 503 while Redis is away or the app is saturated, 402 over the monthly
    quota, 429 when the flow's queue is full, 409 for a flow that is not running."""
    runtime = trigger_runtime(app)
    with runtime.backpressure.slot():
        await runtime.usage.check(request.flow.tenant_id, request.flow.tier)
        await runtime.backpressure.check(request.flow)
        if request.check_run_state and not request.flow.hot:
            await ensure_flow_accepting(app, request.flow.flow_id)
            request.check_run_state = False
        try:
            admitted = await runtime.admitter.admit(request)
        except FlowNotHot:
            await ensure_flow_accepting(app, request.flow.flow_id)
            request.check_run_state = False
            admitted = await runtime.admitter.admit(request)
        if admitted.created:
            runtime.backpressure.admitted(request.flow.flow_id)
        return admitted


async def ensure_flow_accepting(app: FastAPI, flow_id: str) -> None:
    """Ask the pumps domain in a session of its own, committed here: a woken flow's new state
    must be durable before the trigger that woke it is answered."""
    trigger_runtime(app).catalog.invalidate(flow_id)
    async with app.state.sessionmaker() as session:
        flow = await session.get(Flow, flow_id)
        if flow is None:
            raise NotFound(f"flow {flow_id} not found")
        await ensure_accepting(app, session, flow)
        await session.commit()


async def run_and_wait(app: FastAPI, request: TriggerRequest, wait_seconds: float) -> RunResult:
    """Admit the trigger and wait (at most `wait_seconds`) for its execution to finish;
    after that, its current status."""
    watcher = trigger_runtime(app).watcher
    stream = request.flow.keys.events
    waiter = await watcher.register(stream, request.execution_id)
    try:
        admitted = await submit(app, request)
        try:
            outcome = await asyncio.wait_for(asyncio.shield(waiter), wait_seconds)
        except TimeoutError:
            outcome = None
    finally:
        watcher.unregister(stream, request.execution_id)
        if not waiter.done():
            waiter.cancel()
    if outcome is None:
        return RunResult(
            execution_id=admitted.execution_id,
            status=await _current_status(app, admitted.execution_id),
        )
    return RunResult(
        execution_id=admitted.execution_id,
        status=outcome.status,
        outputs=outcome.outputs,
        error=outcome.error,
        reason=outcome.reason,
    )


async def _current_status(app: FastAPI, execution_id: str) -> str:
    async with app.state.engine.connect() as connection:
        status = await connection.scalar(
            select(Execution.status).where(Execution.id == execution_id)
        )
    return str(status or "queued")


async def accept_webhook(
    app: FastAPI,
    flow: FlowTriggers,
    *,
    body: bytes,
    content_type: str | None,
    trigger_name: str | None,
    idempotency_key: str | None,
) -> Admitted:
    if idempotency_key is not None and not 0 < len(idempotency_key) <= MAX_IDEMPOTENCY_KEY:
        raise InvalidInput(
            f"the Idempotency-Key header must be 1 to {MAX_IDEMPOTENCY_KEY} characters",
            problems=[{"path": "Idempotency-Key", "message": "too long or empty"}],
        )
    trigger = flow.webhook_trigger(trigger_name)
    request = TriggerRequest(
        flow=flow,
        trigger=trigger,
        trigger_kind="webhook",
        payload=parse_payload(content_type, body),
        idempotency_key=idempotency_key,
        token_hash=flow.webhook_token_hash,
    )
    return await submit(app, request)


async def manual_flow(app: FastAPI, principal: Principal, flow_id: str) -> FlowTriggers:
    """The flow for the Run button or a retry, tenant-scoped: another tenant's flow is not
    found, exactly like a flow that does not exist."""
    flow = await trigger_runtime(app).catalog.get(flow_id, max_age=0.0)
    if flow is None or flow.tenant_id != principal.tenant_id:
        raise NotFound(f"flow {flow_id} not found")
    return flow


def manual_request(flow: FlowTriggers, trigger_name: str | None, payload: Any) -> TriggerRequest:
    """The Run button: the payload sent, else the trigger's own payload, else {}."""
    trigger = flow.manual_trigger(trigger_name)
    if payload is None:
        payload = trigger.payload if trigger.payload is not None else {}
    return TriggerRequest(flow=flow, trigger=trigger, trigger_kind="manual", payload=payload)
