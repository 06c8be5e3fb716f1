"""POST /webhooks/clerk: Clerk's user events, verified with the `svix` library (signature over
id, timestamp and body with CLERK_WEBHOOK_SECRET; timestamps older than 5 minutes refused) and
applied once per Svix message id.

- `user.created`, `user.updated`: the user (by Clerk id) is created or its email updated.
- `user.deleted`: the user is disabled at once (every request with any of their tokens is
  401 from then on; their sessions and API keys are revoked), and each workspace they alone
  own is scheduled for deletion after `WORKSPACE_DELETION_DELAY` with its flows stopped;
  `purge_deleted_workspaces` (hourly, accounts/runtime.py) then deletes it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Request
from pydantic import BaseModel
from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.clerk import sync_user
from control_plane.accounts.models import AuthToken, Membership, Tenant, User
from control_plane.billing.webhooks import record_once
from control_plane.db import DatabaseSession, utcnow
from control_plane.errors import BadRequest, Conflict
from control_plane.flows.models import Flow
from control_plane.settings import Settings

WORKSPACE_DELETION_DELAY = timedelta(days=30)

router = APIRouter(tags=["accounts"])


class ClerkAck(BaseModel):
    received: bool
    duplicate: bool = False
    applied: str | None = None


@router.post(
    "/webhooks/clerk",
    response_model=ClerkAck,
    summary="Clerk user events (Svix-signed with CLERK_WEBHOOK_SECRET)",
    responses={400: {"description": "BadRequest: the Svix signature does not verify"}},
)
async def clerk_webhook(
    request: Request,
    session: DatabaseSession,
    svix_id: Annotated[str | None, Header()] = None,
    svix_timestamp: Annotated[str | None, Header()] = None,
    svix_signature: Annotated[str | None, Header()] = None,
) -> ClerkAck:
    settings: Settings = request.app.state.settings
    if not settings.clerk_webhook_secret:
        raise Conflict("Clerk webhooks are not configured (CLERK_WEBHOOK_SECRET)")
    from svix.webhooks import Webhook, WebhookVerificationError  # imported on first use (10 MB)

    payload = await request.body()
    headers = {
        "svix-id": svix_id or "",
        "svix-timestamp": svix_timestamp or "",
        "svix-signature": svix_signature or "",
    }
    try:
        Webhook(settings.clerk_webhook_secret).verify(payload, headers)
        event = json.loads(payload)
    except (WebhookVerificationError, ValueError) as error:
        raise BadRequest(f"the Svix signature does not verify: {error}") from error
    kind = str(event.get("type", "")) if isinstance(event, dict) else ""
    if not await record_once(session, f"clerk:{svix_id}", kind):
        return ClerkAck(received=True, duplicate=True)
    data = event.get("data") or {}
    applied = await apply_user_event(session, kind, data, plan=settings.new_workspace_plan)
    return ClerkAck(received=True, applied=applied)


async def apply_user_event(
    session: AsyncSession, kind: str, data: dict[str, Any], *, plan: str
) -> str | None:
    clerk_id = data.get("id")
    if not isinstance(clerk_id, str) or not clerk_id:
        return "ignored: no user id"
    if kind in ("user.created", "user.updated"):
        user = await sync_user(session, clerk_id, _primary_email(data), plan=plan)
        return f"user {user.id} synced"
    if kind == "user.deleted":
        return await _disable(session, clerk_id)
    return None


async def _disable(session: AsyncSession, clerk_id: str) -> str:
    user = await session.scalar(select(User).where(User.clerk_user_id == clerk_id))
    if user is None:
        return "ignored: unknown user"
    now = utcnow()
    user.disabled_at = user.disabled_at or now
    await session.execute(
        update(AuthToken)
        .where(AuthToken.user_id == user.id, AuthToken.revoked_at.is_(None))
        .values(revoked_at=now)
        .execution_options(synchronize_session=False)
    )
    owned = list(
        await session.scalars(
            select(Membership.tenant_id).where(
                Membership.user_id == user.id, Membership.role == "owner"
            )
        )
    )
    scheduled = 0
    for tenant_id in owned:
        owners = await session.scalar(
            select(func.count())
            .select_from(Membership)
            .where(Membership.tenant_id == tenant_id, Membership.role == "owner")
        )
        if (owners or 0) > 1:
            continue  # a shared workspace with another owner stays
        tenant = await session.get_one(Tenant, tenant_id)
        tenant.deletion_scheduled_at = (
            tenant.deletion_scheduled_at or now + WORKSPACE_DELETION_DELAY
        )
        await session.execute(
            update(Flow)
            .where(Flow.tenant_id == tenant_id)
            .values(desired_state="stopped", status="stopped", status_reason="owner deleted")
            .execution_options(synchronize_session=False)
        )
        scheduled += 1
    await session.flush()
    return f"user {user.id} disabled; {scheduled} workspace(s) scheduled for deletion"


async def purge_deleted_workspaces(session: AsyncSession, now: datetime | None = None) -> int:
    """Delete the workspaces whose deletion date passed (everything they own cascades)."""
    due = list(
        await session.scalars(
            select(Tenant.id).where(
                Tenant.deletion_scheduled_at.is_not(None),
                Tenant.deletion_scheduled_at <= (now or utcnow()),
            )
        )
    )
    if due:
        await session.execute(
            delete(Tenant).where(Tenant.id.in_(due)).execution_options(synchronize_session=False)
        )
    return len(due)


def _primary_email(data: dict[str, Any]) -> str | None:
    addresses = data.get("email_addresses") or []
    primary = data.get("primary_email_address_id")
    for address in addresses:
        if isinstance(address, dict) and (primary is None or address.get("id") == primary):
            email = address.get("email_address")
            return email if isinstance(email, str) else None
    return None
