"""Crash and shutdown behaviour of a real pump: SIGKILL with executions in flight, SIGTERM
drain, and a pump confined to its per-flow Redis ACL user."""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pump_testkit import PumpProcess, eventually, new_execution_id, new_keys, serve
from redis.exceptions import NoPermissionError
from yarl import URL

from pump.events import TriggerEntry, encode_event
from pump.keys import PUMP_REDIS_COMMANDS, TRIGGER_GROUP, PumpEnv, acl_username
from pump.server import redis_client

FLOW = """
version: 1
organism: {name: recovery}
triggers: [{name: run, kind: manual, target: start}]
listeners:
  - {name: start, handler: builtin.transform, peers: [call], config: {set: {seen: true}}}
  - name: call
    handler: builtin.http
    peers: [out]
    config: {url: "%s/work?execution={{ execution.id }}&hold={{ payload.hold }}"}
  - {name: out, handler: builtin.output}
"""


class HoldingServer:
    """Answers /work at once, except the first call of an execution with hold=true, which
    waits until released: a side effect whose repetitions the test can count."""

    def __init__(self) -> None:
        self.calls: Counter[str] = Counter()
        self.release = asyncio.Event()

    async def work(self, request: web.Request) -> web.Response:
        execution_id = request.query["execution"]
        self.calls[execution_id] += 1
        if request.query["hold"] == "true" and self.calls[execution_id] == 1:
            await asyncio.wait_for(self.release.wait(), 60)
        return web.json_response({"attempt": self.calls[execution_id]})


@pytest.fixture
async def holding() -> AsyncIterator[tuple[HoldingServer, str]]:
    server = HoldingServer()
    async with serve([web.get("/work", server.work)]) as web_server:
        yield server, web_server.url
        server.release.set()


async def test_sigkill_with_executions_in_flight_loses_nothing_and_repeats_no_finished_one(
    redis_url: str, tmp_path: Path, holding: tuple[HoldingServer, str]
) -> None:
    server, url = holding
    keys = new_keys()
    env = {PumpEnv.RECLAIM_IDLE_SECONDS: "1"}
    first = PumpProcess(redis_url, keys, FLOW % url, tmp_path / "first.log", env=env).start()
    second = PumpProcess(redis_url, keys, FLOW % url, tmp_path / "second.log", env=env)
    try:
        quick = [await first.trigger({"hold": False}) for _ in range(3)]
        held = [await first.trigger({"hold": True}) for _ in range(3)]
        for execution_id in quick:
            assert (await first.wait_final(execution_id)).type == "execution.completed"
        for execution_id in held:
            await first.wait_for(
                lambda events: any(e.listener == "call" for e in events), execution_id
            )
        await eventually(lambda: sum(server.calls[e] for e in held) == 3)
        first.kill()

        # A pump that died after writing an execution's final event but before its XACK:
        client = first.client
        assert client is not None
        ghost = TriggerEntry(execution_id=new_execution_id(), trigger="run", target="start")
        await client.xadd(keys.triggers, ghost.encode())  # type: ignore[arg-type]
        await client.xreadgroup(TRIGGER_GROUP, "ghost", {keys.triggers: ">"}, count=1)
        done = encode_event("execution.completed", ghost.execution_id, {"outputs": [], "steps": 0})
        await client.xadd(keys.events, done)  # type: ignore[arg-type]
        await client.set(keys.execution_state(ghost.execution_id), "completed")

        second.start()
        for execution_id in held:
            final = await second.wait_final(execution_id)
            assert final.type == "execution.completed", final.data
            assert final.data["outputs"][0]["json"] == {"attempt": 2}
        for _ in range(200):
            pending = await client.xpending(keys.triggers, TRIGGER_GROUP)
            if pending["pending"] == 0:
                break
            await asyncio.sleep(0.05)
        assert pending["pending"] == 0
        group = (await client.xinfo_groups(keys.triggers))[0]
        ((newest, _),) = await client.xrevrange(keys.triggers, count=1)
        assert group["last-delivered-id"] == newest  # every trigger was delivered
        assert second.terminate() == 0

        for execution_id in quick:  # finished before the crash: never run again
            events = await second.events(execution_id)
            assert [e.type for e in events].count("execution.started") == 1
            assert server.calls[execution_id] == 1
        for execution_id in held:  # in flight at the crash: run again, completed once
            types = [e.type for e in await second.events(execution_id)]
            assert types.count("execution.started") == 2
            assert types.count("execution.completed") == 1
            assert server.calls[execution_id] == 2
        ghost_types = [e.type for e in await second.events(ghost.execution_id)]
        assert ghost_types == ["execution.completed"]  # re-acknowledged, not re-executed
        assert "already completed; acked" in second.logs()
    finally:
        await first.close()
        await second.close()


async def test_sigterm_drains_in_flight_executions_then_exits_zero(
    redis_url: str, tmp_path: Path, holding: tuple[HoldingServer, str]
) -> None:
    server, url = holding
    pump = PumpProcess(redis_url, new_keys(), FLOW % url, tmp_path / "pump.log").start()
    try:
        held = await pump.trigger({"hold": True})
        await pump.wait_for(lambda events: any(e.listener == "call" for e in events), held)
        assert pump.process is not None
        pump.process.send_signal(signal.SIGTERM)
        await asyncio.sleep(0.8)  # the pump stops reading, but keeps its in-flight execution
        queued_after = await pump.trigger({"hold": False})
        assert pump.process.poll() is None
        server.release.set()
        process = pump.process
        await eventually(lambda: process.poll() is not None)
        assert pump.process.returncode == 0, pump.logs()
        assert (await pump.wait_final(held)).type == "execution.completed"
        assert await pump.events(queued_after) == []  # left for the next pump
        client = pump.client
        assert client is not None
        assert (await client.xpending(pump.keys.triggers, TRIGGER_GROUP))["pending"] == 0
        heartbeat = await client.hgetall(pump.keys.heartbeat)
        assert heartbeat["status"] == "stopped"
        assert heartbeat["processed"] == "1"
    finally:
        await pump.close()


async def test_a_pump_works_as_its_per_flow_acl_user_and_nothing_more(
    redis_url: str, tmp_path: Path, holding: tuple[HoldingServer, str]
) -> None:
    _, url = holding
    keys = new_keys()
    username = acl_username(keys.tenant_id, keys.flow_id)
    password = secrets.token_urlsafe(16)
    admin = redis_client(redis_url)
    rules = ["on", f">{password}", f"~{keys.pattern}", "resetchannels", "-@all"]
    rules += [f"+{command}" for command in PUMP_REDIS_COMMANDS]
    await admin.execute_command("ACL", "SETUSER", username, "reset", *rules)
    confined = str(URL(redis_url).with_user(username).with_password(password))
    organism = (FLOW % url) + "memory: {project: true}\n"
    organism = organism.replace(
        "{name: out, handler: builtin.output}",
        "{name: out, handler: builtin.memory, config: {op: set, key: last, value: '{{ payload.status }}'}}",
    )
    pump = PumpProcess(redis_url, keys, organism, tmp_path / "pump.log")
    try:
        pump.start(**{PumpEnv.REDIS_URL: confined, PumpEnv.MEMORY_QUOTA_BYTES: "1000"})
        execution_id = await pump.trigger({"hold": False})
        final = await pump.wait_final(execution_id)
        assert final.type == "execution.completed", final.data
        assert await admin.hget(keys.memory_data, "last") == "200"
        assert await pump.stop() == 0
        assert "NOPERM" not in pump.logs() and "failed" not in pump.logs()
        user = redis_client(confined)
        with pytest.raises(NoPermissionError):
            await user.get("tenant:someone-else:flow:x:memory:data")
        with pytest.raises(NoPermissionError):
            await user.keys("*")
        await user.aclose()
    finally:
        await pump.close()
        await admin.execute_command("ACL", "DELUSER", username)
        await admin.aclose()
