"""Resuming and closing waits, exactly once across replicas.

Every decision about a wait starts with a conditional UPDATE (`status = 'pending'` → another
status): of two replicas, two API calls or a timer and an approval racing for the same wait,
exactly one changes the row and acts; the others see 0 rows and do nothing.

Resuming is claim → commit → XADD of a resume entry (the continuation and the wait step's
result) on the flow's trigger stream → `resumed`. A replica that dies between the commit and
the XADD leaves the row `resuming`; `recover_stuck` looks for the entry on the stream after
`wait_recover_seconds` and enqueues it only if it is not there (the stream keeps acknowledged
entries for two minutes, triggers/trimming.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from redis.asyncio import Redis
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from control_plane.db import utcnow
from control_plane.errors import Conflict, ControlPlaneError
from control_plane.executions.models import Execution
from control_plane.waits.models import ExecutionWait, KeptEvent
from pump.events import TriggerEntry
from pump.keys import FlowKeys

log = structlog.get_logger("control_plane.waits")


@dataclass(frozen=True)
class Decision:
    outcome: str  # resumed | timeout (to the pump) ; rejected | timeout | cancelled (closed)
    payload: Any = None
    decided_by: str | None = None
    reason: str | None = None  # closing: the execution's failure reason
    error: str | None = None


async def _claim(
    connection: AsyncConnection, wait_id: str, status: str, decision: Decision
) -> bool:
    result = await connection.execute(
        update(ExecutionWait)
        .where(ExecutionWait.id == wait_id, ExecutionWait.status == "pending")
        .values(
            status=status,
            outcome=decision.outcome,
            resume_payload=decision.payload,
            decided_by=decision.decided_by,
            claimed_at=utcnow(),
        )
    )
    return bool(result.rowcount)


class _Undo(Exception):
    """Roll the claim's transaction back."""


async def resume(
    app: FastAPI, wait_id: str, decision: Decision, flow_id: str, kept_event_id: str | None = None
) -> bool:
    """Send the waiting execution back to its pump; False if the wait was decided already
    (or, with `kept_event_id`, if that kept event was taken: it is deleted with the claim).
    An idle flow is woken first; a stopped one is a Conflict (the wait stays pending)."""
    from control_plane.triggers.runtime import trigger_runtime
    from control_plane.triggers.service import ensure_flow_accepting

    engine: AsyncEngine = app.state.engine
    redis: Redis = app.state.redis.client
    flow = await trigger_runtime(app).catalog.get(flow_id, max_age=1.0)
    if flow is not None and flow.desired_state != "running":
        raise Conflict(f"flow {flow_id} is stopped: start it to resume its waiting executions")
    if flow is None or not flow.hot:
        await ensure_flow_accepting(app, flow_id)  # wakes an idle flow
    try:
        async with engine.begin() as connection:
            if kept_event_id is not None:
                taken = await connection.execute(
                    delete(KeptEvent).where(KeptEvent.id == kept_event_id)
                )
                if not taken.rowcount:
                    return False
            if not await _claim(connection, wait_id, "resuming", decision):
                raise _Undo
            wait = (
                await connection.execute(select(ExecutionWait).where(ExecutionWait.id == wait_id))
            ).one()
    except _Undo:
        return False
    await enqueue(engine, redis, wait._mapping)
    return True


async def enqueue(engine: AsyncEngine, redis: Redis, wait: Any) -> None:
    """XADD the resume entry of a claimed wait and mark it resumed."""
    keys = FlowKeys(wait["tenant_id"], wait["flow_id"])
    await redis.xadd(keys.triggers, resume_entry(wait).encode())  # type: ignore[arg-type]
    async with engine.begin() as connection:
        await connection.execute(
            update(ExecutionWait)
            .where(ExecutionWait.id == wait["id"], ExecutionWait.status == "resuming")
            .values(status="resumed", resumed_at=utcnow())
        )


def resume_entry(wait: Any) -> TriggerEntry:
    return TriggerEntry(
        execution_id=wait["execution_id"],
        trigger="resume",
        target=wait["listener"],
        payload=wait["resume_payload"],
        resume={
            "wait_id": wait["id"],
            "step": wait["step"],
            "listener": wait["listener"],
            "outcome": "timeout" if wait["outcome"] == "timeout" else "resumed",
            "continuation": wait["continuation"],
        },
    )


async def close(
    engine: AsyncEngine, wait_id: str, decision: Decision, *, status: str = "failed"
) -> bool:
    """End the waiting execution without resuming it (rejected, timed out with nowhere to go,
    cancelled); False if the wait was decided already."""
    async with engine.begin() as connection:
        if not await _claim(connection, wait_id, "closed", decision):
            return False
        execution_id = str(
            await connection.scalar(
                select(ExecutionWait.execution_id).where(ExecutionWait.id == wait_id)
            )
        )
        await finish_execution(
            connection,
            execution_id,
            status=status,
            reason=decision.reason,
            error=decision.error,
            from_statuses=("waiting",),
        )
    return True


async def finish_execution(
    connection: AsyncConnection,
    execution_id: str,
    *,
    status: str,
    reason: str | None,
    error: str | None,
    from_statuses: tuple[str, ...],
) -> bool:
    """End an execution the control plane decided about (no pump event will); owes its
    completion callbacks."""
    result = await connection.execute(
        update(Execution)
        .where(Execution.id == execution_id, Execution.status.in_(from_statuses))
        .values(status=status, reason=reason, error=error, finished_at=utcnow())
    )
    if not result.rowcount:
        return False
    from control_plane.callbacks.outbox import owe

    await connection.run_sync(owe, [execution_id])
    return True


def timeout_decision(wait: Any) -> tuple[Decision, bool]:
    """(the decision, whether it resumes) for a wait whose timeout passed."""
    if wait["on_timeout"]:
        return Decision("timeout", payload=wait["input"]), True
    seconds = ""
    if wait["timeout_at"] is not None and wait["created_at"] is not None:
        seconds = f" after {(wait['timeout_at'] - wait['created_at']).total_seconds():g} s"
    return (
        Decision(
            "timeout",
            reason="wait_timeout",
            error=f"the {wait['kind']} wait of listener {wait['listener']!r} timed out{seconds}",
        ),
        False,
    )


async def fire_due(app: FastAPI, limit: int = 100) -> int:
    """Resume timers that are due and act on timeouts that passed; returns how many acted."""
    engine: AsyncEngine = app.state.engine
    now = utcnow()
    async with engine.connect() as connection:
        due = (
            await connection.execute(
                select(ExecutionWait)
                .where(ExecutionWait.status == "pending", ExecutionWait.due_at <= now)
                .order_by(ExecutionWait.due_at)
                .limit(limit)
            )
        ).all()
    acted = 0
    for row in due:
        wait = row._mapping
        try:
            if wait["fire_at"] is not None and wait["fire_at"] <= now:
                decision = Decision("resumed", wait["input"])
                acted += await resume(app, wait["id"], decision, wait["flow_id"])
                continue
            decision, resumes = timeout_decision(wait)
            if resumes:
                acted += await resume(app, wait["id"], decision, wait["flow_id"])
            else:
                acted += await close(engine, wait["id"], decision)
        except ControlPlaneError as refused:  # a stopped flow: the wait stays pending
            log.info("waits.resume_deferred", wait_id=wait["id"], reason=refused.detail)
    return acted


async def recover_stuck(app: FastAPI, after_seconds: float) -> int:
    """Enqueue the resume entries of waits claimed longer than `after_seconds` ago whose
    replica died before putting them on the stream."""
    engine: AsyncEngine = app.state.engine
    redis: Redis = app.state.redis.client
    cutoff = utcnow() - timedelta(seconds=after_seconds)
    async with engine.connect() as connection:
        stuck = (
            await connection.execute(
                select(ExecutionWait)
                .where(ExecutionWait.status == "resuming", ExecutionWait.claimed_at < cutoff)
                .limit(100)
            )
        ).all()
    recovered = 0
    for row in stuck:
        wait = row._mapping
        if not await _on_stream(redis, wait):
            log.warning("waits.resume_reenqueued", wait_id=wait["id"])
            await enqueue(engine, redis, wait)
            recovered += 1
        else:
            await enqueue_marked(engine, wait["id"])
    return recovered


async def enqueue_marked(engine: AsyncEngine, wait_id: str) -> None:
    async with engine.begin() as connection:
        await connection.execute(
            update(ExecutionWait)
            .where(ExecutionWait.id == wait_id, ExecutionWait.status == "resuming")
            .values(status="resumed", resumed_at=utcnow())
        )


async def _on_stream(redis: Redis, wait: Any) -> bool:
    keys = FlowKeys(wait["tenant_id"], wait["flow_id"])
    claimed: datetime = wait["claimed_at"]
    start = f"{int(claimed.timestamp() * 1000) - 1000}-0"
    entries = await redis.xrange(keys.triggers, min=start, max="+", count=10_000)
    marker = f'"wait_id":"{wait["id"]}"'
    for _entry_id, fields in entries or []:
        resume_field = (fields or {}).get("resume") or (fields or {}).get(b"resume") or ""
        text = resume_field.decode() if isinstance(resume_field, bytes) else resume_field
        if marker in text:
            return True
    return False
