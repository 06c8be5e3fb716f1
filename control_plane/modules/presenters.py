"""How modules, versions and test runs are shown by the API."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.modules.builder import SDK_DIR
from control_plane.modules.models import Module, ModuleVersion
from control_plane.modules.runtime import ModuleRuntime
from control_plane.modules.schemas import (
    ExportOut,
    ModuleDetail,
    ModuleOut,
    SdkFile,
    SdkOut,
    TestRunLog,
    TestRunOut,
    VersionDetail,
    VersionSummary,
)
from control_plane.modules.service import versions_of
from control_plane.modules.usage import flows_using

ASSEMBLYSCRIPT_TYPES = "std/assembly/index.d.ts"


def reference(module: Module, version: ModuleVersion) -> str:
    return f"wasm:{module.name}@{version.number}"


def version_summary(module: Module, version: ModuleVersion) -> VersionSummary:
    return VersionSummary(
        version=version.number,
        reference=reference(module, version),
        sha256=version.sha256,
        size_bytes=version.size_bytes,
        source_kind=version.source_kind,
        capabilities=version.capabilities or {},
        created_at=version.created_at,
    )


def version_detail(module: Module, version: ModuleVersion) -> VersionDetail:
    return VersionDetail(
        **version_summary(module, version).model_dump(),
        source=version.source,
        exports=[ExportOut(**item) for item in version.exports or []],
        imports=list(version.imports or []),
        build_log=version.build_log,
        build_ms=version.build_ms,
        toolchain=version.toolchain,
    )


def module_out(module: Module, latest: ModuleVersion | None) -> ModuleOut:
    return ModuleOut(
        id=module.id,
        name=module.name,
        description=module.description,
        latest_version=module.latest_version,
        latest=version_summary(module, latest) if latest is not None else None,
        created_at=module.created_at,
        updated_at=module.updated_at,
    )


def module_list(modules: list[Module], versions: list[ModuleVersion]) -> list[ModuleOut]:
    latest = {(version.module_id, version.number): version for version in versions}
    return [
        module_out(module, latest.get((module.id, module.latest_version))) for module in modules
    ]


async def module_detail(session: AsyncSession, module: Module) -> ModuleDetail:
    versions = await versions_of(session, [module.id])
    current = next(item for item in versions if item.number == module.latest_version)
    return ModuleDetail(
        **module_out(module, current).model_dump(),
        versions=[version_summary(module, item) for item in versions],
        version=version_detail(module, current),
        used_by=await flows_using(session, module.tenant_id, module.name),
    )


def test_run(version: ModuleVersion, report: dict[str, Any]) -> TestRunOut:
    logs = [
        TestRunLog(level=str(item.get("level", "info")), message=str(item.get("message", "")))
        for item in report.get("logs") or []
        if isinstance(item, dict)
    ]
    error = report.get("error")
    return TestRunOut(
        version=version.number,
        ok=bool(report.get("ok")),
        result=report.get("result"),
        route=report.get("route"),
        error={str(key): str(value) for key, value in error.items()}
        if isinstance(error, dict)
        else None,
        logs=logs,
        fuel_used=report.get("fuel_used"),
        duration_ms=report.get("duration_ms"),
        memory=report.get("memory"),
    )


async def sdk_types(runtime: ModuleRuntime) -> SdkOut:
    files = [SdkFile(path="file:///flowplane.d.ts", content=_read(SDK_DIR / "flowplane.d.ts"))]
    standard = runtime.builder.compiler_dir / ASSEMBLYSCRIPT_TYPES
    if standard.exists():
        files.insert(
            0,
            SdkFile(path="file:///assemblyscript/index.d.ts", content=_read(standard)),
        )
    return SdkOut(toolchain=runtime.builder.version or None, files=files)


@cache
def _read(path: Path) -> str:
    return path.read_text(encoding="utf-8")
