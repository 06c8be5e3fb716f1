"""/api/organism/compile and /api/organism/parse for the canvas editor (200 with problems)."""

from __future__ import annotations

from fastapi import APIRouter, Depends

from control_plane.accounts.roles import require_role
from control_plane.organism_editor import service
from control_plane.organism_editor.schemas import (
    CompileRequest,
    CompileResponse,
    EvaluateRequest,
    EvaluateResponse,
    ParseRequest,
    ParseResponse,
)

router = APIRouter(
    prefix="/organism",
    tags=["organism editor"],
    dependencies=[Depends(require_role("viewer", audit=False))],
)


@router.post(
    "/compile",
    response_model=CompileResponse,
    summary="Compile a canvas to organism YAML; problems are listed, not raised",
)
async def compile_canvas(body: CompileRequest) -> CompileResponse:
    return await service.compile_to_yaml(body.canvas, name=body.name, description=body.description)


@router.post(
    "/parse",
    response_model=ParseResponse,
    summary="Parse organism YAML to a canvas (keeping known positions); problems are listed",
)
async def parse_yaml(body: ParseRequest) -> ParseResponse:
    return await service.parse_to_editor_canvas(body.yaml, previous=body.canvas)


@router.post(
    "/evaluate",
    response_model=EvaluateResponse,
    summary="Evaluate a JMESPath expression or template on a payload (the editor's live preview)",
)
async def evaluate_expression(body: EvaluateRequest) -> EvaluateResponse:
    return service.evaluate_preview(body.expression, body.payload, template=body.template)
