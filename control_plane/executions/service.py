"""Execution history: list a flow's executions, show one with its steps, retry one.

Every query is filtered by the principal's tenant: another tenant's execution is "not found"."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.errors import Conflict, InvalidInput, NotFound
from control_plane.executions.models import EXECUTION_STATUSES, Execution, ExecutionStep
from control_plane.executions.schemas import ExecutionDetail, ExecutionOut, ExecutionPage, StepOut
from control_plane.flows import service as flows_service
from control_plane.triggers.admission import Admitted, TriggerRequest
from control_plane.triggers.catalog import TriggerSpec
from control_plane.triggers.service import manual_flow, submit
from control_plane.waits.models import ExecutionWait
from control_plane.waits.schemas import WaitOut

MAX_PAGE = 200
TRIGGER_KINDS = ("webhook", "manual", "schedule", "retry")


async def list_executions(
    session: AsyncSession,
    principal: Principal,
    flow_id: str | None,
    *,
    status: str | None,
    limit: int,
    cursor: str | None,
    trigger_kind: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> ExecutionPage:
    """Newest first, `limit` per page; `cursor` continues after the previous page (keyset
    pagination on (created_at, id), stable while new executions arrive). Without `flow_id`:
    the executions of every flow of the workspace (the `/runs` page)."""
    if flow_id is not None:
        await flows_service.get_flow(session, principal, flow_id)
    if status is not None and status not in EXECUTION_STATUSES:
        raise InvalidInput(
            f"unknown status {status!r}; use one of {', '.join(EXECUTION_STATUSES)}",
            problems=[{"path": "status", "message": "unknown status"}],
        )
    if trigger_kind is not None and trigger_kind not in TRIGGER_KINDS:
        raise InvalidInput(
            f"unknown trigger kind {trigger_kind!r}; use one of {', '.join(TRIGGER_KINDS)}",
            problems=[{"path": "trigger_kind", "message": "unknown trigger kind"}],
        )
    since, until = _as_utc(since), _as_utc(until)  # a time without a zone is UTC
    if since is not None and until is not None and since > until:
        message = "since is after until: the time range is empty"
        raise InvalidInput(message, problems=[{"path": "since", "message": message}])
    limit = max(1, min(limit, MAX_PAGE))
    query = select(Execution).where(Execution.tenant_id == principal.tenant_id)
    if flow_id is not None:
        query = query.where(Execution.flow_id == flow_id)
    if status is not None:
        query = query.where(Execution.status == status)
    if trigger_kind is not None:
        query = query.where(Execution.trigger_kind == trigger_kind)
    if since is not None:
        query = query.where(Execution.created_at >= since)
    if until is not None:
        query = query.where(Execution.created_at <= until)
    if cursor is not None:
        created_at, execution_id = decode_cursor(cursor)
        query = query.where(
            or_(
                Execution.created_at < created_at,
                and_(Execution.created_at == created_at, Execution.id < execution_id),
            )
        )
    rows = list(
        await session.scalars(
            query.order_by(Execution.created_at.desc(), Execution.id.desc()).limit(limit + 1)
        )
    )
    page, more = rows[:limit], len(rows) > limit
    waits = await waiting_for(session, [item.id for item in page if item.status == "waiting"])
    return ExecutionPage(
        items=[execution_out(execution, waits.get(execution.id)) for execution in page],
        next_cursor=encode_cursor(page[-1]) if more and page else None,
    )


def _as_utc(moment: datetime | None) -> datetime | None:
    return moment.replace(tzinfo=UTC) if moment is not None and moment.tzinfo is None else moment


async def get_execution(
    session: AsyncSession, principal: Principal, execution_id: str
) -> ExecutionDetail:
    execution = await _own_execution(session, principal, execution_id)
    steps = await session.scalars(
        select(ExecutionStep)
        .where(ExecutionStep.execution_id == execution_id)
        .order_by(ExecutionStep.step)
    )
    waits = await waiting_for(session, [execution.id] if execution.status == "waiting" else [])
    return ExecutionDetail(
        **execution_out(execution, waits.get(execution.id)).model_dump(),
        target=execution.target,
        input=execution.input,
        input_truncated=execution.input_truncated,
        outputs=execution.outputs,
        outputs_truncated=execution.outputs_truncated,
        usage=execution.usage,
        idempotency_key=execution.idempotency_key,
        first_step_at=execution.first_step_at,
        steps=[StepOut.model_validate(step) for step in steps],
    )


async def retry_execution(
    session: AsyncSession, app: FastAPI, principal: Principal, execution_id: str
) -> Admitted:
    """A new execution with the same trigger and input (`retry_of` names the original); the
    flow must accept triggers like any other."""
    original = await _own_execution(session, principal, execution_id)
    if original.input_truncated:
        raise Conflict(
            f"execution {execution_id} cannot be retried: its input was larger than the "
            "stored size cap and only a preview was kept"
        )
    flow = await manual_flow(app, principal, original.flow_id)
    request = TriggerRequest(
        flow=flow,
        trigger=TriggerSpec(
            name=original.trigger, kind=original.trigger_kind, target=original.target
        ),
        trigger_kind="retry",
        payload=original.input,
        retry_of=original.id,
    )
    return await submit(app, request)


async def execution_status(session: AsyncSession, execution_id: str) -> str | None:
    status: str | None = await session.scalar(
        select(Execution.status).where(Execution.id == execution_id)
    )
    return status


async def waiting_for(session: AsyncSession, execution_ids: list[str]) -> dict[str, WaitOut]:
    """What each of these waiting executions waits for."""
    if not execution_ids:
        return {}
    rows = await session.scalars(
        select(ExecutionWait).where(
            ExecutionWait.execution_id.in_(execution_ids),
            ExecutionWait.status.in_(("pending", "resuming")),
        )
    )
    return {row.execution_id: WaitOut.model_validate(row) for row in rows}


def execution_out(execution: Execution, wait: WaitOut | None = None) -> ExecutionOut:
    return ExecutionOut(
        id=execution.id,
        flow_id=execution.flow_id,
        status=execution.status,
        trigger=execution.trigger,
        trigger_kind=execution.trigger_kind,
        retry_of=execution.retry_of,
        error=execution.error,
        reason=execution.reason,
        step_count=execution.steps,
        duration_ms=execution.duration_ms,
        created_at=execution.created_at,
        started_at=execution.started_at,
        finished_at=execution.finished_at,
        waiting_for=wait,
        rerun_of=execution.rerun_of,
        rerun_from_step=execution.rerun_from_step,
        callback_status=execution.callback_status,
        callback_error=execution.callback_error,
    )


def encode_cursor(execution: Execution) -> str:
    raw = f"{execution.created_at.isoformat()}|{execution.id}"
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, execution_id = raw.split("|", 1)
        return datetime.fromisoformat(moment), execution_id
    except (ValueError, binascii.Error, UnicodeDecodeError) as error:
        raise InvalidInput(
            "cursor is not one this API returned; pass next_cursor unchanged",
            problems=[{"path": "cursor", "message": "malformed cursor"}],
        ) from error


async def _own_execution(
    session: AsyncSession, principal: Principal, execution_id: str
) -> Execution:
    execution = await session.scalar(
        select(Execution).where(
            Execution.id == execution_id, Execution.tenant_id == principal.tenant_id
        )
    )
    if execution is None:
        raise NotFound(f"execution {execution_id} not found")
    return execution


async def rerun_execution(
    session: AsyncSession, app: FastAPI, principal: Principal, execution_id: str, from_step: int
) -> Admitted:
    """A new execution (`rerun_of` the original) that begins at step `from_step`'s listener
    with the input that step recorded; the steps before it are not run again."""
    original = await _own_execution(session, principal, execution_id)
    step = await session.get(ExecutionStep, (execution_id, from_step))
    if step is None:
        raise InvalidInput(
            f"execution {execution_id} has no step {from_step}",
            problems=[{"path": "from_step", "message": "no such step"}],
        )
    if step.truncated:
        raise Conflict(
            f"step {from_step} of execution {execution_id} cannot be rerun: its input was "
            "larger than the stored size cap and only a preview was kept"
        )
    flow = await manual_flow(app, principal, original.flow_id)
    request = TriggerRequest(
        flow=flow,
        trigger=TriggerSpec(name=original.trigger, kind="rerun", target=step.listener),
        trigger_kind="rerun",
        payload=step.input,
    )
    await session.commit()
    admitted = await submit(app, request)
    async with app.state.engine.begin() as connection:
        await connection.execute(
            update(Execution)
            .where(Execution.id == admitted.execution_id)
            .values(rerun_of=execution_id, rerun_from_step=from_step)
        )
    return admitted
