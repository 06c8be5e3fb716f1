"""Flows of a tenant: create, change, delete, versions, and how a flow is presented.

Every query is filtered by the principal's tenant: another tenant's flow is "not found",
exactly like a flow that does not exist. Content is validated completely (flows/content.py)
before the first write, so a refused save changes nothing."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.accounts.models import Tenant
from control_plane.billing.plans import release_after_delete
from control_plane.billing.tiers import check_quota, tier_limits
from control_plane.db import new_id, utcnow
from control_plane.errors import Conflict, NotFound
from control_plane.executions.summaries import executions_this_month, latest_executions
from control_plane.flows.content import FlowContent, StoredContent, derive_content, written_as
from control_plane.flows.models import Flow, FlowSource, FlowVersion
from control_plane.flows.schemas import FlowOut, FlowWrite
from control_plane.triggers.models import WebhookToken

MAX_VERSION_NUMBER = 2**31 - 1  # versions are numbered 1, 2, ... in a 32-bit column


@dataclass(frozen=True)
class FlowRecord:
    flow: Flow
    version: int  # number of the current version


@dataclass(frozen=True)
class ExecutionSummary:
    last_execution: dict[str, Any] | None
    executions_this_month: int


async def list_flows(session: AsyncSession, principal: Principal) -> list[FlowRecord]:
    rows = await session.execute(
        _flows_with_version(principal).order_by(Flow.created_at.desc(), Flow.id.desc())
    )
    return [FlowRecord(flow=flow, version=number or 0) for flow, number in rows]


async def get_flow(session: AsyncSession, principal: Principal, flow_id: str) -> FlowRecord:
    row = (await session.execute(_flows_with_version(principal).where(Flow.id == flow_id))).first()
    if row is None:
        raise _flow_not_found(flow_id)
    flow, number = row
    return FlowRecord(flow=flow, version=number or 0)


async def create_flow(
    session: AsyncSession, principal: Principal, request: FlowWrite
) -> FlowRecord:
    await _check_quota(session, principal)  # early, so a tenant at its limit hears that first
    content = await asyncio.to_thread(derive_content, request, None)
    # A no-op write to the tenant row serializes this tenant's creates (quota and names) on
    # both databases: a row lock on Postgres, the write lock on SQLite (where FOR UPDATE does
    # nothing and a read does not begin the transaction). Checked again under the lock.
    await session.execute(
        update(Tenant).where(Tenant.id == principal.tenant_id).values(tier=Tenant.tier)
    )
    await _check_quota(session, principal)
    await _ensure_name_free(session, principal.tenant_id, content.name, flow_id=None)

    now = utcnow()
    flow = Flow(
        id=new_id(),
        tenant_id=principal.tenant_id,
        name=content.name,
        description=content.description,
        canvas_state=content.canvas_state,
        organism_yaml=content.organism_yaml,
        desired_state="stopped",
        status="stopped",
        history_level=request.history_level or "full",
        created_at=now,
        updated_at=now,
    )
    session.add(flow)
    await _flush_or_conflict(session, content.name)
    version = await _add_version(session, flow, content, number=1)
    await _keep_source(session, flow.id, request.organism_yaml, content.content_hash)
    return FlowRecord(flow=flow, version=version.number)


async def update_flow(
    session: AsyncSession, principal: Principal, flow_id: str, request: FlowWrite
) -> FlowRecord:
    """Apply the fields sent. A new version is written only when the canonical organism
    changed; a change of layout alone updates the flow's canvas without a version."""
    flow = await session.scalar(_own_flows(principal).where(Flow.id == flow_id).with_for_update())
    if flow is None:
        raise _flow_not_found(flow_id)
    current = (
        await session.get(FlowVersion, flow.current_version_id) if flow.current_version_id else None
    )
    stored = StoredContent(
        name=flow.name,
        description=flow.description,
        organism_yaml=flow.organism_yaml,
        canvas_state=flow.canvas_state,
    )
    content = await asyncio.to_thread(derive_content, request, stored)
    if content.name != flow.name:
        await _ensure_name_free(session, principal.tenant_id, content.name, flow_id=flow.id)

    if request.history_level is not None and request.history_level != flow.history_level:
        flow.history_level = request.history_level
        flow.updated_at = utcnow()
    organism_changed = current is None or content.content_hash != current.content_hash
    await _keep_source(session, flow.id, request.organism_yaml, content.content_hash)
    if not organism_changed and content.canvas_state == flow.canvas_state:
        return FlowRecord(flow=flow, version=current.number if current else 0)
    flow.name = content.name
    flow.description = content.description
    flow.organism_yaml = content.organism_yaml
    flow.canvas_state = content.canvas_state
    flow.updated_at = utcnow()
    await _flush_or_conflict(session, content.name)
    if organism_changed:
        latest = await session.scalar(
            select(func.max(FlowVersion.number)).where(FlowVersion.flow_id == flow.id)
        )
        current = await _add_version(session, flow, content, number=(latest or 0) + 1)
    assert current is not None
    return FlowRecord(flow=flow, version=current.number)


async def delete_flow(session: AsyncSession, principal: Principal, flow_id: str) -> None:
    """Delete a flow; its versions go with it (ON DELETE CASCADE)."""
    result = await session.execute(
        delete(Flow)
        .where(Flow.id == flow_id, Flow.tenant_id == principal.tenant_id)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise _flow_not_found(flow_id)
    await release_after_delete(session, principal.tenant_id)  # room for an over-plan flow


async def list_versions(
    session: AsyncSession, principal: Principal, flow_id: str
) -> list[FlowVersion]:
    await _ensure_own_flow(session, principal, flow_id)
    versions = await session.scalars(
        select(FlowVersion)
        .where(FlowVersion.flow_id == flow_id)
        .order_by(FlowVersion.number.desc())
    )
    return list(versions)


async def get_version(
    session: AsyncSession, principal: Principal, flow_id: str, number: int
) -> FlowVersion:
    await _ensure_own_flow(session, principal, flow_id)
    version = None
    if 1 <= number <= MAX_VERSION_NUMBER:
        version = await session.scalar(
            select(FlowVersion).where(FlowVersion.flow_id == flow_id, FlowVersion.number == number)
        )
    if version is None:
        raise NotFound(f"flow {flow_id} has no version {number}")
    return version


async def restore_version(
    session: AsyncSession, principal: Principal, flow_id: str, number: int
) -> FlowRecord:
    """Save an old version's organism and canvas as the flow's newest version (history is never
    rewritten). Restoring the current content changes nothing."""
    version = await get_version(session, principal, flow_id, number)
    request = FlowWrite(organism_yaml=version.organism_yaml, canvas_state=version.canvas_state)
    return await update_flow(session, principal, flow_id, request)


async def execution_summaries(
    session: AsyncSession, tenant_id: str, flow_ids: list[str]
) -> dict[str, ExecutionSummary]:
    """Each flow's latest execution and its executions this calendar month: the one place
    flows learn about executions."""
    latest = await latest_executions(session, tenant_id, flow_ids)
    counts = await executions_this_month(session, tenant_id, flow_ids)
    return {
        flow_id: ExecutionSummary(
            last_execution=latest.get(flow_id), executions_this_month=counts.get(flow_id, 0)
        )
        for flow_id in flow_ids
    }


async def present_flows(
    session: AsyncSession,
    principal: Principal,
    records: list[FlowRecord],
    base_url: str,
    reveal: Callable[[str], str] | None = None,
) -> list[FlowOut]:
    """Flows as the API shows them, with their run state, webhook and execution figures.
    `reveal` decrypts stored webhook tokens, so the owner sees the full webhook URL."""
    flow_ids = [record.flow.id for record in records]
    summaries = await execution_summaries(session, principal.tenant_id, flow_ids)
    tokens = await _webhook_tokens(session, flow_ids, reveal)
    sources = await _sources(session, records)
    executions_limit = tier_limits(principal.tier).executions_per_month
    return [
        FlowOut(
            id=record.flow.id,
            name=record.flow.name,
            description=record.flow.description,
            canvas_state=record.flow.canvas_state,
            organism_yaml=record.flow.organism_yaml,
            organism_source=sources.get(record.flow.id, record.flow.organism_yaml),
            version=record.version,
            status=record.flow.status,
            status_reason=record.flow.status_reason,
            history_level=record.flow.history_level,
            webhook_url=(
                webhook_url(base_url, record.flow.id, tokens.get(record.flow.id))
                if record.flow.webhook_token_hash
                else None
            ),
            webhook_token_known=record.flow.id in tokens,
            last_execution=summaries[record.flow.id].last_execution,
            executions_this_month=summaries[record.flow.id].executions_this_month,
            executions_limit=executions_limit,
            created_at=record.flow.created_at,
            updated_at=record.flow.updated_at,
        )
        for record in records
    ]


async def _keep_source(
    session: AsyncSession, flow_id: str, organism_yaml: str | None, content_hash: str
) -> None:
    """Keep YAML as its author sent it; a save from the canvas alone leaves the old text, which
    stops being shown once the organism changes (its hash no longer matches)."""
    if organism_yaml is None or not await asyncio.to_thread(
        written_as, organism_yaml, content_hash
    ):
        return
    source = await session.get(FlowSource, flow_id)
    if source is None:
        session.add(
            FlowSource(flow_id=flow_id, organism_source=organism_yaml, content_hash=content_hash)
        )
    else:
        source.organism_source, source.content_hash = organism_yaml, content_hash
    await session.flush()


async def _sources(session: AsyncSession, records: list[FlowRecord]) -> dict[str, str]:
    """Each flow's YAML as written, where it still describes the flow's current organism."""
    if not records:
        return {}
    current = {record.flow.id: record.flow.current_version_id for record in records}
    rows = await session.execute(
        select(FlowSource.flow_id, FlowSource.organism_source, FlowVersion.content_hash)
        .join(FlowVersion, FlowVersion.flow_id == FlowSource.flow_id)
        .where(FlowSource.flow_id.in_(current), FlowSource.content_hash == FlowVersion.content_hash)
        .where(FlowVersion.id.in_([value for value in current.values() if value]))
    )
    return {flow_id: text for flow_id, text, _ in rows}


async def _webhook_tokens(
    session: AsyncSession, flow_ids: list[str], reveal: Callable[[str], str] | None
) -> dict[str, str]:
    if reveal is None or not flow_ids:
        return {}
    rows = await session.execute(
        select(WebhookToken.flow_id, WebhookToken.token_encrypted).where(
            WebhookToken.flow_id.in_(flow_ids)
        )
    )
    tokens: dict[str, str] = {}
    for flow_id, sealed in rows:
        try:
            tokens[flow_id] = reveal(sealed)
        except RuntimeError:  # sealed under another secrets key: show the URL without it
            continue
    return tokens


def webhook_url(base_url: str, flow_id: str, token: str | None = None) -> str:
    """The flow's webhook endpoint, with its secret token when it is known (tokens issued
    before they were kept encrypted are not)."""
    url = f"{base_url.rstrip('/')}/api/triggers/{flow_id}/webhook"
    return f"{url}/{token}" if token else url


def _own_flows(principal: Principal) -> Select[Flow]:
    return select(Flow).where(Flow.tenant_id == principal.tenant_id)


def _flows_with_version(principal: Principal) -> Select[Flow, int]:
    return (
        select(Flow, FlowVersion.number)
        .outerjoin(FlowVersion, FlowVersion.id == Flow.current_version_id)
        .where(Flow.tenant_id == principal.tenant_id)
    )


async def _check_quota(session: AsyncSession, principal: Principal) -> None:
    existing = await session.scalar(
        select(func.count()).select_from(Flow).where(Flow.tenant_id == principal.tenant_id)
    )
    check_quota(principal.tier, "flows", existing or 0)


async def _ensure_own_flow(session: AsyncSession, principal: Principal, flow_id: str) -> None:
    found = await session.scalar(
        select(Flow.id).where(Flow.id == flow_id, Flow.tenant_id == principal.tenant_id)
    )
    if found is None:
        raise _flow_not_found(flow_id)


async def _ensure_name_free(
    session: AsyncSession, tenant_id: str, name: str, *, flow_id: str | None
) -> None:
    query = select(Flow.id).where(Flow.tenant_id == tenant_id, Flow.name == name)
    if flow_id is not None:
        query = query.where(Flow.id != flow_id)
    if await session.scalar(query) is not None:
        raise _name_taken(name)


async def _flush_or_conflict(session: AsyncSession, name: str) -> None:
    try:
        await session.flush()
    except IntegrityError as error:  # a concurrent save took the name first
        raise _name_taken(name) from error


async def _add_version(
    session: AsyncSession, flow: Flow, content: FlowContent, *, number: int
) -> FlowVersion:
    version = FlowVersion(
        id=new_id(),
        flow_id=flow.id,
        number=number,
        organism_yaml=content.organism_yaml,
        canvas_state=content.canvas_state,
        content_hash=content.content_hash,
        created_at=utcnow(),
    )
    session.add(version)
    await session.flush()
    flow.current_version_id = version.id
    await session.flush()
    return version


def _name_taken(name: str) -> Conflict:
    return Conflict(f"a flow named {name!r} already exists in this workspace; choose another name")


def _flow_not_found(flow_id: str) -> NotFound:
    return NotFound(f"flow {flow_id} not found")
