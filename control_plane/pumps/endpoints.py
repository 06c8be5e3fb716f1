"""/api/flows/{id}/start|stop|status|logs|secrets: a flow's pump, seen from its owner."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from control_plane.accounts.roles import Editor, Viewer
from control_plane.db import DatabaseSession
from control_plane.errors import InvalidInput
from control_plane.flows import service as flows
from control_plane.pumps import secrets, service
from control_plane.pumps.logs import log_events, stream_id_problem
from control_plane.pumps.orchestrator import Orchestrator
from control_plane.pumps.schemas import (
    HeartbeatOut,
    LifecycleOut,
    MemoryOut,
    QueueOut,
    SecretNamesOut,
    SecretsWrite,
    StatusOut,
)
from pump.keys import LOG_STREAM_MAXLEN, FlowKeys

router = APIRouter(prefix="/flows", tags=["pumps"])

START_ERRORS = {
    402: {"description": "QuotaExceeded: the organism needs project memory the tier lacks"},
    404: {"description": "NotFound: no such flow in this workspace"},
    409: {"description": "Conflict: the flow has no listeners"},
    422: {"description": "InvalidOrganism: every problem with its path and line"},
    503: {"description": "ServiceUnavailable: the pump backend failed"},
}


def orchestrator(request: Request) -> Orchestrator:
    pumps: Orchestrator = request.app.state.pumps
    return pumps


Pumps = Annotated[Orchestrator, Depends(orchestrator)]


@router.post(
    "/{flow_id}/start",
    response_model=LifecycleOut,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start the flow's pump (202: it is starting; GET status shows when it runs)",
    responses=START_ERRORS,  # type: ignore[arg-type]
)
async def start_flow(
    flow_id: str, principal: Editor, session: DatabaseSession, pumps: Pumps
) -> LifecycleOut:
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    state = await service.start_flow(session, pumps, flow)
    return LifecycleOut(flow_id=flow.id, desired=flow.desired_state, status=state)


@router.post(
    "/{flow_id}/stop",
    response_model=LifecycleOut,
    summary="Stop the flow's pump: in-flight executions drain first; triggers are then refused",
)
async def stop_flow(
    flow_id: str, principal: Editor, session: DatabaseSession, pumps: Pumps
) -> LifecycleOut:
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    state = await service.stop_flow(session, pumps, flow)
    return LifecycleOut(flow_id=flow.id, desired=flow.desired_state, status=state)


@router.get(
    "/{flow_id}/status",
    response_model=StatusOut,
    summary="Desired and observed state of the flow's pump, with its last heartbeat",
)
async def flow_status(
    flow_id: str, principal: Viewer, session: DatabaseSession, pumps: Pumps
) -> StatusOut:
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    view = await service.flow_status(session, pumps, flow)
    return StatusOut(
        flow_id=flow.id,
        desired=view.desired,
        observed=view.observed,
        status=view.status,
        reason=view.reason,
        outdated=view.outdated,
        running_version=view.running_version,
        heartbeat=HeartbeatOut.from_pump(view.heartbeat) if view.heartbeat else None,
        restarts=view.restarts,
        queue=QueueOut(
            waiting=view.queue.waiting,
            in_progress=view.queue.in_progress,
            depth=view.queue.depth,
            limit=view.queue_limit,
        ),
        memory=MemoryOut(used_bytes=view.memory.used_bytes, quota_bytes=view.memory.quota_bytes)
        if view.memory
        else None,
    )


@router.get(
    "/{flow_id}/logs",
    summary="The flow's log lines as Server-Sent Events: history first, then live",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "`data:` is a LogLine"}},
)
async def flow_logs(
    flow_id: str,
    session: DatabaseSession,
    pumps: Pumps,
    principal: Viewer,
    history: Annotated[
        int, Query(ge=0, le=LOG_STREAM_MAXLEN, description="lines of history")
    ] = 100,
    follow: Annotated[bool, Query(description="keep streaming new lines")] = True,
    last_event_id: Annotated[
        str | None, Header(max_length=41, description="resume after this line (SSE reconnect)")
    ] = None,
) -> StreamingResponse:
    if last_event_id is not None and (problem := stream_id_problem(last_event_id)):
        raise InvalidInput(problem, [{"path": "header.last-event-id", "message": problem}])
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    events = log_events(
        pumps.redis,
        FlowKeys(flow.tenant_id, flow.id),
        history=history,
        last_event_id=last_event_id,
        follow=follow,
    )
    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events, media_type="text/event-stream", headers=headers)


@router.get(
    "/{flow_id}/secrets",
    response_model=SecretNamesOut,
    summary="The names of the flow's secrets (values are write-only)",
)
async def list_secrets(flow_id: str, principal: Viewer, session: DatabaseSession) -> SecretNamesOut:
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    return SecretNamesOut(names=await secrets.secret_names(session, flow))


@router.put(
    "/{flow_id}/secrets",
    response_model=SecretNamesOut,
    summary="Set secrets ({NAME: value}, merged; null deletes); used as ${secrets.NAME}",
)
async def update_secrets(
    flow_id: str,
    body: SecretsWrite,
    principal: Editor,
    session: DatabaseSession,
    pumps: Pumps,
) -> SecretNamesOut:
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    names = await secrets.update_secrets(session, pumps.secret_box, flow, body.root)
    return SecretNamesOut(names=names, restart_required=flow.status in ("starting", "running"))


# Pumps that cannot mount their modules (kubernetes) download them here: the token in the URL
# is signed by the control plane and names the flow and exactly the hashes it may fetch.
module_downloads = APIRouter(prefix="/pump-modules", tags=["pumps"])


@module_downloads.get(
    "/{token}/{filename}",
    response_class=Response,
    summary="A pump downloads one of its flow's modules (`<sha256>.wasm`) with its token",
    responses={200: {"content": {"application/wasm": {}}}, 404: {"description": "NotFound"}},
)
async def download_pump_module(
    token: str, filename: str, session: DatabaseSession, pumps: Pumps
) -> Response:
    data = await service.pump_module_bytes(session, pumps, token, filename)
    return Response(data, media_type="application/wasm")
