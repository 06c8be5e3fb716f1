"""Roles in a workspace and the one dependency every endpoint uses to require one.

    from control_plane.accounts.roles import require_role

    @router.post("/things")
    async def create_thing(principal: Annotated[Principal, Depends(require_role("editor"))]): ...

or, shorter, the aliases `Viewer`, `Editor`, `Admin` and `Owner` (`principal: Editor`).

Roles are ordered: owner > admin > editor > viewer; `require_role("editor")` admits editors,
admins and owners, and answers 403 `Forbidden` to viewers. A request that is not a read
(any method but GET/HEAD/OPTIONS) is written to the
audit log in the request's own transaction: a refused or failed request leaves no entry
(`require_role(..., audit=False)` for a POST that changes nothing)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, get_args

from fastapi import Depends, Request

from control_plane.accounts.audit import record_request
from control_plane.accounts.dependencies import current_principal
from control_plane.accounts.service import Principal
from control_plane.db import DatabaseSession
from control_plane.errors import Forbidden

Role = Literal["viewer", "editor", "admin", "owner"]
ROLES: tuple[Role, ...] = get_args(Role)  # lowest first
RANK: dict[str, int] = {role: rank for rank, role in enumerate(ROLES)}
READS = frozenset({"GET", "HEAD", "OPTIONS"})

RoleDependency = Callable[..., Awaitable[Principal]]


def role_at_least(role: str, minimum: Role) -> bool:
    return RANK.get(role, -1) >= RANK[minimum]


def require_role(minimum: Role, *, audit: bool = True) -> RoleDependency:
    """A FastAPI dependency: the request's principal, if its role is `minimum` or higher.
    `audit=False` for endpoints that take a POST but change nothing (compile, parse)."""
    if minimum not in RANK:
        raise ValueError(f"unknown role {minimum!r}; roles are {', '.join(ROLES)}")
    return _DEPENDENCIES[(minimum, audit)]


def ensure_role(principal: Principal, minimum: Role) -> None:
    if not role_at_least(principal.role, minimum):
        raise Forbidden(
            f"this needs the {minimum} role (or higher) in the workspace, and you are "
            f"{principal.role}; ask an owner or admin of the workspace",
            required_role=minimum,
            role=principal.role,
        )


def _make(minimum: Role, audit: bool) -> RoleDependency:
    async def dependency(
        request: Request,
        session: DatabaseSession,
        principal: Annotated[Principal, Depends(current_principal)],
    ) -> Principal:
        ensure_role(principal, minimum)
        if audit and request.method not in READS:
            record_request(session, request, principal)
        return principal

    dependency.__name__ = f"require_{minimum}"
    dependency.required_role = minimum  # type: ignore[attr-defined]
    return dependency


_DEPENDENCIES: dict[tuple[str, bool], RoleDependency] = {
    (role, audit): _make(role, audit) for role in ROLES for audit in (True, False)
}


def required_role(dependency: object) -> str | None:
    """The role a dependency made by `require_role` requires (for tests and tooling)."""
    role = getattr(dependency, "required_role", None)
    return role if isinstance(role, str) else None


Viewer = Annotated[Principal, Depends(require_role("viewer"))]
Editor = Annotated[Principal, Depends(require_role("editor"))]
Admin = Annotated[Principal, Depends(require_role("admin"))]
Owner = Annotated[Principal, Depends(require_role("owner"))]
