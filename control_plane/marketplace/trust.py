"""Trust and quality: reviews (1-5 and a short text, one per workspace per listing, only after
installing or using it, never on your own), reports, and the operators' moderation (unlist or
remove a listing, yank a version)."""

from __future__ import annotations

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.accounts.models import Tenant
from control_plane.db import new_id, utcnow
from control_plane.errors import Conflict, Forbidden, NotFound
from control_plane.marketplace.models import Listing, ListingVersion, Report, Review
from control_plane.marketplace.schemas import ReportOut, ReviewWrite
from control_plane.marketplace.service import installation_of, visible_listing


async def write_review(
    session: AsyncSession, principal: Principal, slug: str, request: ReviewWrite
) -> Review:
    listing = await visible_listing(session, principal, slug)
    if listing.tenant_id == principal.tenant_id:
        raise Forbidden("you cannot review your own listing")
    if await installation_of(session, principal.tenant_id, listing.id, active=False) is None:
        verb = "install" if listing.kind == "tool" else "use"
        raise Forbidden(f"{verb} {slug} before reviewing it")
    review = await session.scalar(
        select(Review)
        .where(Review.listing_id == listing.id, Review.tenant_id == principal.tenant_id)
        .with_for_update()
    )
    now = utcnow()
    previous = 0
    if review is None:
        review = Review(
            id=new_id(),
            listing_id=listing.id,
            tenant_id=principal.tenant_id,
            created_at=now,
        )
        session.add(review)
    else:
        previous = review.rating
    review.rating = request.rating
    review.text = request.text.strip()
    review.updated_at = now
    try:
        await session.flush()
    except IntegrityError as error:
        raise Conflict("this workspace's review was being written at the same moment") from error
    await session.execute(
        update(Listing)
        .where(Listing.id == listing.id)
        .values(
            rating_sum=Listing.rating_sum + request.rating - previous,
            rating_count=Listing.rating_count + (0 if previous else 1),
        )
        .execution_options(synchronize_session=False)
    )
    await session.flush()
    return review


async def report_listing(
    session: AsyncSession, principal: Principal, slug: str, reason: str
) -> Report:
    listing = await visible_listing(session, principal, slug)
    report = Report(
        id=new_id(),
        listing_id=listing.id,
        tenant_id=principal.tenant_id,
        reason=reason.strip(),
        created_at=utcnow(),
    )
    session.add(report)
    await session.flush()
    return report


async def list_reports(session: AsyncSession) -> list[ReportOut]:
    rows = await session.execute(
        select(Report, Listing.slug, Tenant.name)
        .join(Listing, Listing.id == Report.listing_id)
        .join(Tenant, Tenant.id == Report.tenant_id)
        .order_by(Report.created_at.desc())
        .limit(500)
    )
    return [
        ReportOut(
            id=report.id,
            listing=slug,
            reason=report.reason,
            reporter=name,
            created_at=report.created_at,
        )
        for report, slug, name in rows
    ]


async def moderate(session: AsyncSession, principal: Principal, slug: str, status: str) -> Listing:
    listing = await visible_listing(session, principal, slug, admin=True)
    listing.status = status
    listing.updated_at = utcnow()
    await session.flush()
    return listing


async def yank(
    session: AsyncSession, principal: Principal, slug: str, version: str, *, admin: bool
) -> ListingVersion:
    """Mark a version yanked (its author or an operator): it keeps running where it is
    installed (pinned) and cannot be newly installed or used."""
    listing = await visible_listing(session, principal, slug, admin=admin)
    if not admin and listing.tenant_id != principal.tenant_id:
        raise Forbidden("only the listing's author or a platform operator may yank a version")
    row = await session.scalar(
        select(ListingVersion).where(
            ListingVersion.listing_id == listing.id, ListingVersion.version == version
        )
    )
    if row is None:
        raise NotFound(f"{slug} has no version {version!r}")
    if row.yanked_at is None:
        row.yanked_at = utcnow()
    await session.flush()
    return row
