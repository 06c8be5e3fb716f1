"""/api/flows/{id}/samples, /api/flows/{id}/export, /api/flows/import, /api/starters."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response, status

from control_plane.accounts.roles import Editor, Viewer
from control_plane.authoring import service
from control_plane.authoring.schemas import FlowImport, SampleOut, SampleWrite, StarterOut
from control_plane.db import DatabaseSession
from control_plane.flows import service as flows
from control_plane.flows.endpoints import INVALID_CONTENT, present
from control_plane.flows.schemas import FlowOut

router = APIRouter(tags=["authoring"])
SampleName = Annotated[str, Path(min_length=1, max_length=63)]


@router.get(
    "/flows/{flow_id}/samples",
    response_model=list[SampleOut],
    summary="The flow's saved test payloads, by name",
)
async def list_samples(
    flow_id: str, principal: Viewer, session: DatabaseSession
) -> list[SampleOut]:
    samples = await service.list_samples(session, principal, flow_id)
    return [SampleOut.model_validate(sample) for sample in samples]


@router.put(
    "/flows/{flow_id}/samples/{name}",
    response_model=SampleOut,
    summary="Save a named test payload (replaces one of the same name)",
)
async def put_sample(
    flow_id: str,
    name: SampleName,
    body: SampleWrite,
    principal: Editor,
    session: DatabaseSession,
) -> SampleOut:
    sample = await service.put_sample(session, principal, flow_id, name, body.payload)
    return SampleOut.model_validate(sample)


@router.delete(
    "/flows/{flow_id}/samples/{name}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a saved test payload",
)
async def delete_sample(
    flow_id: str, name: SampleName, principal: Editor, session: DatabaseSession
) -> None:
    await service.delete_sample(session, principal, flow_id, name)


@router.get(
    "/flows/{flow_id}/export",
    response_class=Response,
    summary="Download the flow as a file: its organism YAML with its canvas",
    responses={200: {"content": {"application/yaml": {}}}},
)
async def export_flow(flow_id: str, principal: Viewer, session: DatabaseSession) -> Response:
    flow = (await flows.get_flow(session, principal, flow_id)).flow
    text = service.export_file(flow.organism_yaml, flow.canvas_state)
    disposition = f'attachment; filename="{flow.name}.flow.yaml"'
    return Response(
        text, media_type="application/yaml", headers={"Content-Disposition": disposition}
    )


@router.post(
    "/flows/import",
    response_model=FlowOut,
    status_code=status.HTTP_201_CREATED,
    summary="Create a flow from a flow file (or any organism YAML)",
    responses=INVALID_CONTENT,
)
async def import_flow(
    body: FlowImport, request: Request, principal: Editor, session: DatabaseSession
) -> FlowOut:
    write = service.parse_file(body.file)
    if body.name is not None:
        write.name = body.name
    record = await flows.create_flow(session, principal, write)
    return (await present(request, principal, session, [record]))[0]


@router.get(
    "/starters",
    response_model=list[StarterOut],
    summary="Starter templates shipped with Flowplane (the New flow dialog offers them)",
)
async def list_starters(principal: Viewer) -> list[StarterOut]:
    return [
        StarterOut(
            id=item.id, title=item.title, description=item.description,
            organism_yaml=item.organism_yaml,
        )
        for item in service.starters()
    ]  # fmt: skip
