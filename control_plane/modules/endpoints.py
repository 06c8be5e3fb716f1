"""/api/modules: a workspace's WASM modules, their versions, builds and test runs."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Path, Request, Response, status

from control_plane.accounts.audit import audit_target
from control_plane.accounts.roles import Editor, Viewer
from control_plane.db import DatabaseSession
from control_plane.modules import presenters, service
from control_plane.modules.runtime import module_runtime
from control_plane.modules.schemas import (
    ModuleCreate,
    ModuleDetail,
    ModuleOut,
    ModuleUpdate,
    SdkOut,
    TemplateOut,
    TestRunOut,
    TestRunRequest,
    VersionDetail,
    VersionWrite,
)
from control_plane.modules.templates import TEMPLATES
from control_plane.modules.usage import collect_unowned_blobs

router = APIRouter(prefix="/modules", tags=["modules"])
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1, description="A version number: 1, 2, ...")]

BUILD_RESPONSES: dict[int | str, dict[str, Any]] = {
    402: {"description": "QuotaExceeded: the plan's module limit is reached (`upgrade_url`)"},
    409: {"description": "Conflict: the name is taken"},
    413: {"description": "PayloadTooLarge: the source or module is over the size cap"},
    422: {"description": "InvalidInput: compile errors (`problems`: line, column, message) or "
          "a module that breaks the ABI (`problems`: path, message)"},
    429: {"description": "TooManyRequests: the workspace's build rate (Retry-After)"},
    503: {"description": "ServiceUnavailable: the compiler is not installed here"},
}  # fmt: skip


@router.get("", response_model=list[ModuleOut], summary="The workspace's modules, newest first")
async def list_modules(principal: Viewer, session: DatabaseSession) -> list[ModuleOut]:
    modules = await service.list_modules(session, principal)
    versions = await service.versions_of(session, [module.id for module in modules])
    return presenters.module_list(modules, versions)


@router.post(
    "",
    response_model=ModuleDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Create a module from AssemblyScript source (built here) or a compiled .wasm",
    responses=BUILD_RESPONSES,
)
async def create_module(
    body: ModuleCreate, request: Request, principal: Editor, session: DatabaseSession
) -> ModuleDetail:
    module, _ = await service.create_module(session, module_runtime(request.app), principal, body)
    audit_target(request, module.id, module.name)
    return await presenters.module_detail(session, module)


@router.get("/templates", response_model=list[TemplateOut], summary="Starter templates")
async def list_templates(principal: Viewer) -> list[TemplateOut]:
    return [
        TemplateOut(
            id=item.id,
            title=item.title,
            description=item.description,
            source=item.source,
            capabilities=item.capabilities,
            sample_payload=item.sample_payload,
            sample_config=item.sample_config,
        )
        for item in TEMPLATES
    ]


@router.get(
    "/sdk",
    response_model=SdkOut,
    summary="Type definitions for the browser editor (AssemblyScript's and the SDK's)",
)
async def sdk_types(request: Request, response: Response, principal: Viewer) -> SdkOut:
    response.headers["Cache-Control"] = "private, max-age=3600"
    return await presenters.sdk_types(module_runtime(request.app))


@router.get("/{module_id}", response_model=ModuleDetail, summary="A module with its versions")
async def get_module(module_id: str, principal: Viewer, session: DatabaseSession) -> ModuleDetail:
    module = await service.get_module(session, principal, module_id)
    return await presenters.module_detail(session, module)


@router.patch("/{module_id}", response_model=ModuleDetail, summary="Change the description")
async def update_module(
    module_id: str, body: ModuleUpdate, principal: Editor, session: DatabaseSession
) -> ModuleDetail:
    module = await service.update_module(session, principal, module_id, body.description)
    return await presenters.module_detail(session, module)


@router.delete(
    "/{module_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Delete a module and its versions (refused while flows use it)",
    responses={409: {"description": "Conflict: flows use it (`used_by`)"}},
)
async def delete_module(
    module_id: str,
    request: Request,
    tasks: BackgroundTasks,
    principal: Editor,
    session: DatabaseSession,
) -> None:
    hashes = await service.delete_module(session, principal, module_id)
    tasks.add_task(collect_unowned_blobs, request.app, hashes)  # runs after the commit


@router.post(
    "/{module_id}/versions",
    response_model=VersionDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Build or upload a new version (200 with the latest when nothing changed)",
    responses={**BUILD_RESPONSES, 200: {"description": "Unchanged: the latest version"}},
)
async def add_version(
    module_id: str,
    body: VersionWrite,
    request: Request,
    response: Response,
    principal: Editor,
    session: DatabaseSession,
) -> VersionDetail:
    runtime = module_runtime(request.app)
    version, created = await service.add_version(session, runtime, principal, module_id, body)
    if not created:
        response.status_code = status.HTTP_200_OK
    module = await service.get_module(session, principal, module_id)
    return presenters.version_detail(module, version)


@router.get(
    "/{module_id}/versions/{number}",
    response_model=VersionDetail,
    summary="One version with its source and build log",
)
async def get_version(
    module_id: str, number: VersionNumber, principal: Viewer, session: DatabaseSession
) -> VersionDetail:
    module, version = await service.get_version(session, principal, module_id, number)
    return presenters.version_detail(module, version)


@router.get(
    "/{module_id}/versions/{number}/wasm",
    response_class=Response,
    summary="Download a version's compiled module",
    responses={200: {"content": {"application/wasm": {}}}},
)
async def download_version(
    module_id: str,
    number: VersionNumber,
    request: Request,
    principal: Viewer,
    session: DatabaseSession,
) -> Response:
    module, version = await service.get_version(session, principal, module_id, number)
    data = await service.version_bytes(module_runtime(request.app), module, version)
    filename = f"{module.name}@{version.number}.wasm"
    return Response(
        data,
        media_type="application/wasm",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.post(
    "/{module_id}/test",
    response_model=TestRunOut,
    summary="Run a version once on a sample payload in a sandbox: result, logs, fuel, time",
    responses={429: {"description": "TooManyRequests: the workspace's test-run rate"}},
)
async def test_module(
    module_id: str,
    body: TestRunRequest,
    request: Request,
    principal: Editor,
    session: DatabaseSession,
) -> TestRunOut:
    runtime = module_runtime(request.app)
    version, report = await service.test_module(session, runtime, principal, module_id, body)
    return presenters.test_run(version, report)
