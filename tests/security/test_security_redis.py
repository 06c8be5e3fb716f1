"""Hole 2: a pump cannot take Redis down for everyone. Its ACL user holds no scripting command
(an endless Lua loop would block every tenant), project memory keeps its quota without Lua, and
every stream a pump writes is held to its cap by the control plane whatever the pump does."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis
from fastapi import FastAPI
from redis.exceptions import NoPermissionError

from control_plane.executions import recorder as recorder_module
from control_plane.pumps.acl import PumpCredentials
from pump import engine as pump_engine
from pump.handlers.base import StepError
from pump.keys import FlowKeys
from pump.memory import MemoryAccess, ProjectMemory
from pump.server import redis_client
from tests.control_plane.executions.test_executions_recorder import running_flow
from tests.pump.pump_testkit import in_process

SCRIPTING_ATTACKS: list[tuple[str, ...]] = [
    ("EVAL", "while true do end", "0"),
    ("EVAL_RO", "while true do end", "0"),
    ("EVALSHA", "a" * 40, "0"),
    ("SCRIPT", "LOAD", "while true do end"),
    ("SCRIPT", "FLUSH"),
    ("SCRIPT", "KILL"),
    ("FUNCTION", "LOAD", "#!lua name=spin\nredis.register_function('spin', function() while true do end end)"),
    ("FUNCTION", "FLUSH"),
    ("FCALL", "spin", "0"),
    ("FCALL_RO", "spin", "0"),
]  # fmt: skip


@pytest.fixture
async def pump_user(redis_url: str) -> AsyncIterator[tuple[aioredis.Redis, FlowKeys]]:
    admin = aioredis.Redis.from_url(redis_url, decode_responses=True)
    keys = FlowKeys(uuid.uuid4().hex, uuid.uuid4().hex)
    credentials = PumpCredentials(admin, redis_url)
    client = redis_client(await credentials.issue(keys.tenant_id, keys.flow_id))
    try:
        yield client, keys
    finally:
        await client.aclose()
        await credentials.revoke(keys.tenant_id, keys.flow_id)
        for key in (keys.memory_data, keys.memory_bytes, keys.events, keys.logs):
            await admin.delete(key)
        await admin.aclose()


@pytest.mark.parametrize("command", SCRIPTING_ATTACKS, ids=lambda c: " ".join(c[:2])[:20])
async def test_a_pump_cannot_run_any_script(
    pump_user: tuple[aioredis.Redis, FlowKeys], command: tuple[str, ...]
) -> None:
    client, _ = pump_user
    with pytest.raises(NoPermissionError):
        await client.execute_command(*command)  # type: ignore[no-untyped-call]


async def test_project_memory_keeps_its_quota_without_lua(
    pump_user: tuple[aioredis.Redis, FlowKeys],
) -> None:
    client, keys = pump_user
    memory = ProjectMemory(client, keys, MemoryAccess(quota_bytes=2_000, refusal=None))
    # 30 concurrent writers race on the same counter: it must stay exact.
    await asyncio.gather(*(memory.set(f"k{n}", "v" * 20) for n in range(30)))
    used = int(await client.get(keys.memory_bytes) or 0)
    assert used == sum(len(f"k{n}") + 22 for n in range(30))
    with pytest.raises(StepError) as refused:
        await memory.set("big", "x" * 2_000)
    assert refused.value.reason == "quota_exceeded"
    assert await memory.get("big") is None
    await memory.set("k0", "short")  # replacing an entry counts the difference only
    assert await memory.delete("k1") is True
    assert await memory.delete("k1") is False
    expected = used - (2 + 22) + (2 + 7) - (2 + 22)
    assert int(await client.get(keys.memory_bytes) or 0) == expected


async def test_every_stream_a_pump_writes_is_held_to_its_cap(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(recorder_module, "EVENT_STREAM_MAXLEN", 1_000)
    monkeypatch.setattr(recorder_module, "LOG_STREAM_MAXLEN", 500)
    setup, tenant_id, flow_id = await running_flow(app, client)
    credentials = PumpCredentials(app.state.redis.client, app.state.redis.url)
    pump = redis_client(await credentials.issue(tenant_id, flow_id))
    try:
        pipe = pump.pipeline(transaction=False)
        for n in range(5_000):  # no MAXLEN: an untrusted pump need not cooperate
            pipe.xadd(setup.keys.events, {"type": "log", "execution_id": "x", "n": str(n)})
            pipe.xadd(setup.keys.logs, {"message": f"line {n}"})
        await pipe.execute()
    finally:
        await pump.aclose()
    await setup.record_all()
    admin = app.state.redis.client
    assert await admin.xlen(setup.keys.events) < 1_200
    assert await admin.xlen(setup.keys.logs) < 700


async def test_the_pump_writes_its_events_with_maxlen(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pump_engine, "EVENT_STREAM_MAXLEN", 10)
    organism = """
version: 1
organism: {name: capped}
triggers: [{name: run, kind: manual, target: a}]
listeners:
  - {name: a, handler: builtin.transform, peers: [b]}
  - {name: b, handler: builtin.output}
"""
    async with in_process(redis_url, organism) as flow:
        for _ in range(300):  # 300 executions, one folded entry each, without a cap
            await flow.run({})
        length = await flow.client.xlen(flow.keys.events)
    assert length <= 200  # MAXLEN ~ trims whole 100-entry nodes
