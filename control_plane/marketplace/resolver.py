"""`tool:<slug>@<version>` references of a starting flow -> what its pump gets.

A tool resolves only for a workspace that installed it (and only while the listing is not
removed by an operator). The pump gets the version's content hash, its signature and signed
manifest (the pump verifies both before instantiating it: a changed blob or row is refused),
the hosts the manifest declares, and the grants:

- the pinned (installed) version: exactly the capabilities granted at install;
- another version of the same listing: a capability only if the grant covers it (same or fewer
  hosts); a version that asks for more runs without it and fails `capability_not_granted`
  until it is installed (granted) itself.

A yanked version resolves only where it is the pinned one. The marketplace also keeps the
blobs it references (`usage.BLOB_OWNERS`)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.errors import InvalidOrganism
from control_plane.marketplace.models import Installation, Listing, ListingVersion
from control_plane.modules.usage import BLOB_OWNERS
from control_plane.pumps.orchestrator import MODULE_RESOLVERS, ResolvedModules
from pump.organism.models import TOOL_REFERENCE


async def resolve_tool_references(
    session: AsyncSession, tenant_id: str, references: list[str]
) -> ResolvedModules:
    wanted: dict[str, tuple[str, str]] = {}
    for reference in references:
        match = TOOL_REFERENCE.match(reference)
        if match is not None:
            wanted[reference] = (match.group("listing"), match.group("version"))
    if not wanted:
        return ResolvedModules()
    slugs = {slug for slug, _ in wanted.values()}
    rows = await session.execute(
        select(Listing, Installation)
        .join(
            Installation,
            (Installation.listing_id == Listing.id)
            & (Installation.tenant_id == tenant_id)
            & Installation.removed_at.is_(None),
        )
        .where(Listing.slug.in_(slugs), Listing.kind == "tool")
    )
    installed = {listing.slug: (listing, installation) for listing, installation in rows}
    versions = await session.execute(
        select(Listing.slug, ListingVersion)
        .join(ListingVersion, ListingVersion.listing_id == Listing.id)
        .where(Listing.slug.in_(list(installed)))
    )
    by_key = {(slug, version.version): version for slug, version in versions}
    resolved = ResolvedModules()
    problems: list[dict[str, str]] = []
    for reference, (slug, number) in sorted(wanted.items()):
        found = installed.get(slug)
        if found is None:
            problems.append(
                _problem(
                    reference,
                    f"this workspace has not installed '{slug}' (install it from the marketplace)",
                )
            )
            continue
        listing, installation = found
        version = by_key.get((slug, number))
        if listing.status == "removed":
            problems.append(_problem(reference, "it was removed from the marketplace"))
            continue
        if version is None:
            problems.append(_problem(reference, f"'{slug}' has no version {number}"))
            continue
        if version.yanked_at is not None and number != installation.version:
            problems.append(_problem(reference, f"version {number} was yanked"))
            continue
        key = f"{slug}@{number}"
        capabilities = dict(version.capabilities)
        resolved.hashes[key] = version.sha256
        resolved.signatures[key] = {"signature": version.signature, "capabilities": capabilities}
        hosts = (capabilities.get("http_fetch") or {}).get("hosts")
        if hosts is not None:
            resolved.hosts[key] = list(hosts)
        grants = _grants(capabilities, dict(installation.granted))
        if grants:
            resolved.grants[key] = grants
    if problems:
        raise InvalidOrganism(
            "the flow uses marketplace tools it cannot run: "
            + "; ".join(item["message"] for item in problems),
            problems,
        )
    return resolved


def _grants(capabilities: dict[str, Any], granted: dict[str, Any]) -> list[str]:
    out: list[str] = []
    for name, declared in sorted(capabilities.items()):
        given = granted.get(name)
        if given is None:
            continue
        if name == "http_fetch" and not set(declared.get("hosts", [])) <= set(
            given.get("hosts", [])
        ):
            continue
        out.append(name)
    return out


def _problem(reference: str, why: str) -> dict[str, str]:
    return {"path": "listeners", "message": f"{reference}: {why}"}


async def _listing_versions_own(session: AsyncSession, hashes: set[str]) -> set[str]:
    found = await session.scalars(
        select(ListingVersion.sha256).where(ListingVersion.sha256.in_(hashes)).distinct()
    )
    return set(found)


if resolve_tool_references not in MODULE_RESOLVERS:
    MODULE_RESOLVERS.append(resolve_tool_references)
if _listing_versions_own not in BLOB_OWNERS:
    BLOB_OWNERS.append(_listing_versions_own)
