"""Hole 4: a pump's events are untrusted. A pump writing, with its own ACL credential, an
`execution.failed` for another tenant's execution into its own events stream must change
nothing of that execution; malformed events must not stop the recorder for anyone."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI

from control_plane.pumps.acl import PumpCredentials
from pump.events import MAX_FOLDED, Event
from tests.control_plane.executions.test_executions_recorder import (
    Setup,
    fetch,
    one_step_events,
    queued_execution,
    running_flow,
)
from tests.control_plane.triggers.triggers_helpers import make_flow, mark_running

FORGED_STEP = '<img src=x onerror="alert(document.cookie)">'


async def pump_connection(app: FastAPI, tenant_id: str, flow_id: str) -> aioredis.Redis:
    """A Redis connection as the flow's pump holds it: its per-flow ACL user."""
    credentials = PumpCredentials(app.state.redis.client, app.state.redis.url)
    url = await credentials.issue(tenant_id, flow_id)
    return aioredis.Redis.from_url(url, decode_responses=True)


async def flow_with_execution(app: FastAPI, client: httpx.AsyncClient) -> tuple[Any, Setup, str]:
    """A running flow (no pump reads it) with one queued execution."""
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    setup = Setup(app, flow.account.tenant_id, flow.flow_id)
    return flow, setup, await queued_execution(app, setup.keys.tenant_id, setup.keys.flow_id)


async def record_beside_one_good_execution(
    app: FastAPI, setup: Setup, execution_id: str, hostile: list[dict[str, Any]]
) -> dict[int, Any]:
    """Write `hostile` entries as the flow's pump, then a good execution's events; record all.
    The execution succeeded whatever came before; returns its steps by number."""
    pump = await pump_connection(app, setup.keys.tenant_id, setup.keys.flow_id)
    try:
        for fields in hostile:
            await pump.xadd(setup.keys.events, fields)  # type: ignore[arg-type]
    finally:
        await pump.aclose()
    await setup.publish(one_step_events(execution_id))
    await setup.record_all()
    execution, steps = await fetch(app, execution_id)
    assert execution.status == "succeeded" and execution.outputs == [{"n": 1}]
    return {step.step: step for step in steps}


async def test_a_forged_event_cannot_rewrite_another_tenants_execution(
    app: FastAPI, client: httpx.AsyncClient, capsys: pytest.CaptureFixture[str]
) -> None:
    victim, victim_tenant, victim_flow = await running_flow(app, client)
    attacker, attacker_tenant, attacker_flow = await running_flow(app, client)
    victim_execution = await queued_execution(app, victim_tenant, victim_flow)
    await victim.publish(one_step_events(victim_execution))
    await victim.record_all()

    pump = await pump_connection(app, attacker_tenant, attacker_flow)
    try:
        for event in (
            Event(
                type="step.failed",
                execution_id=victim_execution,
                step=2,
                listener="pwned",
                data={"error": FORGED_STEP, "reason": "handler_error"},
            ),
            Event(
                type="execution.failed",
                execution_id=victim_execution,
                data={"error": FORGED_STEP, "reason": "forged", "steps": 2},
            ),
        ):
            await pump.xadd(attacker.keys.events, event.encode())
    finally:
        await pump.aclose()
    capsys.readouterr()
    await attacker.record_all()
    logs = [
        json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")
    ]

    execution, steps = await fetch(app, victim_execution)
    assert (execution.status, execution.outputs, execution.error) == ("succeeded", [{"n": 1}], None)
    assert [step.step for step in steps] == [1]
    assert any(
        line["event"] == "recorder.foreign_event_dropped"
        and line["execution_id"] == victim_execution
        and line["stream_flow_id"] == attacker_flow
        for line in logs
    )


async def test_malformed_events_are_contained_and_the_rest_is_recorded(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    flow, setup, execution_id = await flow_with_execution(app, client)
    hostile: list[dict[str, str | bytes]] = [
        {"type": "step.started", "execution_id": execution_id, "ts": "1e300", "step": "9" * 12,
         "listener": "x", "data": "{}"},
        {"type": "step.started", "execution_id": execution_id, "ts": "nan", "step": "2",
         "listener": "L" * 10_000 + "\u0000", "data": '{"handler": "' + "h" * 5000 + '", "input": NaN}'},
        {"type": "step.completed", "execution_id": execution_id, "ts": "1", "step": "2",
         "listener": "x", "data": '{"output": ' + "[" * 5000 + "]" * 5000 + "}"},
        {"type": "step.completed", "execution_id": execution_id, "ts": "1", "step": "3",
         "listener": b"\xed\xbf\xbf\xff", "data": json.dumps({"output": {"\udfff": [1e308 * 10]},
         "routed_to": "everyone", "usage": {"tokens": "many"}, "duration_ms": "slow"})},
        {"type": "step.failed", "execution_id": execution_id, "step": "4", "listener": "y",
         "ts": "2", "data": json.dumps({"error": "x\u0000" * 20_000, "reason": ["not", "text"]})},
        {"type": "step.completed", "execution_id": execution_id, "step": "5", "listener": "z",
         "ts": "3", "data": json.dumps({"output": "o" * (3 * 1024 * 1024)})},
        {"type": "execution.nonsense", "execution_id": execution_id, "ts": "1", "data": "{}"},
        {"type": "execution.started", "execution_id": "x" * 10_000, "ts": "1", "data": "{}"},
        {"type": "log", "execution_id": execution_id, "ts": "1", "data": "not json"},
    ]  # fmt: skip
    by_number = await record_beside_one_good_execution(app, setup, execution_id, hostile)
    assert set(by_number) == {1, 2, 3, 4, 5}
    assert len(by_number[2].listener) <= 63 and "\u0000" not in by_number[2].listener
    assert by_number[3].routed_to is None and by_number[3].usage == {}
    assert len(by_number[4].error or "") <= 16_384 and "\u0000" not in (by_number[4].error or "")
    assert by_number[5].truncated and by_number[5].output["_truncated"] is True
    detail = await client.get(f"/api/executions/{execution_id}", headers=flow.account.headers)
    assert detail.status_code == 200, detail.text


async def test_folded_entries_are_unfolded_within_their_limits(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    _, setup, execution_id = await flow_with_execution(app, client)
    many = await queued_execution(app, setup.keys.tenant_id, setup.keys.flow_id)

    def step_started(step: int) -> str:
        return json.dumps(["step.started", "1.5", str(step), f"s{step}"])

    def entry(folded: str, **data: str) -> dict[str, str]:
        base = {"type": "log", "execution_id": execution_id, "ts": "2", "data": "{}"}
        return {**base, "folded": folded, **data}

    hostile = [
        entry("not json", **{"data.0": "{}"}),
        entry("{}"),
        entry("[" * 5000 + "]" * 5000),
        entry(
            "[" + ",".join([
                step_started(2),
                '"a header must be a list"',
                '["step.started", 1.5, "3", "s3"]',  # ts not text
                '["step.started", "1.5", 4, "s4"]',  # step not text
                '["step.started", "1.5", "5"]',  # three parts
                step_started(6),
                '["step.completed", "1.5", "6", null]',
                step_started(7),
            ]) + "]",
            **{
                "data.0": '{"input": {"a": 1}}',
                "data.5": '{"input": "' + "i" * (3 * 1024 * 1024) + '"}',
                "data.6": '{"output": {"b": 2}, "routed_to": []}',
                "data.7": "not json",
            },
        ),
        {"type": "log", "execution_id": many, "ts": "2", "data": "{}",
         "folded": "[" + ",".join(step_started(n) for n in range(1, 1_001)) + "]"},
        {"type": "log", "execution_id": many, "ts": "2", "data": "{}",  # past MAX_FOLDED_CHARS
         "folded": "[" + ",".join(step_started(n) for n in range(1_001, 5_001)) + "]"},
    ]  # fmt: skip
    by_number = await record_beside_one_good_execution(app, setup, execution_id, hostile)
    assert set(by_number) == {1, 2, 6}, "only well-formed folded events, and not one of data 7"
    assert by_number[2].input == {"a": 1} and by_number[2].listener == "s2"
    assert by_number[6].truncated and by_number[6].input["_truncated"] is True
    assert by_number[6].status == "succeeded" and by_number[6].output == {"b": 2}
    _, flood = await fetch(app, many)
    assert [step.step for step in flood] == list(range(1, MAX_FOLDED + 1)), (
        "one entry carries at most MAX_FOLDED earlier events, and a too long `folded` none"
    )
