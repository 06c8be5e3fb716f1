"""Finding listings: search, detail, who may see what, and how listings are presented.

Visibility: a `public` listing is found by search and opened by anyone signed in; `unlisted`
only by its slug; `private` only by its own workspace (to everyone else it is 404, like a
listing that does not exist). Operators' `unlisted` status hides a listing from search;
`removed` hides it from everyone but its author and the operators."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import ColumnElement, Text, and_, cast, func, or_, select, true
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.accounts.models import Tenant, User
from control_plane.errors import NotFound
from control_plane.marketplace import search
from control_plane.marketplace.models import Installation, Listing, ListingVersion, Review
from control_plane.marketplace.readme import render_readme
from control_plane.marketplace.runtime import MarketplaceRuntime
from control_plane.marketplace.schemas import (
    InstalledOut,
    ListingCard,
    ListingDetail,
    ReviewOut,
    SearchOut,
    VersionOut,
)
from control_plane.marketplace.semver import sort_key

Sort = Literal["installs", "rating", "newest", "relevance"]
MAX_PER_PAGE = 100


@dataclass(frozen=True)
class SearchQuery:
    kind: str
    text: str = ""
    category: str | None = None
    tag: str | None = None
    sort: Sort = "installs"
    page: int = 1
    per_page: int = 24
    mine: bool = False


async def is_admin(
    session: AsyncSession, runtime: MarketplaceRuntime, principal: Principal
) -> bool:
    if not runtime.admin_emails:
        return False
    email = await session.scalar(select(User.email).where(User.id == principal.user_id))
    return email is not None and email.lower() in runtime.admin_emails


async def require_admin(
    session: AsyncSession, runtime: MarketplaceRuntime, principal: Principal
) -> None:
    """Operator endpoints do not exist for anyone else (404, like an unknown path)."""
    if not await is_admin(session, runtime, principal):
        raise NotFound("not found: this is for platform operators (FLOWPLANE_ADMIN_EMAILS)")


def _visible(principal: Principal, *, admin: bool) -> ColumnElement[bool]:
    if admin:
        return true()
    own = Listing.tenant_id == principal.tenant_id
    shared = and_(Listing.visibility != "private", Listing.status != "removed")
    return or_(own, shared)


async def visible_listing(
    session: AsyncSession, principal: Principal, slug: str, *, admin: bool = False
) -> Listing:
    listing: Listing | None = await session.scalar(
        select(Listing).where(Listing.slug == slug, _visible(principal, admin=admin))
    )
    if listing is None:
        raise NotFound(f"marketplace listing {slug!r} not found")
    return listing


async def search_listings(
    session: AsyncSession, principal: Principal, query: SearchQuery
) -> SearchOut:
    statement = (
        select(Listing, Tenant.name)
        .join(Tenant, Tenant.id == Listing.tenant_id)
        .where(Listing.kind == query.kind)
    )
    if query.mine:
        statement = statement.where(Listing.tenant_id == principal.tenant_id)
    else:
        statement = statement.where(
            Listing.status == "active",
            or_(Listing.visibility == "public", Listing.tenant_id == principal.tenant_id),
            or_(Listing.visibility != "private", Listing.tenant_id == principal.tenant_id),
        )
    if query.category:
        statement = statement.where(Listing.category == query.category)
    if query.tag:
        # tags are slugs stored as a JSON list: match the quoted element in its text
        statement = statement.where(
            cast(Listing.tags, Text).contains(f'"{query.tag}"', autoescape=True)
        )
    matched = search.matches(session, query.text) if query.text else None
    if matched is not None:
        statement = statement.where(matched)
    total = await session.scalar(select(func.count()).select_from(statement.subquery())) or 0
    rank = search.rank(session, query.text) if query.sort == "relevance" else None
    orders: dict[str, list[Any]] = {
        "installs": [Listing.install_count.desc()],
        "rating": [
            (Listing.rating_sum * 1.0 / func.nullif(Listing.rating_count, 0)).desc().nulls_last(),
            Listing.rating_count.desc(),
        ],
        "newest": [Listing.created_at.desc()],
        "relevance": [rank.desc()] if rank is not None else [Listing.install_count.desc()],
    }
    order = orders[query.sort]
    per_page = max(1, min(query.per_page, MAX_PER_PAGE))
    page = max(1, query.page)
    rows = await session.execute(
        statement.order_by(*order, Listing.id).offset((page - 1) * per_page).limit(per_page)
    )
    found = list(rows)
    latest = await _latest_versions(session, [listing for listing, _ in found])
    items = [card(listing, author, latest.get(listing.id)) for listing, author in found]
    return SearchOut(items=items, total=int(total), page=page, per_page=per_page)


async def listing_detail(
    session: AsyncSession, runtime: MarketplaceRuntime, principal: Principal, slug: str
) -> ListingDetail:
    admin = await is_admin(session, runtime, principal)
    listing = await visible_listing(session, principal, slug, admin=admin)
    author = await session.scalar(select(Tenant.name).where(Tenant.id == listing.tenant_id))
    versions = await versions_of(session, listing)
    reviews = await session.execute(
        select(Review, Tenant.name)
        .join(Tenant, Tenant.id == Review.tenant_id)
        .where(Review.listing_id == listing.id)
        .order_by(Review.updated_at.desc())
        .limit(50)
    )
    installation = await installation_of(session, principal.tenant_id, listing.id)
    latest = next((item for item in versions if item.version == listing.latest_version), None)
    base = card(listing, author or "", latest)
    own = listing.tenant_id == principal.tenant_id
    return ListingDetail(
        **base.model_dump(),
        readme=listing.readme,
        readme_html=render_readme(listing.readme),
        versions=[version_out(item) for item in versions],
        reviews=[
            ReviewOut(
                author=name,
                rating=review.rating,
                text=review.text,
                created_at=review.created_at,
                updated_at=review.updated_at,
            )
            for review, name in reviews
        ],
        organism_yaml=latest.organism_yaml if latest is not None else None,
        installed=installed_out(listing, installation, versions) if installation else None,
        is_author=own,
        can_review=not own
        and (
            installation is not None
            or await installation_of(session, principal.tenant_id, listing.id, active=False)
            is not None
        ),
    )


async def installed_tools(session: AsyncSession, principal: Principal) -> list[InstalledOut]:
    """The workspace's installed tools (the editor palette's Marketplace tab)."""
    rows = await session.execute(
        select(Installation, Listing)
        .join(Listing, Listing.id == Installation.listing_id)
        .where(
            Installation.tenant_id == principal.tenant_id,
            Installation.removed_at.is_(None),
            Listing.kind == "tool",
        )
        .order_by(Listing.title)
    )
    found = list(rows)
    out: list[InstalledOut] = []
    for installation, listing in found:
        versions = await versions_of(session, listing)
        out.append(installed_out(listing, installation, versions))
    return out


async def versions_of(session: AsyncSession, listing: Listing) -> list[ListingVersion]:
    rows = await session.scalars(
        select(ListingVersion).where(ListingVersion.listing_id == listing.id)
    )
    return sorted(rows, key=lambda item: sort_key(item.version), reverse=True)


async def installation_of(
    session: AsyncSession, tenant_id: str, listing_id: str, *, active: bool = True
) -> Installation | None:
    statement = select(Installation).where(
        Installation.tenant_id == tenant_id, Installation.listing_id == listing_id
    )
    if active:
        statement = statement.where(Installation.removed_at.is_(None))
    found: Installation | None = await session.scalar(statement)
    return found


def card(listing: Listing, author: str, latest: ListingVersion | None) -> ListingCard:
    return ListingCard(
        slug=listing.slug,
        kind=listing.kind,
        title=listing.title,
        summary=listing.summary,
        category=listing.category,
        tags=list(listing.tags),
        icon=listing.icon,
        author=author,
        visibility=listing.visibility,
        status=listing.status,
        latest_version=listing.latest_version,
        capabilities=dict(latest.capabilities) if latest is not None else {},
        install_count=listing.install_count,
        rating=round(listing.rating_sum / listing.rating_count, 2)
        if listing.rating_count
        else None,
        rating_count=listing.rating_count,
        created_at=listing.created_at,
        updated_at=listing.updated_at,
    )


def version_out(version: ListingVersion) -> VersionOut:
    return VersionOut(
        version=version.version,
        sha256=version.sha256,
        capabilities=dict(version.capabilities),
        config_schema=version.config_schema,
        required_secrets=list(version.required_secrets),
        required_tools=list(version.required_tools),
        signature=version.signature,
        key_id=version.key_id,
        yanked=version.yanked_at is not None,
        created_at=version.created_at,
    )


def installed_out(
    listing: Listing, installation: Installation, versions: list[ListingVersion]
) -> InstalledOut:
    pinned = next((item for item in versions if item.version == installation.version), None)
    return InstalledOut(
        slug=listing.slug,
        kind=listing.kind,
        title=listing.title,
        icon=listing.icon,
        version=installation.version,
        reference=f"tool:{listing.slug}@{installation.version}" if listing.kind == "tool" else None,
        granted=dict(installation.granted),
        capabilities=dict(pinned.capabilities) if pinned is not None else {},
        config_schema=pinned.config_schema if pinned is not None else None,
        installed_at=installation.created_at,
    )


async def _latest_versions(
    session: AsyncSession, listings: list[Listing]
) -> dict[str, ListingVersion]:
    if not listings:
        return {}
    wanted = [(listing.id, listing.latest_version) for listing in listings]
    rows = await session.scalars(
        select(ListingVersion).where(
            ListingVersion.listing_id.in_([listing_id for listing_id, _ in wanted])
        )
    )
    latest = dict(wanted)
    return {row.listing_id: row for row in rows if latest.get(row.listing_id) == row.version}
