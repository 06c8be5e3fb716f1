"""Where modules are used: flows that reference them (deleting is refused while any does), the
resolver the pumps call at start (`wasm:<name>@<version>` -> hash, grants, hosts), and which
blobs still have an owner after a module is deleted.

Other domains that keep a module (the marketplace publishes module versions as `tool:`
listings) add to `MODULE_USERS` (deleting a module they use is refused with their reasons) and
to `BLOB_OWNERS` (a blob they reference is never collected)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

import structlog
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.blobs import BlobStore
from control_plane.errors import InvalidOrganism
from control_plane.flows.models import Flow
from control_plane.modules.models import Module, ModuleVersion
from control_plane.pumps.orchestrator import MODULE_RESOLVERS, ResolvedModules
from pump.organism import OrganismError, parse_organism
from pump.organism.models import WASM_REFERENCE

log = structlog.get_logger("control_plane.modules")

# async (session, module) -> reasons it is in use ("flow 'x'", ...); empty: not used
ModuleUsers = Callable[[AsyncSession, Module], Awaitable[list[str]]]
# async (session, hashes) -> the subset still referenced
BlobOwners = Callable[[AsyncSession, set[str]], Awaitable[set[str]]]


async def flows_using(session: AsyncSession, tenant_id: str, module_name: str) -> list[str]:
    """Names of the workspace's flows whose saved organism has a `wasm:<module_name>@...`
    listener."""

    def uses(handler: str) -> bool:
        match = WASM_REFERENCE.match(handler)
        return match is not None and match.group("module") == module_name

    return await flows_with_handler(session, tenant_id, f"wasm:{module_name}@", uses)


async def flows_with_handler(
    session: AsyncSession, tenant_id: str, needle: str, uses: Callable[[str], bool]
) -> list[str]:
    """Names of the workspace's flows with a listener whose handler `uses` accepts (`needle`
    narrows the candidates in the database)."""
    candidates = await session.scalars(
        select(Flow)
        .where(Flow.tenant_id == tenant_id, Flow.organism_yaml.contains(needle, autoescape=True))
        .order_by(Flow.name)
    )
    names: list[str] = []
    for flow in candidates:
        try:
            organism = parse_organism(flow.organism_yaml)
        except OrganismError:
            continue
        if any(uses(listener.handler) for listener in organism.listeners):
            names.append(flow.name)
    return names


async def _flow_users(session: AsyncSession, module: Module) -> list[str]:
    return [f"flow '{name}'" for name in await flows_using(session, module.tenant_id, module.name)]


async def _module_versions_own(session: AsyncSession, hashes: set[str]) -> set[str]:
    found = await session.scalars(
        select(ModuleVersion.sha256).where(ModuleVersion.sha256.in_(hashes)).distinct()
    )
    return set(found)


MODULE_USERS: list[ModuleUsers] = [_flow_users]
BLOB_OWNERS: list[BlobOwners] = [_module_versions_own]


async def module_users(session: AsyncSession, module: Module) -> list[str]:
    reasons: list[str] = []
    for users in MODULE_USERS:
        reasons += await users(session, module)
    return reasons


async def collect_unowned_blobs(app: FastAPI, hashes: Iterable[str]) -> None:
    """Delete the blobs of `hashes` nothing references any more (after a module was deleted and
    its transaction committed)."""
    candidates = set(hashes)
    if not candidates:
        return
    sessionmaker: async_sessionmaker[AsyncSession] = app.state.sessionmaker
    blobs: BlobStore = app.state.blobs
    async with sessionmaker() as session:
        owned: set[str] = set()
        for owners in BLOB_OWNERS:
            owned |= await owners(session, candidates)
    for sha256 in sorted(candidates - owned):
        try:
            await blobs.delete(sha256)
        except Exception:
            log.exception("modules.blob_delete_failed", sha256=sha256)


async def resolve_wasm_references(
    session: AsyncSession, tenant_id: str, references: list[str]
) -> ResolvedModules:
    """`wasm:<name>@<number>` of the tenant's modules -> content hash, the declared grants and
    hosts. A reference to a module or version that does not exist refuses the start."""
    wanted: dict[str, tuple[str, str]] = {}
    for reference in references:
        match = WASM_REFERENCE.match(reference)
        if match is not None:
            wanted[reference] = (match.group("module"), match.group("version"))
    if not wanted:
        return ResolvedModules()
    names = {name for name, _ in wanted.values()}
    rows = await session.execute(
        select(Module.name, ModuleVersion)
        .join(ModuleVersion, ModuleVersion.module_id == Module.id)
        .where(Module.tenant_id == tenant_id, Module.name.in_(names))
    )
    versions = {(name, str(version.number)): version for name, version in rows}
    known_names = {name for name, _ in versions}
    resolved = ResolvedModules()
    problems: list[dict[str, str]] = []
    for reference, (name, number) in sorted(wanted.items()):
        version = versions.get((name, number))
        if version is None:
            why = (
                f"module '{name}' has no version {number}"
                if name in known_names
                else f"this workspace has no module '{name}'"
            )
            problems.append({"path": "listeners", "message": f"{reference}: {why}"})
            continue
        key = f"{name}@{number}"
        resolved.hashes[key] = version.sha256
        http = (version.capabilities or {}).get("http_fetch")
        if http:
            resolved.grants[key] = ["http_fetch"]
            resolved.hosts[key] = list(http.get("hosts", []))
    if problems:
        raise InvalidOrganism(
            "the flow uses WASM modules that do not exist: "
            + "; ".join(item["message"] for item in problems),
            problems,
        )
    return resolved


if resolve_wasm_references not in MODULE_RESOLVERS:
    MODULE_RESOLVERS.append(resolve_wasm_references)
