"""Issue 3's acceptance, each against the real Redis and a real `python -m pump` process."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web
from pump_testkit import ModuleDirectory, PumpProcess, new_keys, serve
from test_pump_llm import fake_anthropic, fake_openai

from pump.events import Event
from pump.keys import PumpEnv

FLOW = """
version: 1
organism: {name: acceptance}
triggers: [{name: inbound, kind: webhook, target: prepare}]
listeners:
  - name: prepare
    handler: builtin.transform
    peers: [check]
    config: {set: {count: 0, ticket: "{{ payload.ticket }}", hook: "{{ payload.hook }}"}}
  - name: check
    handler: builtin.branch
    peers: [bump, notify]
    config: {cases: [{when: "payload.count < `3`", to: bump}], default: notify}
  - name: bump
    handler: builtin.transform
    peers: [check]
    max_iterations: 5
    config: {expression: "merge(payload, {count: sum([payload.count, `1`])})"}
  - name: notify
    handler: builtin.http
    peers: [finish]
    on_error: recover
    config:
      method: POST
      url: "{{ payload.hook }}"
      json: {ticket: "{{ payload.ticket }}", count: "{{ payload.count }}", execution: "{{ execution.id }}"}
  - name: finish
    handler: builtin.output
    config: {expression: "{status: payload.status, echoed: payload.json}"}
  - name: recover
    handler: builtin.output
    config: {expression: "{failed: payload.error.reason, at: payload.error.listener, ticket: payload.payload.ticket}"}
"""


@pytest.fixture
async def pump_factory(redis_url: str, tmp_path: Path) -> AsyncIterator[list[PumpProcess]]:
    started: list[PumpProcess] = []
    yield started
    for pump in started:
        await pump.close()


def launch(
    started: list[PumpProcess], redis_url: str, tmp_path: Path, organism: str, **env: str
) -> PumpProcess:
    pump = PumpProcess(
        redis_url, new_keys(), organism, tmp_path / f"pump-{len(started)}.log", env=env
    )
    started.append(pump.start())
    return pump


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def sequence(events: list[Event]) -> list[tuple[str, str | None]]:
    return [(event.type, event.listener) for event in events]


async def _hook(request: web.Request) -> web.Response:
    return web.json_response({"received": await request.json()})


async def test_transform_branch_loop_http_output_with_and_without_on_error(
    redis_url: str, tmp_path: Path, pump_factory: list[PumpProcess]
) -> None:
    async with serve([web.post("/hook", _hook)]) as server:
        pump = launch(pump_factory, redis_url, tmp_path, FLOW)
        ok = await pump.trigger({"ticket": "T-1", "hook": f"{server.url}/hook"}, trigger="inbound")
        broken_hook = f"http://127.0.0.1:{closed_port()}/hook"
        broken = await pump.trigger({"ticket": "T-2", "hook": broken_hook}, trigger="inbound")
        final = await pump.wait_final(ok)
        broken_final = await pump.wait_final(broken)
        events = await pump.events(ok)
        broken_events = await pump.events(broken)
        heartbeat = await pump.client.hgetall(pump.keys.heartbeat)  # type: ignore[union-attr]
        assert await pump.stop() == 0

    assert final.type == "execution.completed", final.data
    assert final.data["outputs"] == [
        {"status": 200, "echoed": {"received": {"ticket": "T-1", "count": 3, "execution": ok}}}
    ]
    assert final.data["steps"] == 10
    loop_part = [
        ("step.started", "check"), ("step.completed", "check"), ("message.routed", "check"),
        ("step.started", "bump"), ("step.completed", "bump"), ("message.routed", "bump"),
    ]  # fmt: skip
    assert sequence(events) == [
        ("execution.started", None),
        ("step.started", "prepare"), ("step.completed", "prepare"), ("message.routed", "prepare"),
        *loop_part, *loop_part, *loop_part,
        ("step.started", "check"), ("step.completed", "check"), ("message.routed", "check"),
        ("step.started", "notify"), ("step.completed", "notify"), ("message.routed", "notify"),
        ("step.started", "finish"), ("step.completed", "finish"),
        ("execution.completed", None),
    ]  # fmt: skip
    assert [e.step for e in events if e.type == "step.started"] == list(range(1, 11))
    assert server.requests[0]["json"] == {"ticket": "T-1", "count": 3, "execution": ok}

    assert broken_final.type == "execution.completed"
    assert broken_final.data["outputs"] == [
        {"failed": "http_error", "at": "notify", "ticket": "T-2"}
    ]
    assert sequence(broken_events)[-6:] == [
        ("step.started", "notify"), ("step.failed", "notify"), ("message.routed", "notify"),
        ("step.started", "recover"), ("step.completed", "recover"),
        ("execution.completed", None),
    ]  # fmt: skip
    failed_step = next(e for e in broken_events if e.type == "step.failed")
    assert failed_step.data["reason"] == "http_error"
    assert heartbeat["status"] == "running"
    assert {"version", "started_at", "in_flight", "processed"} <= set(heartbeat)


WASM_FLOW = """
version: 1
organism: {name: wasm-acceptance}
triggers: [{name: run, kind: manual, target: echo}]
listeners:
  - {name: echo, handler: "wasm:echo@1", peers: [out]}
  - name: triage
    handler: "wasm:triage@1.0.0"
    peers: [out]
    config: {keywords: [outage], high: out, normal: out}
  - {name: loop, handler: "wasm:loop@1", peers: [out]}
  - {name: bomb, handler: "wasm:bomb@1", peers: [out]}
  - {name: sleepy, handler: "wasm:sleepy@1", peers: [out]}
  - {name: out, handler: builtin.output}
"""


async def test_wasm_modules_and_runaway_modules_in_a_real_pump(
    redis_url: str,
    tmp_path: Path,
    module_directory: ModuleDirectory,
    pump_factory: list[PumpProcess],
) -> None:
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.json_response({})

    modules = module_directory.modules_map(
        **{
            "echo@1": "echo",
            "triage@1.0.0": "ticket_triage",
            "loop@1": "infinite_loop",
            "bomb@1": "memory_bomb",
            "sleepy@1": "slow_host_call",
        }
    )
    async with serve([web.get("/slow", slow)]) as server:
        pump = launch(
            pump_factory, redis_url, tmp_path, WASM_FLOW,
            **{
                PumpEnv.MODULES: json.dumps(modules),
                PumpEnv.MODULE_SOURCE: str(module_directory.path),
                PumpEnv.MODULE_GRANTS: json.dumps({"sleepy@1": ["http_fetch"]}),
            },
        )  # fmt: skip
        echo = await pump.trigger({"hello": "world"})
        triage = await pump.trigger({"subject": "Outage!", "body": "now"}, target="triage")
        echo_final = await pump.wait_final(echo)
        triage_final = await pump.wait_final(triage)
        failures: dict[str, tuple[Event, Event]] = {}
        for target, payload in (
            ("loop", {}),
            ("bomb", {}),
            ("sleepy", {"method": "GET", "url": f"{server.url}/slow"}),
        ):
            failing = await pump.trigger(payload, target=target)
            final = await pump.wait_final(failing)
            after = await pump.trigger({"after": target})  # the next trigger still succeeds
            failures[target] = (final, await pump.wait_final(after))
        release.set()
        assert await pump.stop() == 0

    assert echo_final.type == "execution.completed"
    assert echo_final.data["outputs"][0]["payload"] == {"hello": "world"}
    assert triage_final.data["outputs"] == [
        {"priority": "high", "matched": ["outage"], "words": 2, "subject": "Outage!"}
    ]
    expected = {"loop": "out_of_fuel", "bomb": "memory_limit", "sleepy": "deadline"}
    for target, (final, after) in failures.items():
        assert final.type == "execution.failed"
        assert final.data["reason"] == expected[target]
        assert final.data["listener"] == target
        assert after.type == "execution.completed"
        assert after.data["outputs"][0]["payload"] == {"after": target}


LLM_FLOW = """
version: 1
organism: {name: llm-acceptance}
triggers: [{name: run, kind: manual, target: dispatch}]
listeners:
  - name: dispatch
    handler: builtin.llm
    agent: true
    peers: [classify, ignore]
    config: {base_url: "%(openai)s", model: gpt-test, api_key: "${secrets.OPENAI}", prompt: "{{ payload.text }}"}
  - name: classify
    handler: builtin.llm
    peers: [summarize]
    config: {base_url: "%(openai)s", model: gpt-test, api_key: "${secrets.OPENAI}",
             prompt: "Classify: {{ payload.text }}", output: json}
  - name: summarize
    handler: builtin.llm
    peers: [out]
    config: {provider: anthropic, base_url: "%(anthropic)s", model: claude-test,
             api_key: "${secrets.ANTHROPIC}", prompt: "Summarize {{ payload.label }}"}
  - {name: ignore, handler: builtin.output}
  - {name: out, handler: builtin.output}
"""


async def test_llm_handlers_against_local_openai_and_anthropic_servers(
    redis_url: str, tmp_path: Path, pump_factory: list[PumpProcess]
) -> None:
    import base64

    openai_answers = [
        {"tool": {"peer": "classify", "message": "printer on fire"}},
        {"content": '{"label": "hardware"}'},
    ]
    anthropic_answers = [{"text": "A hardware ticket."}]
    async with serve([fake_openai(openai_answers), fake_anthropic(anthropic_answers)]) as server:
        organism = LLM_FLOW % {"openai": f"{server.url}/v1", "anthropic": server.url}
        secrets = base64.b64encode(
            json.dumps({"OPENAI": "sk-test", "ANTHROPIC": "ant-test"}).encode()
        ).decode()
        pump = launch(pump_factory, redis_url, tmp_path, organism, **{PumpEnv.SECRETS: secrets})
        execution = await pump.trigger({"text": "my printer is on fire"})
        final = await pump.wait_final(execution)
        events = await pump.events(execution)
        assert await pump.stop() == 0
    assert final.type == "execution.completed", final.data
    assert final.data["outputs"] == [{"text": "A hardware ticket."}]
    completed = {e.listener: e.data for e in events if e.type == "step.completed"}
    assert completed["dispatch"]["routed_to"] == ["classify"]
    assert completed["classify"]["output"] == {"label": "hardware"}
    assert completed["summarize"]["usage"]["total_tokens"] == 27
    assert completed["dispatch"]["usage"]["input_tokens"] == 11


MEMORY_FLOW = """
version: 1
organism: {name: memory-acceptance}
triggers: [{name: run, kind: manual, target: remember}]
listeners:
  - {name: remember, handler: builtin.memory, peers: [wait],
     config: {op: set, key: "{{ payload.key }}", value: "{{ payload.value }}"}}
  - {name: wait, handler: builtin.http, peers: [out], config: {url: "%s"}}
  - {name: out, handler: builtin.output}
memory: {project: %s}
"""


async def test_buffers_are_deleted_quota_is_enforced_and_memory_off_cannot_write(
    redis_url: str, tmp_path: Path, pump_factory: list[PumpProcess]
) -> None:
    async def ok(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async with serve([web.get("/ok", ok)]) as server:
        url = f"{server.url}/ok"
        on = launch(
            pump_factory, redis_url, tmp_path, MEMORY_FLOW % (url, "true"),
            **{PumpEnv.MEMORY_QUOTA_BYTES: "64"},
        )  # fmt: skip
        off = launch(
            pump_factory, redis_url, tmp_path, MEMORY_FLOW % (url, "false"),
            **{PumpEnv.MEMORY_QUOTA_BYTES: "1000000"},
        )  # fmt: skip
        small = await on.trigger({"key": "greeting", "value": "hello"})
        large = await on.trigger({"key": "essay", "value": "x" * 200})
        refused = await off.trigger({"key": "greeting", "value": "hello"})
        small_final = await on.wait_final(small)
        large_final = await on.wait_final(large)
        refused_final = await off.wait_final(refused)
        assert on.client is not None and off.client is not None
        # a finished marker goes once its entry is acknowledged, just after the final event
        for _ in range(200):
            on_keys = {key async for key in on.client.scan_iter(on.keys.pattern, count=10_000)}
            off_keys = {key async for key in off.client.scan_iter(off.keys.pattern, count=10_000)}
            if not [key for key in on_keys | off_keys if ":buffer:" in key or ":done:" in key]:
                break
            await asyncio.sleep(0.05)
        stored = await on.client.hgetall(on.keys.memory_data)
        assert await on.stop() == 0 and await off.stop() == 0

    assert small_final.type == "execution.completed"
    assert large_final.type == "execution.failed"
    assert large_final.data["reason"] == "quota_exceeded"
    assert "quota exceeded" in large_final.data["error"]
    assert stored == {"greeting": '"hello"'}
    assert refused_final.type == "execution.failed"
    assert refused_final.data["reason"] == "memory_disabled"
    # thread buffers are gone (and so are finished markers, once acknowledged); the
    # memory-off flow has no memory keys at all
    assert not [key for key in on_keys | off_keys if ":buffer:" in key or ":done:" in key]
    assert off.keys.memory_data not in off_keys and off.keys.memory_bytes not in off_keys
