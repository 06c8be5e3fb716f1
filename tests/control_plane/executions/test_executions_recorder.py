"""The recorder against events written to the stream exactly as a pump writes them: steps,
outputs, failures, truncation, usage, redelivery and events of unknown executions."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select, update

from control_plane.db import new_id, utcnow
from control_plane.executions.models import Execution, ExecutionStep
from control_plane.executions.recorder import GROUP, Recorder
from control_plane.flows.models import Flow
from control_plane.metrics import app_metrics
from pump.events import Event
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.triggers.triggers_helpers import make_flow


async def queued_execution(app: FastAPI, tenant_id: str, flow_id: str) -> str:
    execution_id = new_id()
    async with sessions(app)() as session, session.begin():
        session.add(
            Execution(
                id=execution_id,
                tenant_id=tenant_id,
                flow_id=flow_id,
                status="queued",
                trigger="inbound",
                trigger_kind="webhook",
                target="shape",
                input={"n": 1},
                input_truncated=False,
                outputs_truncated=False,
                steps=0,
                created_at=utcnow(),
            )
        )
    return execution_id


def one_step_events(execution_id: str, *, usage: dict[str, int] | None = None) -> list[Event]:
    completed: dict[str, Any] = {"output": {"n": 1}, "duration_ms": 1.5, "routed_to": []}
    if usage:
        completed["usage"] = usage
    return [
        Event(
            type="execution.started",
            execution_id=execution_id,
            data={"trigger": "inbound", "target": "shape", "payload": {"n": 1}},
        ),
        Event(
            type="step.started",
            execution_id=execution_id,
            step=1,
            listener="shape",
            data={"listener": "shape", "handler": "builtin.output", "input": {"n": 1}},
        ),
        Event(
            type="step.completed",
            execution_id=execution_id,
            step=1,
            listener="shape",
            data=completed,
        ),
        Event(
            type="execution.completed",
            execution_id=execution_id,
            data={"outputs": [{"n": 1}], "steps": 1, "duration_ms": 2.0},
        ),
    ]


class OneFlowRecorder(Recorder):
    """Reads only the test's own flow: a pump another test left running keeps writing to its
    stream, so a recorder over every running flow would never run out of events."""

    def __init__(self, app: FastAPI, stream: str) -> None:
        super().__init__(
            app.state.engine, app.state.redis.client, app_metrics(app), app.state.settings
        )
        self.stream = stream

    async def _discover(self) -> set[str]:
        return {self.stream}


class Setup:
    def __init__(self, app: FastAPI, tenant_id: str, flow_id: str) -> None:
        self.app = app
        self.keys = FlowKeys(tenant_id, flow_id)
        self.recorder = OneFlowRecorder(app, self.keys.events)

    async def publish(self, events: list[Event]) -> None:
        for event in events:
            await self.app.state.redis.client.xadd(self.keys.events, event.encode())

    async def record_all(self) -> None:
        try:
            await self.recorder.refresh()
            while await self.recorder.round():
                pass
        finally:
            await self.recorder.close()


async def running_flow(app: FastAPI, client: httpx.AsyncClient) -> tuple[Setup, str, str]:
    flow = await make_flow(client, start=False)
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow).where(Flow.id == flow.flow_id).values(desired_state="running")
        )
    return Setup(app, flow.account.tenant_id, flow.flow_id), flow.account.tenant_id, flow.flow_id


async def fetch(app: FastAPI, execution_id: str) -> tuple[Execution, list[ExecutionStep]]:
    async with sessions(app)() as session:
        execution = await session.get(Execution, execution_id)
        steps = await session.scalars(
            select(ExecutionStep).where(ExecutionStep.execution_id == execution_id)
        )
        assert execution is not None
        return execution, list(steps)


async def test_a_finished_execution_is_recorded_with_steps_and_timings(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    setup, tenant_id, flow_id = await running_flow(app, client)
    execution_id = await queued_execution(app, tenant_id, flow_id)
    await setup.publish(
        one_step_events(execution_id, usage={"prompt_tokens": 7, "total_tokens": 9})
    )
    await setup.record_all()

    execution, steps = await fetch(app, execution_id)
    assert execution.status == "succeeded"
    assert execution.outputs == [{"n": 1}]
    assert execution.steps == 1
    assert execution.usage == {"prompt_tokens": 7, "total_tokens": 9}
    assert execution.started_at and execution.first_step_at and execution.finished_at
    [step] = steps
    assert (step.step, step.listener, step.handler, step.status) == (
        1,
        "shape",
        "builtin.output",
        "succeeded",
    )
    assert step.input == {"n": 1} and step.output == {"n": 1} and step.duration_ms == 1.5
    pending = await app.state.redis.client.xpending(setup.keys.events, GROUP)
    assert pending["pending"] == 0, "acknowledged after the write"


async def test_redelivery_and_a_rerun_after_a_pump_crash_change_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    setup, tenant_id, flow_id = await running_flow(app, client)
    execution_id = await queued_execution(app, tenant_id, flow_id)
    events = one_step_events(execution_id)
    await setup.publish(events)
    await setup.record_all()
    # A pump that died after writing the final event runs the execution again; the recorder
    # sees every event twice, in separate batches.
    await setup.publish(events[:2])
    await setup.record_all()
    execution, steps = await fetch(app, execution_id)
    assert execution.status == "succeeded", "running never overwrites a final status"
    assert steps[0].status == "succeeded"
    await setup.publish(events)
    await setup.record_all()
    execution, steps = await fetch(app, execution_id)
    assert execution.status == "succeeded" and len(steps) == 1


async def test_failures_are_recorded_with_their_reason(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    setup, tenant_id, flow_id = await running_flow(app, client)
    execution_id = await queued_execution(app, tenant_id, flow_id)
    await setup.publish(
        [
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
                data={"error": "connection refused", "reason": "handler_error", "duration_ms": 3},
            ),
            Event(
                type="execution.failed",
                execution_id=execution_id,
                data={"error": "connection refused", "reason": "handler_error", "steps": 1},
            ),
        ]
    )
    await setup.record_all()
    execution, [step] = await fetch(app, execution_id)
    assert (execution.status, execution.reason, execution.error) == (
        "failed",
        "handler_error",
        "connection refused",
    )
    assert execution.outputs is None
    assert (step.status, step.reason, step.error) == (
        "failed",
        "handler_error",
        "connection refused",
    )


async def test_large_payloads_are_truncated_to_the_caps(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    setup, tenant_id, flow_id = await running_flow(app, client)
    execution_id = await queued_execution(app, tenant_id, flow_id)
    big = {"text": "x" * (app.state.settings.execution_step_max_bytes + 10)}
    events = one_step_events(execution_id)
    events[1].data["input"] = big
    events[3].data["outputs"] = [{"text": "y" * (app.state.settings.execution_outputs_max_bytes)}]
    await setup.publish(events)
    await setup.record_all()
    execution, [step] = await fetch(app, execution_id)
    assert step.truncated and step.input["_truncated"] is True
    assert len(step.input["preview"]) <= app.state.settings.execution_step_max_bytes
    assert execution.outputs_truncated and execution.outputs["_truncated"] is True


async def test_events_of_unknown_executions_are_acknowledged_and_dropped(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    setup, _, _ = await running_flow(app, client)
    await setup.publish(one_step_events(new_id()))
    await setup.publish([Event(type="log", execution_id=new_id(), data={"message": "hi"})])
    await app.state.redis.client.xadd(setup.keys.events, {"garbage": "1"})
    await setup.record_all()
    pending = await app.state.redis.client.xpending(setup.keys.events, GROUP)
    assert pending["pending"] == 0
