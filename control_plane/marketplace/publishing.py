"""Publishing: a tool from one of the workspace's module versions (Pro and up), a flow template
from one of its flows (any plan). Each publish adds an immutable version signed by the platform
and updates the listing's texts; the slug belongs to the workspace that first published it."""

from __future__ import annotations

import json
from typing import Any

import jsonschema
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.billing.tiers import UPGRADE_URL, check_quota, tier_limits
from control_plane.blobs import BlobCorrupted, BlobNotFound
from control_plane.db import new_id, utcnow
from control_plane.errors import Conflict, InvalidInput, QuotaExceeded, ServiceUnavailable
from control_plane.flows import service as flows
from control_plane.marketplace import search
from control_plane.marketplace.models import Listing, ListingVersion
from control_plane.marketplace.runtime import MarketplaceRuntime
from control_plane.marketplace.schemas import FlowPublish, ToolPublish
from control_plane.marketplace.semver import is_semver, next_version, sort_key
from control_plane.marketplace.signing import flow_message, template_sha256, tool_message
from control_plane.marketplace.templates import template_from_flow
from control_plane.modules import service as modules
from control_plane.pumps.secrets import SecretBox, secret_values

MAX_SCHEMA_BYTES = 64 * 1024


async def publish_tool(
    session: AsyncSession, runtime: MarketplaceRuntime, principal: Principal, request: ToolPublish
) -> Listing:
    check_quota(principal.tier, "wasm_modules", 0)  # tools are modules: Pro and up
    _check_visibility(principal, request.visibility)
    schema = _check_config_schema(request.config_schema)
    _, module_version = await modules.get_version(
        session, principal, request.module_id, request.module_version
    )
    try:
        await runtime.blobs.get(module_version.sha256)  # present and intact
    except (BlobNotFound, BlobCorrupted) as error:
        raise ServiceUnavailable(f"the module's code cannot be read: {error}") from error
    capabilities = manifest(module_version.capabilities)
    listing, version = await _listing_and_version(session, principal, request)
    row = ListingVersion(
        id=new_id(),
        listing_id=listing.id,
        version=version,
        module_version_id=module_version.id,
        sha256=module_version.sha256,
        capabilities=capabilities,
        config_schema=schema,
        organism_yaml=None,
        canvas_state=None,
        required_secrets=[],
        required_tools=[],
        signature=runtime.signer.sign(
            tool_message(listing.slug, version, module_version.sha256, capabilities)
        ),
        key_id=runtime.signer.key_id,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    return await _store(session, listing, row)


async def publish_flow(
    session: AsyncSession,
    runtime: MarketplaceRuntime,
    box: SecretBox,
    principal: Principal,
    request: FlowPublish,
) -> Listing:
    _check_visibility(principal, request.visibility)
    flow = (await flows.get_flow(session, principal, request.flow_id)).flow
    template = template_from_flow(
        flow.organism_yaml, flow.canvas_state, await secret_values(session, box, flow)
    )
    listing, version = await _listing_and_version(session, principal, request)
    sha256 = template_sha256(template.organism_yaml, template.canvas_state)
    row = ListingVersion(
        id=new_id(),
        listing_id=listing.id,
        version=version,
        module_version_id=None,
        sha256=sha256,
        capabilities={},
        config_schema=None,
        organism_yaml=template.organism_yaml,
        canvas_state=template.canvas_state,
        required_secrets=template.required_secrets,
        required_tools=template.required_tools,
        signature=runtime.signer.sign(
            flow_message(
                listing.slug, version, sha256, template.required_secrets, template.required_tools
            )
        ),
        key_id=runtime.signer.key_id,
        created_by=principal.user_id,
        created_at=utcnow(),
    )
    return await _store(session, listing, row)


def manifest(capabilities: dict[str, Any]) -> dict[str, Any]:
    """The capability manifest of a module version: declared capabilities only, hosts sorted."""
    out: dict[str, Any] = {}
    http = capabilities.get("http_fetch")
    if isinstance(http, dict) and http.get("hosts"):
        out["http_fetch"] = {"hosts": sorted({str(host) for host in http["hosts"]})}
    return out


async def _listing_and_version(
    session: AsyncSession, principal: Principal, request: ToolPublish | FlowPublish
) -> tuple[Listing, str]:
    if request.version is not None and not is_semver(request.version):
        raise InvalidInput(
            f"version {request.version!r} is not a semantic version (like 1.2.0)",
            [{"path": "version", "message": "not a semantic version (major.minor.patch)"}],
        )
    listing = await session.scalar(
        select(Listing).where(Listing.slug == request.slug).with_for_update()
    )
    now = utcnow()
    if listing is None:
        listing = Listing(
            id=new_id(),
            slug=request.slug,
            kind=request.kind,
            tenant_id=principal.tenant_id,
            status="active",
            install_count=0,
            rating_sum=0,
            rating_count=0,
            created_at=now,
            latest_version="",
        )
    elif listing.tenant_id != principal.tenant_id:
        raise Conflict(f"the slug {request.slug!r} belongs to another workspace's listing")
    elif listing.kind != request.kind:
        raise Conflict(f"{request.slug!r} is a {listing.kind} listing, not a {request.kind}")
    latest = listing.latest_version or None
    version = request.version or next_version(latest)
    if latest is not None and sort_key(version) <= sort_key(latest):
        raise Conflict(
            f"version {version} is not newer than the latest published version {latest}; "
            "published versions are immutable"
        )
    listing.title = request.title
    listing.summary = request.summary
    listing.readme = request.readme
    listing.category = request.category
    listing.tags = sorted(set(request.tags))
    listing.icon = request.icon
    listing.visibility = request.visibility
    listing.latest_version = version
    listing.updated_at = now
    return listing, version


async def _store(session: AsyncSession, listing: Listing, row: ListingVersion) -> Listing:
    session.add(listing)
    await search.index_listing(session, listing)
    try:
        await session.flush()
        session.add(row)
        await session.flush()
    except IntegrityError as error:
        raise Conflict(
            f"{listing.slug} {row.version} was published at the same moment; try again"
        ) from error
    return listing


def _check_visibility(principal: Principal, visibility: str) -> None:
    if visibility == "private" and not tier_limits(principal.tier).private_marketplace_tools:
        raise QuotaExceeded(
            f"private listings are not included in the {principal.tier} plan; upgrade to "
            "Enterprise, or publish it unlisted",
            quota="private_marketplace_tools",
            limit=0,
            upgrade_url=UPGRADE_URL,
        )


def _check_config_schema(schema: dict[str, Any] | None) -> dict[str, Any] | None:
    if schema is None:
        return None
    if len(json.dumps(schema)) > MAX_SCHEMA_BYTES:
        raise InvalidInput(
            "config_schema is larger than 64 KiB",
            [{"path": "config_schema", "message": "larger than 64 KiB"}],
        )
    try:
        jsonschema.Draft202012Validator.check_schema(schema)
    except jsonschema.SchemaError as error:
        where = ".".join(str(part) for part in error.absolute_path)
        path = f"config_schema.{where}" if where else "config_schema"
        raise InvalidInput(
            f"config_schema is not a valid JSON Schema: {error.message}",
            [{"path": path, "message": error.message}],
        ) from None
    if schema.get("type") != "object":
        raise InvalidInput(
            'config_schema must describe an object ("type": "object")',
            [{"path": "config_schema.type", "message": 'must be "object"'}],
        )
    return schema
