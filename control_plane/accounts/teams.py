"""Teams: a workspace's members and their roles, single-use invitations, switching workspace.

Rules: only an owner makes or changes an owner; admins manage editors and viewers; the last
owner can neither leave nor be demoted. The plan's `team_members` limit counts members."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.credentials import hash_token
from control_plane.accounts.models import (
    AuditEvent,
    AuthToken,
    Invitation,
    Membership,
    Tenant,
    User,
)
from control_plane.accounts.roles import RANK, ROLES, role_at_least
from control_plane.accounts.service import Principal, normalize_email
from control_plane.billing.tiers import check_quota
from control_plane.db import new_id, utcnow
from control_plane.errors import Conflict, Forbidden, InvalidInput, NotFound

INVITATION_TTL = timedelta(days=7)
INVITATION_PREFIX = "fpi_"
INVALID_INVITATION = "this invitation is unknown, was already used, revoked or has expired"


@dataclass(frozen=True)
class Member:
    user_id: str
    email: str
    role: str
    joined_at: object


@dataclass(frozen=True)
class IssuedInvitation:
    invitation: Invitation
    token: str  # shown once (the link for self-hosters without mail)


async def list_members(session: AsyncSession, tenant_id: str) -> list[Member]:
    rows = await session.execute(
        select(Membership, User.email)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == tenant_id)
        .order_by(Membership.created_at, User.email)
    )
    return [
        Member(user_id=member.user_id, email=email, role=member.role, joined_at=member.created_at)
        for member, email in rows
    ]


async def count_members(session: AsyncSession, tenant_id: str) -> int:
    count = await session.scalar(
        select(func.count()).select_from(Membership).where(Membership.tenant_id == tenant_id)
    )
    return int(count or 0)


async def invite(
    session: AsyncSession, principal: Principal, email: str, role: str
) -> IssuedInvitation:
    email = normalize_email(email)
    _check_role_name(role)
    _check_may_grant(principal, role)
    if "@" not in email or len(email) > 254:
        problem = {"path": "email", "message": f"{email!r} is not an email address"}
        raise InvalidInput(f"email: {problem['message']}", [problem])
    await _check_member_quota(session, principal.tenant_id)
    existing = await session.scalar(
        select(Membership.user_id)
        .join(User, User.id == Membership.user_id)
        .where(Membership.tenant_id == principal.tenant_id, User.email == email)
    )
    if existing is not None:
        raise Conflict(f"{email} is already a member of this workspace")
    token = INVITATION_PREFIX + new_id() + new_id()
    invitation = Invitation(
        id=new_id(),
        tenant_id=principal.tenant_id,
        email=email,
        role=role,
        token_hash=hash_token(token),
        invited_by=principal.user_id,
        created_at=utcnow(),
        expires_at=utcnow() + INVITATION_TTL,
    )
    session.add(invitation)
    await session.flush()
    return IssuedInvitation(invitation=invitation, token=token)


async def pending_invitations(session: AsyncSession, tenant_id: str) -> list[Invitation]:
    result = await session.scalars(
        select(Invitation)
        .where(
            Invitation.tenant_id == tenant_id,
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > utcnow(),
        )
        .order_by(Invitation.created_at.desc())
    )
    return list(result)


async def revoke_invitation(
    session: AsyncSession, principal: Principal, invitation_id: str
) -> None:
    invitation = await session.scalar(
        select(Invitation).where(
            Invitation.id == invitation_id, Invitation.tenant_id == principal.tenant_id
        )
    )
    if invitation is None or invitation.accepted_at is not None:
        raise NotFound(f"pending invitation {invitation_id} not found")
    invitation.revoked_at = invitation.revoked_at or utcnow()
    await session.flush()


async def accept(session: AsyncSession, principal: Principal, token: str) -> Tenant:
    """Join the invitation's workspace as the signed-in user; the token works once."""
    now = utcnow()
    # Claimed with one conditional UPDATE: two concurrent accepts cannot both succeed.
    claimed = await session.execute(
        update(Invitation)
        .where(
            Invitation.token_hash == hash_token(token),
            Invitation.accepted_at.is_(None),
            Invitation.revoked_at.is_(None),
            Invitation.expires_at > now,
        )
        .values(accepted_at=now, accepted_by=principal.user_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(claimed, "rowcount", 0) != 1:
        raise NotFound(INVALID_INVITATION)
    invitation = await session.scalar(
        select(Invitation).where(Invitation.token_hash == hash_token(token))
    )
    assert invitation is not None
    user = await session.get_one(User, principal.user_id)
    if user.email != invitation.email:
        raise Forbidden(
            f"this invitation is for {invitation.email}; sign in as that user to accept it"
        )
    member = await session.get(Membership, (invitation.tenant_id, user.id))
    if member is not None:
        raise Conflict("you are already a member of this workspace")
    await _check_member_quota(session, invitation.tenant_id)
    session.add(
        Membership(
            tenant_id=invitation.tenant_id, user_id=user.id, role=invitation.role, created_at=now
        )
    )
    session.add(
        AuditEvent(
            id=new_id(),
            tenant_id=invitation.tenant_id,
            user_id=user.id,
            action="join",
            target_type="member",
            target_id=user.id,
            summary=f"{user.email} joined as {invitation.role}",
            created_at=now,
        )
    )
    await session.flush()
    return await session.get_one(Tenant, invitation.tenant_id)


async def change_role(
    session: AsyncSession, principal: Principal, user_id: str, role: str
) -> Member:
    _check_role_name(role)
    member = await _member(session, principal.tenant_id, user_id)
    _check_may_manage(principal, member.role)
    _check_may_grant(principal, role)
    if member.role == "owner" and role != "owner":
        await _keep_an_owner(session, principal.tenant_id)
    member.role = role
    await session.flush()
    email = await session.scalar(select(User.email).where(User.id == user_id))
    return Member(user_id=user_id, email=email or "", role=role, joined_at=member.created_at)


async def remove_member(session: AsyncSession, principal: Principal, user_id: str) -> None:
    member = await _member(session, principal.tenant_id, user_id)
    if user_id != principal.user_id:
        _check_may_manage(principal, member.role)
    if member.role == "owner":
        await _keep_an_owner(session, principal.tenant_id)
    await session.delete(member)
    # Their sessions and keys for this workspace stop working at once.
    await session.execute(
        update(AuthToken)
        .where(
            AuthToken.tenant_id == principal.tenant_id,
            AuthToken.user_id == user_id,
            AuthToken.revoked_at.is_(None),
        )
        .values(revoked_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    await session.flush()


async def workspaces(session: AsyncSession, user_id: str) -> list[tuple[Tenant, str]]:
    rows = await session.execute(
        select(Tenant, Membership.role)
        .join(Membership, Membership.tenant_id == Tenant.id)
        .where(Membership.user_id == user_id)
        .order_by(Membership.created_at, Tenant.id)
    )
    return [(tenant, role) for tenant, role in rows]


async def ensure_member(session: AsyncSession, user_id: str, tenant_id: str) -> Tenant:
    member = await session.get(Membership, (tenant_id, user_id))
    if member is None:
        raise NotFound(f"workspace {tenant_id} not found")
    return await session.get_one(Tenant, tenant_id)


async def _member(session: AsyncSession, tenant_id: str, user_id: str) -> Membership:
    member = await session.get(Membership, (tenant_id, user_id))
    if member is None:
        raise NotFound(f"member {user_id} not found in this workspace")
    return member


async def _keep_an_owner(session: AsyncSession, tenant_id: str) -> None:
    owners = await session.scalar(
        select(func.count())
        .select_from(Membership)
        .where(Membership.tenant_id == tenant_id, Membership.role == "owner")
    )
    if (owners or 0) <= 1:
        raise Conflict("a workspace keeps at least one owner: make another member owner first")


async def _check_member_quota(session: AsyncSession, tenant_id: str) -> None:
    plan = await session.scalar(select(Tenant.tier).where(Tenant.id == tenant_id))
    check_quota(plan or "free", "team_members", await count_members(session, tenant_id))


def _check_role_name(role: str) -> None:
    if role not in RANK:
        problem = {
            "path": "role",
            "message": f"unknown role {role!r}; roles are {', '.join(ROLES)}",
        }
        raise InvalidInput(f"role: {problem['message']}", [problem])


def _check_may_grant(principal: Principal, role: str) -> None:
    if role == "owner" and principal.role != "owner":
        raise Forbidden("only an owner can make someone an owner")
    if not role_at_least(principal.role, "admin"):
        raise Forbidden("managing members needs the admin role")


def _check_may_manage(principal: Principal, current_role: str) -> None:
    if current_role == "owner" and principal.role != "owner":
        raise Forbidden("only an owner can change or remove an owner")
