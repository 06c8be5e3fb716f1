"""/api/flows/{id}/events/{topic}, /api/flows/{id}/event-token, approve and reject."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from control_plane.accounts.dependencies import Principal
from control_plane.accounts.roles import Editor, ensure_role
from control_plane.accounts.service import authenticate
from control_plane.db import DatabaseSession
from control_plane.flows import service as flows_service
from control_plane.waits import decisions
from control_plane.waits.schemas import (
    DecisionIn,
    DecisionOut,
    EventAccepted,
    EventIn,
    EventToken,
)

router = APIRouter(tags=["waits"])
_bearer = HTTPBearer(auto_error=False, description="An API key or session token")


@router.post(
    "/flows/{flow_id}/events/{topic}",
    response_model=EventAccepted,
    summary="Send an event: resumes the flow's executions waiting for (topic, correlation_id)",
    responses={429: {"description": "TooManyRequests: the workspace keeps too many events"}},
)
async def send_event(
    flow_id: str,
    topic: str,
    body: EventIn,
    request: Request,
    session: DatabaseSession,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    event_token: Annotated[str | None, Header(alias="X-Event-Token")] = None,
) -> EventAccepted:
    principal: Principal | None = None
    if credentials is not None:
        principal = await authenticate(session, credentials.credentials)
        ensure_role(principal, "editor")
    flow = await decisions.event_flow(session, flow_id, principal, event_token)
    tenant_id = flow.tenant_id
    await session.rollback()
    resumed, kept_until = await decisions.deliver_event(
        request.app,
        flow_id,
        tenant_id,
        topic,
        body.correlation_id,
        body.payload,
        body.keep_seconds,
    )
    return EventAccepted(resumed=resumed, kept_until=kept_until)


@router.post(
    "/flows/{flow_id}/event-token",
    response_model=EventToken,
    summary="Issue the flow's event token (the previous one stops working); shown once",
)
async def rotate_event_token(
    flow_id: str, principal: Editor, session: DatabaseSession
) -> EventToken:
    record = await flows_service.get_flow(session, principal, flow_id)
    return EventToken(token=await decisions.rotate_event_token(session, record.flow))


@router.post(
    "/executions/{execution_id}/approve",
    response_model=DecisionOut,
    summary="Approve a waiting approval: the execution continues",
    responses={409: {"description": "the execution is not waiting for an approval"}},
)
async def approve(
    execution_id: str,
    request: Request,
    principal: Editor,
    session: DatabaseSession,
    body: DecisionIn | None = None,
) -> DecisionOut:
    comment = body.comment if body else None
    await decisions.approve(request.app, session, principal, execution_id, comment)
    return DecisionOut(execution_id=execution_id, decision="approved")


@router.post(
    "/executions/{execution_id}/reject",
    response_model=DecisionOut,
    summary="Reject a waiting approval: the execution fails with reason `rejected`",
    responses={409: {"description": "the execution is not waiting for an approval"}},
)
async def reject(
    execution_id: str,
    request: Request,
    principal: Editor,
    session: DatabaseSession,
    body: DecisionIn | None = None,
) -> DecisionOut:
    comment = body.comment if body else None
    await decisions.reject(request.app, session, principal, execution_id, comment)
    return DecisionOut(execution_id=execution_id, decision="rejected")
