"""/api/members (members, roles, invitations), /api/invitations/{token}/accept,
/api/workspaces (list, switch) and /api/audit."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response, status
from sqlalchemy import select

from control_plane.accounts import service, teams
from control_plane.accounts.audit import audit_target, list_events
from control_plane.accounts.models import User
from control_plane.accounts.roles import Admin, Viewer, require_role
from control_plane.accounts.schemas import (
    AuditEventOut,
    InvitationCreate,
    InvitationIssued,
    InvitationOut,
    MemberOut,
    RoleWrite,
    SessionOut,
    TenantOut,
    UserOut,
    WorkspaceOut,
)
from control_plane.accounts.service import Principal
from control_plane.db import DatabaseSession
from control_plane.settings import Settings

router = APIRouter(tags=["teams"])
# Joining and switching act across workspaces: accept writes its own entry to the joined one.
AnyMember = Annotated[Principal, Depends(require_role("viewer", audit=False))]


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _member_out(member: teams.Member) -> MemberOut:
    return MemberOut.model_validate(member, from_attributes=True)


@router.get("/members", response_model=list[MemberOut], summary="The workspace's members")
async def list_members(principal: Viewer, session: DatabaseSession) -> list[MemberOut]:
    return [
        _member_out(member) for member in await teams.list_members(session, principal.tenant_id)
    ]


@router.patch("/members/{user_id}", response_model=MemberOut, summary="Change a member's role")
async def change_role(
    user_id: str, body: RoleWrite, principal: Admin, session: DatabaseSession
) -> MemberOut:
    return _member_out(await teams.change_role(session, principal, user_id, body.role))


@router.delete(
    "/members/{user_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Remove a member (their tokens for this workspace stop working)",
)
async def remove_member(user_id: str, principal: Admin, session: DatabaseSession) -> None:
    await teams.remove_member(session, principal, user_id)


@router.get(
    "/members/invitations",
    response_model=list[InvitationOut],
    summary="Invitations not yet accepted",
)
async def list_invitations(principal: Admin, session: DatabaseSession) -> list[InvitationOut]:
    pending = await teams.pending_invitations(session, principal.tenant_id)
    return [InvitationOut.model_validate(item) for item in pending]


@router.post(
    "/members/invitations",
    response_model=InvitationIssued,
    status_code=status.HTTP_201_CREATED,
    summary="Invite someone by email; the single-use link is shown only in this response",
    responses={402: {"description": "QuotaExceeded: the plan's team_members limit"}},
)
async def invite(
    body: InvitationCreate, request: Request, principal: Admin, session: DatabaseSession
) -> InvitationIssued:
    issued = await teams.invite(session, principal, body.email, body.role)
    audit_target(request, issued.invitation.id, issued.invitation.email)
    base = _settings(request).public_url.rstrip("/") or str(request.base_url).rstrip("/")
    return InvitationIssued(
        id=issued.invitation.id,
        email=issued.invitation.email,
        role=issued.invitation.role,
        created_at=issued.invitation.created_at,
        expires_at=issued.invitation.expires_at,
        token=issued.token,
        accept_url=f"{base}/invite/{issued.token}",
    )


@router.delete(
    "/members/invitations/{invitation_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    summary="Revoke a pending invitation",
)
async def revoke_invitation(invitation_id: str, principal: Admin, session: DatabaseSession) -> None:
    await teams.revoke_invitation(session, principal, invitation_id)


@router.post(
    "/invitations/{token}/accept",
    response_model=SessionOut,
    summary="Join the invitation's workspace; answers a session for it",
)
async def accept_invitation(
    token: str, request: Request, principal: AnyMember, session: DatabaseSession
) -> SessionOut:
    tenant = await teams.accept(session, principal, token)
    return await _session_in(request, session, principal.user_id, tenant.id)


@router.get("/workspaces", response_model=list[WorkspaceOut], summary="Your workspaces")
async def list_workspaces(principal: Viewer, session: DatabaseSession) -> list[WorkspaceOut]:
    return [
        WorkspaceOut(
            id=tenant.id,
            name=tenant.name,
            plan=tenant.tier,
            role=role,
            current=tenant.id == principal.tenant_id,
        )
        for tenant, role in await teams.workspaces(session, principal.user_id)
    ]


@router.post(
    "/workspaces/{tenant_id}/session",
    response_model=SessionOut,
    summary="Switch workspace: a new session token acting in another of your workspaces",
)
async def switch_workspace(
    tenant_id: str, request: Request, principal: AnyMember, session: DatabaseSession
) -> SessionOut:
    await teams.ensure_member(session, principal.user_id, tenant_id)
    return await _session_in(request, session, principal.user_id, tenant_id)


@router.get("/audit", response_model=list[AuditEventOut], summary="Who did what, newest first")
async def audit_log(
    principal: Admin,
    session: DatabaseSession,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    before: Annotated[datetime | None, Query(description="Entries older than this")] = None,
    target_id: Annotated[str | None, Query(max_length=64)] = None,
) -> list[AuditEventOut]:
    events = await list_events(
        session, principal.tenant_id, limit=limit, before=before, target_id=target_id
    )
    user_ids = {event.user_id for event in events if event.user_id}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(user_ids)))
    emails = {user_id: email for user_id, email in rows}
    return [
        AuditEventOut.model_validate(event).model_copy(
            update={"user_email": emails.get(event.user_id or "")}
        )
        for event in events
    ]


async def _session_in(
    request: Request, session: DatabaseSession, user_id: str, tenant_id: str
) -> SessionOut:
    ttl = timedelta(hours=_settings(request).session_ttl_hours)
    token = await service.open_session(session, user_id, tenant_id, ttl)
    tenant = await teams.ensure_member(session, user_id, tenant_id)
    user = await session.get_one(User, user_id)
    role = next(
        role for item, role in await teams.workspaces(session, user_id) if item.id == tenant_id
    )
    return SessionOut(
        token=token,
        user=UserOut.model_validate(user),
        tenant=TenantOut.model_validate(tenant),
        role=role,
    )
