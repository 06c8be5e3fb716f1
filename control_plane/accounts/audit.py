"""The audit log: who created, changed, started, stopped, deleted or published what, when.

`require_role` writes an entry for every non-read request of editor level or higher, in the
request's transaction; an endpoint that creates something names it with `audit_target`."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import Request
from sqlalchemy import event, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from control_plane.accounts.models import AuditEvent
from control_plane.db import new_id, utcnow

# path words that are an action of their own (POST /api/flows/{id}/start -> "start")
VERBS = {
    "start": "start",
    "stop": "stop",
    "publish": "publish",
    "unpublish": "unpublish",
    "retry": "retry",
    "inject": "run",
    "rotate": "change",
    "install": "install",
    "uninstall": "uninstall",
    "accept": "join",
    "checkout": "checkout",
    "portal": "portal",
    "switch": "switch",
}
METHOD_ACTIONS = {"POST": "create", "PUT": "change", "PATCH": "change", "DELETE": "delete"}
# collection names in paths -> the type of thing an entry is about
TARGET_TYPES = {
    "flows": "flow",
    "triggers": "flow",
    "modules": "module",
    "executions": "execution",
    "keys": "api_key",
    "members": "member",
    "invitations": "invitation",
    "billing": "billing",
    "secrets": "secrets",
    "marketplace": "tool",
    "tools": "tool",
}
MAX_LIMIT = 500


PENDING = "flowplane_pending_audit"


@event.listens_for(Session, "before_commit")
def _add_pending_entries(session: Session) -> None:
    """Entries join the session only when it commits: written at once, they would hold
    SQLite's write lock for the whole request while other connections (trigger admission)
    wait for it. A request that fails rolls back and commits nothing, entry included."""
    for entry in session.info.pop(PENDING, []):
        session.add(entry)


def record_request(session: AsyncSession, request: Request, principal: Any) -> AuditEvent:
    """The entry for this request, written when the request's session commits."""
    route = request.scope.get("route")
    template: str = getattr(route, "path", request.url.path)
    words = [word for word in template.strip("/").split("/") if word and word != "api"]
    plain = [word for word in words if not word.startswith("{")]
    action = next(
        (VERBS[word] for word in reversed(plain) if word in VERBS),
        METHOD_ACTIONS.get(request.method, request.method.lower()),
    )
    if "secrets" in plain:
        action = "change"
    target_type = next(
        (TARGET_TYPES[word] for word in plain if word in TARGET_TYPES),
        plain[0] if plain else "workspace",
    )
    path_params: dict[str, Any] = request.path_params
    target_id = next((str(value) for key, value in path_params.items() if key.endswith("id")), None)
    entry = AuditEvent(
        id=new_id(),
        tenant_id=principal.tenant_id,
        user_id=principal.user_id,
        action=action,
        target_type=target_type,
        target_id=target_id[:64] if target_id else None,
        summary=f"{request.method} {request.url.path}"[:1000],
        created_at=utcnow(),
    )
    session.sync_session.info.setdefault(PENDING, []).append(entry)
    request.state.audit_event = entry
    return entry


def audit_target(request: Request, target_id: str, name: str | None = None) -> None:
    """Name what this request created (its id only exists once the endpoint ran)."""
    entry: AuditEvent | None = getattr(request.state, "audit_event", None)
    if entry is None:
        return
    entry.target_id = target_id[:64]
    if name:
        entry.summary = f"{entry.summary} ({name})"[:1000]


async def list_events(
    session: AsyncSession,
    tenant_id: str,
    *,
    limit: int,
    before: datetime | None = None,
    target_id: str | None = None,
) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.tenant_id == tenant_id)
    if before is not None:
        query = query.where(AuditEvent.created_at < before)
    if target_id is not None:
        query = query.where(AuditEvent.target_id == target_id)
    query = query.order_by(AuditEvent.created_at.desc(), AuditEvent.id.desc()).limit(
        min(max(limit, 1), MAX_LIMIT)
    )
    return list(await session.scalars(query))
