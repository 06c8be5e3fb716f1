"""Per-flow history level: `full` (the default) keeps every execution with its steps,
`summary` every execution without its steps (but its token usage), `errors` only failed
executions (with their steps); the API sets it and refuses anything else naming the field."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from control_plane.executions.models import Execution, ExecutionStep
from control_plane.flows.models import Flow
from pump.events import Event
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.executions.test_executions_recorder import (
    fetch,
    one_step_events,
    queued_execution,
    running_flow,
)
from tests.control_plane.triggers.triggers_helpers import make_flow


def failed_events(execution_id: str) -> list[Event]:
    return [
        Event(type="execution.started", execution_id=execution_id, data={}),
        Event(
            type="step.started",
            execution_id=execution_id,
            step=1,
            listener="shape",
            data={"handler": "builtin.http", "input": {}},
        ),
        Event(
            type="step.failed",
            execution_id=execution_id,
            step=1,
            listener="shape",
            data={"error": "refused", "reason": "handler_error"},
        ),
        Event(
            type="execution.failed",
            execution_id=execution_id,
            data={"error": "refused", "reason": "handler_error", "steps": 1},
        ),
    ]


async def test_the_api_sets_the_level_and_refuses_unknown_ones(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    flow = await make_flow(client, start=False)
    url, headers = f"/api/flows/{flow.flow_id}", flow.account.headers
    assert (await client.get(url, headers=headers)).json()["history_level"] == "full"
    changed = await client.put(url, json={"history_level": "errors"}, headers=headers)
    assert changed.status_code == 200, changed.text
    assert changed.json()["history_level"] == "errors"
    assert (await client.get(url, headers=headers)).json()["history_level"] == "errors"
    refused = await client.put(url, json={"history_level": "none"}, headers=headers)
    assert refused.status_code == 422
    assert "history_level" in refused.text


async def test_summary_keeps_executions_and_usage_without_steps(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    setup, tenant_id, flow_id = await running_flow(app, client)
    await _level(app, flow_id, "summary")
    plain = await queued_execution(app, tenant_id, flow_id)
    with_usage = await queued_execution(app, tenant_id, flow_id)
    await setup.publish(one_step_events(plain))
    await setup.publish(one_step_events(with_usage, usage={"total_tokens": 9}))
    await setup.record_all()

    execution, steps = await fetch(app, plain)
    assert (execution.status, execution.outputs, execution.steps) == ("succeeded", [{"n": 1}], 1)
    assert steps == []
    execution, steps = await fetch(app, with_usage)
    assert execution.usage == {"total_tokens": 9}
    assert [step.usage for step in steps] == [{"total_tokens": 9}], "only steps with usage"


async def test_errors_keeps_only_failed_executions(app: FastAPI, client: httpx.AsyncClient) -> None:
    setup, tenant_id, flow_id = await running_flow(app, client)
    await _level(app, flow_id, "errors")
    succeeded = await queued_execution(app, tenant_id, flow_id)
    across_batches = await queued_execution(app, tenant_id, flow_id)
    failed = await queued_execution(app, tenant_id, flow_id)
    await setup.publish(one_step_events(succeeded))
    await setup.publish(one_step_events(across_batches)[:2])  # steps recorded first ...
    await setup.publish(failed_events(failed))
    await setup.record_all()
    await setup.publish(one_step_events(across_batches)[2:])  # ... then it succeeds
    await setup.record_all()

    async with sessions(app)() as session:
        kept = set(await session.scalars(select(Execution.id).where(Execution.flow_id == flow_id)))
        steps = await session.scalar(
            select(func.count())
            .select_from(ExecutionStep)
            .where(ExecutionStep.execution_id.in_([succeeded, across_batches]))
        )
    assert kept == {failed}
    assert steps == 0
    execution, [step] = await fetch(app, failed)
    assert (execution.status, step.status) == ("failed", "failed")


async def _level(app: FastAPI, flow_id: str, level: str) -> None:
    async with sessions(app)() as session, session.begin():
        await session.execute(update(Flow).where(Flow.id == flow_id).values(history_level=level))
