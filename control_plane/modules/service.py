"""A workspace's modules: create (build or upload), new versions, delete, test runs.

Every version is validated completely before the first write: the source is built (sandboxed),
the binary checked against the ABI, the declared capabilities against its imports; a refusal
stores nothing. Writes lock the tenant row (new module) or the module row (new version) only
after the build, so no lock is held while the compiler runs."""

from __future__ import annotations

import base64
import binascii
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.accounts.models import Tenant
from control_plane.billing.tiers import check_quota, tier_limits
from control_plane.blobs import BlobCorrupted, BlobNotFound, sha256_hex
from control_plane.db import new_id, utcnow
from control_plane.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    ServiceUnavailable,
)
from control_plane.modules.builder import ToolchainMissing
from control_plane.modules.models import Module, ModuleVersion
from control_plane.modules.runtime import ModuleRuntime
from control_plane.modules.schemas import ModuleCreate, TestRunRequest, VersionWrite
from control_plane.modules.trial import TrialFailed
from control_plane.modules.usage import module_users
from control_plane.modules.wasm_check import inspect_wasm


@dataclass(frozen=True)
class PreparedVersion:
    """A checked module, not yet stored."""

    wasm: bytes
    source: str | None
    imports: list[str]
    exports: list[dict[str, Any]]
    capabilities: dict[str, Any]
    build_log: str | None
    build_ms: float | None
    toolchain: str | None


async def list_modules(session: AsyncSession, principal: Principal) -> list[Module]:
    modules = await session.scalars(
        select(Module)
        .where(Module.tenant_id == principal.tenant_id)
        .order_by(Module.created_at.desc(), Module.id.desc())
    )
    return list(modules)


async def get_module(session: AsyncSession, principal: Principal, module_id: str) -> Module:
    module = await session.scalar(
        select(Module).where(Module.id == module_id, Module.tenant_id == principal.tenant_id)
    )
    if module is None:
        raise NotFound(f"module {module_id!r} not found")
    return module


async def versions_of(session: AsyncSession, module_ids: list[str]) -> list[ModuleVersion]:
    """Every version of these modules, newest first."""
    if not module_ids:
        return []
    rows = await session.scalars(
        select(ModuleVersion)
        .where(ModuleVersion.module_id.in_(module_ids))
        .order_by(ModuleVersion.number.desc())
    )
    return list(rows)


async def get_version(
    session: AsyncSession, principal: Principal, module_id: str, number: int | None
) -> tuple[Module, ModuleVersion]:
    module = await get_module(session, principal, module_id)
    wanted = number if number is not None else module.latest_version
    version = await session.scalar(
        select(ModuleVersion).where(
            ModuleVersion.module_id == module.id, ModuleVersion.number == wanted
        )
    )
    if version is None:
        raise NotFound(f"module '{module.name}' has no version {wanted}")
    return module, version


async def create_module(
    session: AsyncSession, runtime: ModuleRuntime, principal: Principal, request: ModuleCreate
) -> tuple[Module, ModuleVersion]:
    await _check_quota(session, principal)  # early: a workspace at its limit hears that first
    await _ensure_name_free(session, principal.tenant_id, request.name)
    prepared = await prepare_version(runtime, principal, request)
    # Serialize this tenant's creates (quota and names), then check again under the lock.
    await session.execute(
        update(Tenant).where(Tenant.id == principal.tenant_id).values(tier=Tenant.tier)
    )
    await _check_quota(session, principal)
    await _ensure_name_free(session, principal.tenant_id, request.name)
    now = utcnow()
    module = Module(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=request.name,
        description=request.description,
        latest_version=0,
        created_at=now,
        updated_at=now,
    )
    session.add(module)
    try:
        await session.flush()
    except IntegrityError as error:
        raise _name_taken(request.name) from error
    version = await _store_version(session, runtime, principal, module, prepared)
    return module, version


async def add_version(
    session: AsyncSession,
    runtime: ModuleRuntime,
    principal: Principal,
    module_id: str,
    request: VersionWrite,
) -> tuple[ModuleVersion, bool]:
    """A new version, or the latest one unchanged (False) when it has the same code and
    capabilities (pressing Build twice makes no new version)."""
    module = await get_module(session, principal, module_id)
    prepared = await prepare_version(runtime, principal, request)
    await session.execute(
        update(Module).where(Module.id == module.id).values(latest_version=Module.latest_version)
    )
    await session.refresh(module)
    latest = await session.scalar(
        select(ModuleVersion).where(
            ModuleVersion.module_id == module.id, ModuleVersion.number == module.latest_version
        )
    )
    if (
        latest is not None
        and latest.sha256 == sha256_hex(prepared.wasm)
        and latest.capabilities == prepared.capabilities
        and latest.source == prepared.source
    ):
        return latest, False
    return await _store_version(session, runtime, principal, module, prepared), True


async def update_module(
    session: AsyncSession, principal: Principal, module_id: str, description: str | None
) -> Module:
    module = await get_module(session, principal, module_id)
    module.description = description
    module.updated_at = utcnow()
    await session.flush()
    return module


async def delete_module(session: AsyncSession, principal: Principal, module_id: str) -> set[str]:
    """Delete a module nothing uses; returns its blob hashes (collected after the commit)."""
    module = await get_module(session, principal, module_id)
    users = await module_users(session, module)
    if users:
        raise Conflict(
            f"module '{module.name}' is used by {', '.join(users)}; remove it from them first",
            used_by=users,
        )
    hashes = set(
        await session.scalars(
            select(ModuleVersion.sha256).where(ModuleVersion.module_id == module.id)
        )
    )
    await session.execute(delete(ModuleVersion).where(ModuleVersion.module_id == module.id))
    await session.execute(delete(Module).where(Module.id == module.id))
    return hashes


async def test_module(
    session: AsyncSession,
    runtime: ModuleRuntime,
    principal: Principal,
    module_id: str,
    request: TestRunRequest,
) -> tuple[ModuleVersion, dict[str, Any]]:
    _, version = await get_version(session, principal, module_id, request.version)
    await runtime.check_rate(
        principal.tenant_id, "test_runs", runtime.settings.module_test_runs_per_minute
    )
    document = {
        "payload": request.payload,
        "config": request.config,
        "execution": {
            "id": f"test-{secrets.token_hex(8)}",
            "trigger": "test",
            "flow_id": None,
            "step": 1,
            "listener": "test",
            "started_at": utcnow().isoformat(),
        },
    }
    try:
        report = await runtime.trials.run(
            version.sha256, document, memory=request.memory, capabilities=version.capabilities
        )
    except TrialFailed as error:
        raise ServiceUnavailable(str(error)) from error
    return version, report


async def version_bytes(runtime: ModuleRuntime, module: Module, version: ModuleVersion) -> bytes:
    try:
        return await runtime.blobs.get(version.sha256)
    except (BlobNotFound, BlobCorrupted) as error:
        raise ServiceUnavailable(
            f"the code of module '{module.name}' version {version.number} cannot be read from "
            f"the blob store: {error}"
        ) from error


async def prepare_version(
    runtime: ModuleRuntime, principal: Principal, request: VersionWrite
) -> PreparedVersion:
    """Build or decode, then check: everything a version needs, or a 4xx naming the problem."""
    settings = runtime.settings
    capabilities = request.capabilities.model_dump(exclude_none=True)
    if (request.source is None) == (request.wasm_base64 is None):
        raise InvalidInput(
            "send exactly one of `source` (AssemblyScript) and `wasm_base64` (a compiled module)",
            [{"path": "source", "message": "give source or wasm_base64, not both or neither"}],
        )
    if request.source is not None:
        size = len(request.source.encode("utf-8"))
        if size > settings.module_max_source_bytes:
            raise PayloadTooLarge(
                f"source is {size} bytes; at most {settings.module_max_source_bytes}"
            )
        await runtime.check_rate(principal.tenant_id, "builds", settings.module_builds_per_minute)
        try:
            built = await runtime.builder.build(request.source)
        except ToolchainMissing as error:
            raise ServiceUnavailable(f"modules cannot be built here: {error}") from error
        if not built.ok or built.wasm is None:
            count = len(built.problems)
            raise InvalidInput(
                f"the module does not compile ({count} problem{'s' if count != 1 else ''})",
                built.problems,
            )
        wasm, log, build_ms, toolchain = built.wasm, built.log, built.duration_ms, built.toolchain
        path = "source"
    else:
        assert request.wasm_base64 is not None
        wasm = _decode_wasm(request.wasm_base64, settings.module_max_wasm_bytes)
        log, build_ms, toolchain, path = None, None, None, "wasm_base64"
    info = inspect_wasm(wasm, max_bytes=settings.module_max_wasm_bytes, path=path)
    problems = list(info.problems)
    if "http_fetch" in info.imports and "http_fetch" not in capabilities:
        problems.append(
            {
                "path": "capabilities.http_fetch",
                "message": "the module imports flowplane.http_fetch: declare the http_fetch "
                "capability with the hosts it may reach",
            }
        )
    if problems:
        raise InvalidInput(
            "the module is refused: " + "; ".join(item["message"] for item in problems), problems
        )
    return PreparedVersion(
        wasm=wasm,
        source=request.source,
        imports=info.imports,
        exports=info.exports,
        capabilities=capabilities,
        build_log=log or None,
        build_ms=round(build_ms, 1) if build_ms is not None else None,
        toolchain=toolchain,
    )


async def _store_version(
    session: AsyncSession,
    runtime: ModuleRuntime,
    principal: Principal,
    module: Module,
    prepared: PreparedVersion,
) -> ModuleVersion:
    sha256 = await runtime.blobs.put(prepared.wasm)
    now = utcnow()
    version = ModuleVersion(
        id=new_id(),
        module_id=module.id,
        number=module.latest_version + 1,
        sha256=sha256,
        size_bytes=len(prepared.wasm),
        source_kind="assemblyscript" if prepared.source is not None else "wasm",
        source=prepared.source,
        exports=prepared.exports,
        imports=prepared.imports,
        capabilities=prepared.capabilities,
        build_log=prepared.build_log,
        build_ms=prepared.build_ms,
        toolchain=prepared.toolchain,
        created_by=principal.user_id,
        created_at=now,
    )
    session.add(version)
    module.latest_version = version.number
    module.updated_at = now
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"another version of module '{module.name}' was saved at the same time; try again"
        ) from error
    return version


def _decode_wasm(text: str, max_bytes: int) -> bytes:
    if len(text) > (max_bytes + 2) // 3 * 4 + 4:
        raise PayloadTooLarge(f"wasm_base64 decodes to more than {max_bytes} bytes")
    try:
        return base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "wasm_base64 is not valid base64",
            [{"path": "wasm_base64", "message": "not valid base64"}],
        ) from None


async def _check_quota(session: AsyncSession, principal: Principal) -> None:
    if tier_limits(principal.tier).wasm_modules is None:
        return
    existing = await session.scalar(
        select(func.count()).select_from(Module).where(Module.tenant_id == principal.tenant_id)
    )
    check_quota(principal.tier, "wasm_modules", existing or 0)


async def _ensure_name_free(session: AsyncSession, tenant_id: str, name: str) -> None:
    taken = await session.scalar(
        select(Module.id).where(Module.tenant_id == tenant_id, Module.name == name)
    )
    if taken is not None:
        raise _name_taken(name)


def _name_taken(name: str) -> Conflict:
    return Conflict(f"this workspace already has a module named '{name}'")
