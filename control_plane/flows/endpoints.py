"""/api/flows: a tenant's flows and their versions."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, Response, status
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.audit import audit_target
from control_plane.accounts.dependencies import Principal
from control_plane.accounts.roles import Editor, Viewer
from control_plane.db import DatabaseSession
from control_plane.flows import service
from control_plane.flows.schemas import FlowOut, FlowVersionDetail, FlowVersionOut, FlowWrite
from control_plane.flows.service import FlowRecord
from control_plane.pumps.service import redeploy_saved
from control_plane.settings import Settings

router = APIRouter(prefix="/flows", tags=["flows"])

INVALID_CONTENT: dict[int | str, dict[str, Any]] = {
    402: {"description": "QuotaExceeded: the tier's flow limit is reached"},
    409: {"description": "Conflict: another flow of the workspace has this name"},
    413: {"description": "PayloadTooLarge: canvas_state is too large"},
    422: {"description": "InvalidOrganism: every problem with its path, line and node id"},
}


def reveal_tokens(request: Request) -> Callable[[str], str] | None:
    """Decrypts stored webhook tokens (the orchestrator owns the secrets key)."""
    pumps = getattr(request.app.state, "pumps", None)
    return pumps.secret_box.open if pumps is not None else None


async def present(
    request: Request, principal: Principal, session: AsyncSession, records: list[FlowRecord]
) -> list[FlowOut]:
    return await service.present_flows(
        session, principal, records, base_url(request), reveal_tokens(request)
    )


def base_url(request: Request) -> str:
    """Where clients reach this API: the configured public URL, else the request's own."""
    settings: Settings = request.app.state.settings
    return settings.public_url.rstrip("/") or str(request.base_url).rstrip("/")


@router.get("", response_model=list[FlowOut], summary="List the workspace's flows, newest first")
async def list_flows(
    request: Request, principal: Viewer, session: DatabaseSession
) -> list[FlowOut]:
    records = await service.list_flows(session, principal)
    return await present(request, principal, session, records)


@router.post(
    "",
    response_model=FlowOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a flow from organism YAML, a canvas, or just a name",
    responses=INVALID_CONTENT,
)
async def create_flow(
    body: FlowWrite, request: Request, principal: Editor, session: DatabaseSession
) -> FlowOut:
    record = await service.create_flow(session, principal, body)
    audit_target(request, record.flow.id, record.flow.name)
    return (await present(request, principal, session, [record]))[0]


@router.get("/{flow_id}", response_model=FlowOut, summary="Get a flow")
async def get_flow(
    flow_id: str, request: Request, principal: Viewer, session: DatabaseSession
) -> FlowOut:
    record = await service.get_flow(session, principal, flow_id)
    return (await present(request, principal, session, [record]))[0]


@router.put(
    "/{flow_id}",
    response_model=FlowOut,
    summary="Change a flow (only the fields sent); a changed organism becomes a new version",
    responses={key: value for key, value in INVALID_CONTENT.items() if key != 402},
)
async def update_flow(
    flow_id: str,
    body: FlowWrite,
    request: Request,
    principal: Editor,
    session: DatabaseSession,
) -> FlowOut:
    record = await service.update_flow(session, principal, flow_id, body)
    return await _present_saved(request, principal, session, record)


async def _present_saved(
    request: Request, principal: Principal, session: AsyncSession, record: FlowRecord
) -> FlowOut:
    """A saved flow; a running flow's pump is rolled to the saved version first."""
    pumps = getattr(request.app.state, "pumps", None)
    redeploy = await redeploy_saved(session, pumps, record.flow) if pumps is not None else None
    flow = (await present(request, principal, session, [record]))[0]
    flow.redeploy = redeploy
    return flow


@router.delete(
    "/{flow_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a flow and all its versions",
)
async def delete_flow(flow_id: str, principal: Editor, session: DatabaseSession) -> None:
    await service.delete_flow(session, principal, flow_id)


@router.get(
    "/{flow_id}/versions",
    response_model=list[FlowVersionOut],
    summary="List a flow's versions, newest first",
)
async def list_versions(
    flow_id: str, principal: Viewer, session: DatabaseSession
) -> list[FlowVersionOut]:
    versions = await service.list_versions(session, principal, flow_id)
    return [FlowVersionOut.model_validate(version) for version in versions]


@router.get(
    "/{flow_id}/versions/{number}",
    response_model=FlowVersionDetail,
    summary="Get one version of a flow with its organism and canvas",
)
async def get_version(
    flow_id: str,
    number: Annotated[int, Path(ge=1, le=service.MAX_VERSION_NUMBER)],
    principal: Viewer,
    session: DatabaseSession,
) -> FlowVersionDetail:
    version = await service.get_version(session, principal, flow_id, number)
    return FlowVersionDetail.model_validate(version)


@router.post(
    "/{flow_id}/versions/{number}/restore",
    response_model=FlowOut,
    summary="Make an old version current again (saved as a new version; a running flow rolls)",
)
async def restore_version(
    flow_id: str,
    number: Annotated[int, Path(ge=1, le=service.MAX_VERSION_NUMBER)],
    request: Request,
    principal: Editor,
    session: DatabaseSession,
) -> FlowOut:
    record = await service.restore_version(session, principal, flow_id, number)
    return await _present_saved(request, principal, session, record)
