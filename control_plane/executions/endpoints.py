"""/api/flows/{id}/executions, /api/executions/{id} and its retry."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, Request, status

from control_plane.accounts.roles import Editor, Viewer
from control_plane.db import DatabaseSession
from control_plane.executions import control, service
from control_plane.executions.schemas import (
    CancelOut,
    ExecutionDetail,
    ExecutionPage,
    RerunIn,
    RetryAccepted,
)

router = APIRouter(tags=["executions"])


@router.get(
    "/flows/{flow_id}/executions",
    response_model=ExecutionPage,
    summary="List a flow's executions, newest first (keyset pagination)",
)
async def list_executions(
    flow_id: str,
    principal: Viewer,
    session: DatabaseSession,
    status_filter: Annotated[
        str | None,
        Query(
            alias="status",
            description="queued | running | waiting | succeeded | failed | cancelled",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ExecutionPage:
    return await service.list_executions(
        session, principal, flow_id, status=status_filter, limit=limit, cursor=cursor
    )


@router.get(
    "/executions",
    response_model=ExecutionPage,
    summary="Executions of every flow of the workspace, newest first, with filters",
)
async def list_all_executions(
    principal: Viewer,
    session: DatabaseSession,
    flow_id: Annotated[str | None, Query(max_length=32, description="only this flow")] = None,
    status_filter: Annotated[
        str | None, Query(alias="status", description="queued | running | succeeded | failed")
    ] = None,
    trigger_kind: Annotated[
        str | None, Query(description="webhook | manual | schedule | retry")
    ] = None,
    since: Annotated[datetime | None, Query(description="created at or after (ISO 8601)")] = None,
    until: Annotated[datetime | None, Query(description="created at or before (ISO 8601)")] = None,
    limit: Annotated[int, Query(ge=1, le=service.MAX_PAGE)] = 50,
    cursor: Annotated[str | None, Query(description="next_cursor of the previous page")] = None,
) -> ExecutionPage:
    return await service.list_executions(
        session, principal, flow_id or None, status=status_filter, limit=limit, cursor=cursor,
        trigger_kind=trigger_kind, since=since, until=until,
    )  # fmt: skip


@router.get(
    "/executions/{execution_id}",
    response_model=ExecutionDetail,
    summary="An execution with its input, outputs and step timeline",
)
async def get_execution(
    execution_id: str, principal: Viewer, session: DatabaseSession
) -> ExecutionDetail:
    return await service.get_execution(session, principal, execution_id)


@router.post(
    "/executions/{execution_id}/retry",
    response_model=RetryAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run the execution's trigger again with the same input",
    responses={
        402: {"description": "QuotaExceeded: the tier's monthly executions are used up"},
        409: {"description": "Conflict: the flow is not running, or the input was truncated"},
    },
)
async def retry_execution(
    execution_id: str, request: Request, principal: Editor, session: DatabaseSession
) -> RetryAccepted:
    admitted = await service.retry_execution(session, request.app, principal, execution_id)
    return RetryAccepted(execution_id=admitted.execution_id)


@router.post(
    "/executions/{execution_id}/cancel",
    response_model=CancelOut,
    summary="Cancel a queued, running or waiting execution",
    responses={409: {"description": "the execution has ended already"}},
)
async def cancel_execution(execution_id: str, request: Request, principal: Editor) -> CancelOut:
    how = await control.cancel(request.app, principal.tenant_id, execution_id)
    return CancelOut(execution_id=execution_id, status="cancelled", how=how)


@router.post(
    "/executions/{execution_id}/rerun",
    response_model=RetryAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start a new execution at one of this execution's steps, with that step's input",
    responses={
        402: {"description": "QuotaExceeded: the tier's monthly executions are used up"},
        409: {"description": "Conflict: the flow is not running, or the input was truncated"},
        422: {"description": "no such step"},
    },
)
async def rerun_execution(
    execution_id: str,
    body: RerunIn,
    request: Request,
    principal: Editor,
    session: DatabaseSession,
) -> RetryAccepted:
    admitted = await service.rerun_execution(
        session, request.app, principal, execution_id, body.from_step
    )
    return RetryAccepted(execution_id=admitted.execution_id)
