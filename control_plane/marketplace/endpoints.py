"""/api/marketplace: search, listings, publish, install, use a template, reviews, moderation."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Query, Response, status

from control_plane.accounts.roles import Editor, Viewer
from control_plane.db import DatabaseSession
from control_plane.marketplace import installing, publishing, service, trust
from control_plane.marketplace import resolver as _resolver  # noqa: F401  (registers tool:)
from control_plane.marketplace.runtime import Marketplace
from control_plane.marketplace.schemas import (
    CATEGORIES,
    TAG_PATTERN,
    InstalledOut,
    InstallRequest,
    ListingDetail,
    ModerationWrite,
    PublicKeyOut,
    PublishRequest,
    ReportOut,
    ReportWrite,
    ReviewWrite,
    SearchOut,
    ToolPublish,
    UseOut,
    UseRequest,
    VersionOut,
)
from control_plane.pumps.endpoints import Pumps

router = APIRouter(prefix="/marketplace", tags=["marketplace"])

Text = Annotated[str, Query(max_length=200, description="words of the title, summary or tags")]
CategoryQuery = Annotated[Literal[CATEGORIES] | None, Query()]  # type: ignore[valid-type]
TagQuery = Annotated[str | None, Query(pattern=TAG_PATTERN)]
SortQuery = Annotated[Literal["installs", "rating", "newest", "relevance"], Query()]
Page = Annotated[int, Query(ge=1, le=10_000)]
PerPage = Annotated[int, Query(ge=1, le=service.MAX_PER_PAGE)]
Mine = Annotated[bool, Query(description="only this workspace's listings, any visibility")]


async def _search(
    kind: str,
    principal: Viewer,
    session: DatabaseSession,
    q: str,
    category: str | None,
    tag: str | None,
    sort: str,
    page: int,
    per_page: int,
    mine: bool,
) -> SearchOut:
    query = service.SearchQuery(
        kind=kind, text=q, category=category, tag=tag, sort=sort,  # type: ignore[arg-type]
        page=page, per_page=per_page, mine=mine,
    )  # fmt: skip
    return await service.search_listings(session, principal, query)


@router.get("/tools", response_model=SearchOut, summary="Search tools")
async def search_tools(
    principal: Viewer,
    session: DatabaseSession,
    q: Text = "",
    category: CategoryQuery = None,
    tag: TagQuery = None,
    sort: SortQuery = "installs",
    page: Page = 1,
    per_page: PerPage = 24,
    mine: Mine = False,
) -> SearchOut:
    return await _search("tool", principal, session, q, category, tag, sort, page, per_page, mine)


@router.get("/flows", response_model=SearchOut, summary="Search flow templates")
async def search_flows(
    principal: Viewer,
    session: DatabaseSession,
    q: Text = "",
    category: CategoryQuery = None,
    tag: TagQuery = None,
    sort: SortQuery = "installs",
    page: Page = 1,
    per_page: PerPage = 24,
    mine: Mine = False,
) -> SearchOut:
    return await _search("flow", principal, session, q, category, tag, sort, page, per_page, mine)


@router.get("/installed", response_model=list[InstalledOut], summary="Installed tools")
async def installed(principal: Viewer, session: DatabaseSession) -> list[InstalledOut]:
    return await service.installed_tools(session, principal)


@router.get("/public-key", response_model=PublicKeyOut, summary="The platform's signing key")
async def public_key(principal: Viewer, marketplace: Marketplace) -> PublicKeyOut:
    return PublicKeyOut(key_id=marketplace.signer.key_id, public_key=marketplace.signer.public_key)


@router.get("/listings/{slug}", response_model=ListingDetail, summary="A listing in full")
async def listing(
    slug: str, principal: Viewer, session: DatabaseSession, marketplace: Marketplace
) -> ListingDetail:
    return await service.listing_detail(session, marketplace, principal, slug)


@router.post(
    "/publish",
    response_model=ListingDetail,
    status_code=status.HTTP_201_CREATED,
    summary="Publish a tool (from a module version) or a flow template (from a flow)",
    responses={
        402: {"description": "QuotaExceeded: tools need Pro; private listings Enterprise"},
        409: {"description": "Conflict: slug of another workspace, or version not newer"},
    },
)
async def publish(
    body: Annotated[PublishRequest, Body()],
    principal: Editor,
    session: DatabaseSession,
    marketplace: Marketplace,
    pumps: Pumps,
) -> ListingDetail:
    if isinstance(body, ToolPublish):
        listing = await publishing.publish_tool(session, marketplace, principal, body)
    else:
        listing = await publishing.publish_flow(
            session, marketplace, pumps.secret_box, principal, body
        )
    return await service.listing_detail(session, marketplace, principal, listing.slug)


@router.post(
    "/listings/{slug}/install",
    response_model=InstalledOut,
    summary="Install a tool with explicit grants (exactly its declared capabilities)",
    responses={402: {"description": "QuotaExceeded: the plan has no marketplace tools"}},
)
async def install(
    slug: str,
    body: InstallRequest,
    principal: Editor,
    session: DatabaseSession,
    marketplace: Marketplace,
) -> InstalledOut:
    listing, installation = await installing.install_tool(
        session, marketplace, principal, slug, body
    )
    versions = await service.versions_of(session, listing)
    return service.installed_out(listing, installation, versions)


@router.delete(
    "/listings/{slug}/install",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Uninstall a tool (409 naming the flows that use it)",
)
async def uninstall(slug: str, principal: Editor, session: DatabaseSession) -> Response:
    await installing.uninstall(session, principal, slug)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/listings/{slug}/use",
    response_model=UseOut,
    status_code=status.HTTP_201_CREATED,
    summary="A new flow from a template (its secrets and tools; what is missing is listed)",
)
async def use(
    slug: str,
    body: UseRequest,
    principal: Editor,
    session: DatabaseSession,
    marketplace: Marketplace,
    pumps: Pumps,
) -> UseOut:
    return await installing.use_template(
        session, marketplace, pumps.secret_box, principal, slug, body
    )


@router.post(
    "/listings/{slug}/reviews",
    status_code=status.HTTP_201_CREATED,
    response_model=ListingDetail,
    summary="Rate and review (once per workspace; after installing or using it)",
)
async def review(
    slug: str,
    body: ReviewWrite,
    principal: Editor,
    session: DatabaseSession,
    marketplace: Marketplace,
) -> ListingDetail:
    await trust.write_review(session, principal, slug, body)
    return await service.listing_detail(session, marketplace, principal, slug)


@router.post(
    "/listings/{slug}/reports",
    status_code=status.HTTP_201_CREATED,
    response_model=ReportOut,
    summary="Report a listing to the platform operators",
)
async def report(
    slug: str, body: ReportWrite, principal: Editor, session: DatabaseSession
) -> ReportOut:
    row = await trust.report_listing(session, principal, slug, body.reason)
    return ReportOut(
        id=row.id, listing=slug, reason=row.reason, reporter="you", created_at=row.created_at
    )


@router.get("/reports", response_model=list[ReportOut], summary="Reports (operators only)")
async def reports(
    principal: Viewer, session: DatabaseSession, marketplace: Marketplace
) -> list[ReportOut]:
    await service.require_admin(session, marketplace, principal)
    return await trust.list_reports(session)


@router.put(
    "/listings/{slug}/moderation",
    response_model=ListingDetail,
    summary="Unlist, remove or restore a listing (operators only)",
)
async def moderate(
    slug: str,
    body: ModerationWrite,
    principal: Viewer,
    session: DatabaseSession,
    marketplace: Marketplace,
) -> ListingDetail:
    await service.require_admin(session, marketplace, principal)
    await trust.moderate(session, principal, slug, body.status)
    return await service.listing_detail(session, marketplace, principal, slug)


@router.post(
    "/listings/{slug}/versions/{version}/yank",
    response_model=VersionOut,
    summary="Yank a version (its author or an operator): runs where pinned, never installed anew",
)
async def yank(
    slug: str,
    version: str,
    principal: Editor,
    session: DatabaseSession,
    marketplace: Marketplace,
) -> VersionOut:
    admin = await service.is_admin(session, marketplace, principal)
    row = await trust.yank(session, principal, slug, version, admin=admin)
    return service.version_out(row)
