"""Installing tools (Paid and up) with explicit grants, uninstalling, and using a template.

A tool version is installed only when its signature verifies with the platform key and its
code in the blob store still has the signed hash, and only with grants that are exactly the
capabilities it declares. The installation pins that version; flows use
`tool:<slug>@<version>`. Uninstalling is refused while a flow of the workspace uses the tool."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.billing.tiers import check_quota
from control_plane.blobs import BlobCorrupted, BlobNotFound
from control_plane.db import new_id, utcnow
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.flows import service as flows
from control_plane.flows.models import Flow
from control_plane.flows.schemas import FlowWrite
from control_plane.marketplace.models import Installation, Listing, ListingVersion
from control_plane.marketplace.runtime import MarketplaceRuntime
from control_plane.marketplace.schemas import InstallRequest, MissingTool, UseOut, UseRequest
from control_plane.marketplace.service import installation_of, versions_of, visible_listing
from control_plane.marketplace.signing import flow_message, tool_message
from control_plane.modules.usage import flows_with_handler
from control_plane.pumps import secrets as flow_secrets
from control_plane.pumps.secrets import SecretBox
from pump.organism import OrganismError, parse_organism
from pump.organism.models import TOOL_REFERENCE

KNOWN_CAPABILITIES = frozenset({"http_fetch"})


async def install_tool(
    session: AsyncSession,
    runtime: MarketplaceRuntime,
    principal: Principal,
    slug: str,
    request: InstallRequest,
) -> tuple[Listing, Installation]:
    listing = await visible_listing(session, principal, slug)
    if listing.kind != "tool":
        raise Conflict(f"{slug!r} is a flow template: use it (POST .../use) instead of installing")
    installation = await installation_of(session, principal.tenant_id, listing.id, active=False)
    counted = installation is not None and installation.removed_at is None
    used = await session.scalar(
        select(func.count())
        .select_from(Installation)
        .join(Listing, Listing.id == Installation.listing_id)
        .where(
            Installation.tenant_id == principal.tenant_id,
            Installation.removed_at.is_(None),
            Listing.kind == "tool",
        )
    )
    check_quota(principal.tier, "marketplace_installs", used or 0, adding=0 if counted else 1)
    version = await _installable_version(session, listing, request.version)
    await verify_tool_version(runtime, listing, version)
    granted = _check_grants(version, request.grants)
    if installation is None:
        installation = Installation(
            id=new_id(), tenant_id=principal.tenant_id, listing_id=listing.id
        )
        session.add(installation)
    installation.version = version.version
    installation.granted = granted
    installation.created_at = utcnow()
    installation.removed_at = None
    try:
        if not counted:
            await _count(session, listing, +1)
        await session.flush()
    except IntegrityError as error:
        raise Conflict(f"{slug} was being installed at the same moment; try again") from error
    return listing, installation


async def uninstall(session: AsyncSession, principal: Principal, slug: str) -> None:
    listing = await visible_listing(session, principal, slug)
    installation = await installation_of(session, principal.tenant_id, listing.id)
    if installation is None or listing.kind != "tool":
        raise NotFound(f"{slug!r} is not installed in this workspace")
    users = await flows_using_tool(session, principal.tenant_id, slug)
    if users:
        raise Conflict(
            f"{slug} is used by "
            + ", ".join(f"flow '{name}'" for name in users)
            + "; change those flows first",
            used_by=users,
        )
    installation.removed_at = utcnow()
    await _count(session, listing, -1)
    await session.flush()


async def use_template(
    session: AsyncSession,
    runtime: MarketplaceRuntime,
    box: SecretBox,
    principal: Principal,
    slug: str,
    request: UseRequest,
) -> UseOut:
    """A new flow from the template (the flow quota applies), its secrets set from the request,
    its tools installed when the request grants them; what is still missing is listed."""
    listing = await visible_listing(session, principal, slug)
    if listing.kind != "flow":
        raise Conflict(f"{slug!r} is a tool: install it instead")
    version = await _installable_version(session, listing, request.version)
    assert version.organism_yaml is not None and version.canvas_state is not None
    message = flow_message(
        listing.slug,
        version.version,
        version.sha256,
        list(version.required_secrets),
        list(version.required_tools),
    )
    if not runtime.signer.verify(message, version.signature):
        raise Conflict(f"{slug} {version.version}: its signature does not verify; not used")
    unknown = sorted(set(request.secrets) - set(version.required_secrets))
    if unknown:
        raise InvalidInput(
            f"the template needs no secrets named {unknown}",
            [{"path": f"secrets.{name}", "message": "not a secret of this template"}
             for name in unknown],
        )  # fmt: skip
    name = request.name or await _free_name(session, principal.tenant_id, _organism_name(version))
    record = await flows.create_flow(
        session,
        principal,
        FlowWrite(
            name=name, organism_yaml=version.organism_yaml, canvas_state=version.canvas_state
        ),
    )
    if request.secrets:
        await flow_secrets.update_secrets(session, box, record.flow, dict(request.secrets))
    installed: list[str] = []
    missing: list[MissingTool] = []
    for reference in version.required_tools:
        match = TOOL_REFERENCE.match(reference)
        if match is None:
            continue
        tool_slug, tool_version = match.group("listing"), match.group("version")
        tool = await session.scalar(select(Listing).where(Listing.slug == tool_slug))
        if tool is not None and await installation_of(session, principal.tenant_id, tool.id):
            continue
        if tool_slug in request.tools:
            await install_tool(
                session, runtime, principal, tool_slug,
                InstallRequest(version=tool_version, grants=request.tools[tool_slug]),
            )  # fmt: skip
            installed.append(reference)
            continue
        capabilities: dict[str, object] = {}
        if tool is not None:
            row = await session.scalar(
                select(ListingVersion).where(
                    ListingVersion.listing_id == tool.id, ListingVersion.version == tool_version
                )
            )
            capabilities = dict(row.capabilities) if row is not None else {}
        missing.append(
            MissingTool(
                reference=reference, slug=tool_slug, version=tool_version, capabilities=capabilities
            )
        )
    await _record_use(session, principal, listing, version)
    return UseOut(
        flow_id=record.flow.id,
        flow_name=record.flow.name,
        required_secrets=list(version.required_secrets),
        missing_secrets=sorted(set(version.required_secrets) - set(request.secrets)),
        installed_tools=installed,
        missing_tools=missing,
    )


async def verify_tool_version(
    runtime: MarketplaceRuntime, listing: Listing, version: ListingVersion
) -> None:
    """The version's signature verifies and its code is intact; else Conflict with why."""
    message = tool_message(listing.slug, version.version, version.sha256, version.capabilities)
    if not runtime.signer.verify(message, version.signature):
        raise Conflict(
            f"{listing.slug} {version.version}: its signature does not match its code hash and "
            "capability manifest (changed after publishing); it cannot be installed",
            reason="signature_invalid",
        )
    try:
        await runtime.blobs.get(version.sha256)
    except (BlobNotFound, BlobCorrupted) as error:
        raise Conflict(
            f"{listing.slug} {version.version}: its code is missing or altered ({error}); it "
            "cannot be installed",
            reason="module_unavailable",
        ) from error


async def flows_using_tool(session: AsyncSession, tenant_id: str, slug: str) -> list[str]:
    def uses(handler: str) -> bool:
        match = TOOL_REFERENCE.match(handler)
        return match is not None and match.group("listing") == slug

    return await flows_with_handler(session, tenant_id, f"tool:{slug}@", uses)


async def _installable_version(
    session: AsyncSession, listing: Listing, wanted: str | None
) -> ListingVersion:
    versions = await versions_of(session, listing)
    if wanted is None:
        current = [item for item in versions if item.yanked_at is None]
        if not current:
            raise Conflict(f"every version of {listing.slug} was yanked")
        return current[0]
    version = next((item for item in versions if item.version == wanted), None)
    if version is None:
        raise NotFound(f"{listing.slug} has no version {wanted!r}")
    if version.yanked_at is not None:
        raise Conflict(
            f"{listing.slug} {wanted} was yanked: it keeps running where it is installed but "
            "cannot be newly installed; pick another version",
            reason="yanked",
        )
    return version


def _check_grants(version: ListingVersion, grants: list[str]) -> dict[str, object]:
    declared = set(version.capabilities)
    given = set(grants)
    unknown = sorted(given - KNOWN_CAPABILITIES)
    if unknown:
        raise InvalidInput(
            f"grants names unknown capabilities {unknown}; known: {sorted(KNOWN_CAPABILITIES)}",
            [{"path": "grants", "message": f"unknown capabilities {unknown}"}],
        )
    if given != declared:
        missing, extra = sorted(declared - given), sorted(given - declared)
        parts = []
        if missing:
            hosts = version.capabilities.get("http_fetch", {}).get("hosts", [])
            parts.append(f"it needs {missing} (http_fetch to {', '.join(hosts)})")
        if extra:
            parts.append(f"it does not declare {extra}")
        message = "the grants must be exactly the capabilities the version declares: " + (
            "; ".join(parts)
        )
        raise InvalidInput(message, [{"path": "grants", "message": message}])
    return dict(version.capabilities)


async def _count(session: AsyncSession, listing: Listing, delta: int) -> None:
    await session.execute(
        update(Listing)
        .where(Listing.id == listing.id)
        .values(install_count=Listing.install_count + delta)
        .execution_options(synchronize_session=False)
    )
    await session.refresh(listing, ["install_count"])


async def _record_use(
    session: AsyncSession, principal: Principal, listing: Listing, version: ListingVersion
) -> None:
    use = await installation_of(session, principal.tenant_id, listing.id, active=False)
    counted = use is not None and use.removed_at is None
    if use is None:
        use = Installation(id=new_id(), tenant_id=principal.tenant_id, listing_id=listing.id)
        session.add(use)
    use.version = version.version
    use.granted = {}
    use.created_at = utcnow()
    use.removed_at = None
    if not counted:
        await _count(session, listing, +1)
    await session.flush()


def _organism_name(version: ListingVersion) -> str:
    try:
        return parse_organism(version.organism_yaml or "").organism.name
    except OrganismError:
        return "from-template"


async def _free_name(session: AsyncSession, tenant_id: str, base: str) -> str:
    taken = set(
        await session.scalars(
            select(Flow.name).where(Flow.tenant_id == tenant_id, Flow.name.like(f"{base}%"))
        )
    )
    if base not in taken:
        return base
    for number in range(2, 1000):
        candidate = f"{base[:58]}-{number}"
        if candidate not in taken:
            return candidate
    raise Conflict(f"pick a name for the new flow: {base} and its numbered variants are taken")
