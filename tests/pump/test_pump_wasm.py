"""WebAssembly handlers: the ABI, limits (fuel, memory, deadline), grants, modules by hash."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import wasmtime
from aiohttp import web
from pump_testkit import REPO, ModuleDirectory, in_process, serve

HEADER = """
version: 1
organism: {name: wasm-test}
triggers: [{name: run, kind: manual, target: start}]
"""
LIMITS: dict[str, Any] = {
    "wasm_fuel": 5_000_000,
    "wasm_memory_bytes": 16 * 1024 * 1024,
    "wasm_timeout_seconds": 1.0,
}


def settings_for(modules: ModuleDirectory, **references: str) -> dict[str, Any]:
    return {
        **LIMITS,
        "modules": modules.modules_map(**references),
        "module_source": str(modules.path),
    }


async def test_wat_echo_and_assemblyscript_example_give_correct_json(
    redis_url: str, module_directory: ModuleDirectory
) -> None:
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: "wasm:echo@1", peers: [done], config: {greeting: "hi {{ payload.name }}"}}
  - name: triage
    handler: "wasm:triage@1.0.0"
    peers: [loud, quiet]
    config: {keywords: [outage, down], high: loud, normal: quiet}
  - {name: loud, handler: builtin.output}
  - {name: quiet, handler: builtin.output}
  - {name: done, handler: builtin.output}
memory: {project: true}
"""
    )
    settings = settings_for(module_directory, **{"echo@1": "echo", "triage@1.0.0": "ticket_triage"})
    ticket = {"subject": "Outage in EU", "body": 'all "down"\nsince 9:00 — é'}
    async with in_process(redis_url, organism, memory_quota_bytes=1000, **settings) as flow:
        echoed = await flow.run({"name": "Ada", "list": [1, 2.5, None, True]})
        first = await flow.run(ticket, target="triage")
        second = await flow.run(ticket, target="triage")
    assert echoed.outcome.status == "completed", echoed.outcome.error
    (document,) = echoed.outcome.outputs  # echo returns its whole input document
    assert document["payload"] == {"name": "Ada", "list": [1, 2.5, None, True]}
    assert document["config"] == {"greeting": "hi Ada"}
    assert document["execution"]["id"] == echoed.outcome.execution_id
    assert document["execution"]["listener"] == "start"
    assert first.outcome.status == "completed", first.outcome.error
    assert first.outcome.outputs == [
        {
            "priority": "high",
            "matched": ["outage", "down"],
            "words": 9,
            "subject": "Outage in EU",
            "seen": 1,
        }
    ]
    assert first.of("step.completed")[0].data["routed_to"] == ["loud"]
    logs = [e.data for e in first.of("log")]
    assert logs == [{"level": "info", "message": "ticket 'Outage in EU' is high priority"}]
    assert second.outcome.outputs[0]["seen"] == 2  # project memory, through the WASM imports


async def test_assemblyscript_routes_with_to_and_a_non_peer_is_a_routing_error(
    redis_url: str, module_directory: ModuleDirectory
) -> None:
    organism = (
        HEADER
        + """
listeners:
  - name: start
    handler: "wasm:triage@1.0.0"
    peers: [loud, quiet]
    config: {keywords: [outage], high: loud, normal: quiet}
  - {name: loud, handler: builtin.output}
  - {name: quiet, handler: builtin.output}
  - {name: router, handler: "wasm:router@1", peers: [loud]}
"""
    )
    settings = settings_for(
        module_directory, **{"triage@1.0.0": "ticket_triage", "router@1": "router"}
    )
    async with in_process(redis_url, organism, **settings) as flow:
        high = await flow.run({"subject": "Major OUTAGE", "body": "help"})
        stray = await flow.run({}, target="router")
    assert high.outcome.outputs == [
        {"priority": "high", "matched": ["outage"], "words": 3, "subject": "Major OUTAGE"}
    ]  # no "seen": this flow has no project memory
    assert high.of("step.completed")[0].data["routed_to"] == ["loud"]
    failed = stray.of("execution.failed")[0].data
    assert failed["reason"] == "routing_error"
    assert "['approve']" in failed["error"]


@pytest.mark.parametrize(
    ("fixture", "reason", "fragment"),
    [
        ("infinite_loop", "out_of_fuel", "5000000 units"),
        ("memory_bomb", "memory_limit", "16777216-byte cap"),
        ("slow_host_call", "deadline", "http_fetch ran past the module's deadline"),
    ],
)
async def test_runaway_modules_fail_only_their_step_and_the_flow_keeps_serving(
    redis_url: str, module_directory: ModuleDirectory, fixture: str, reason: str, fragment: str
) -> None:
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        await asyncio.wait_for(release.wait(), 10)
        return web.json_response({})

    async with serve([web.get("/slow", slow)]) as server:
        organism = (
            HEADER
            + """
listeners:
  - {name: start, handler: "wasm:bad@1", on_error: recover, peers: [done]}
  - {name: done, handler: builtin.output}
  - {name: recover, handler: builtin.output, config: {expression: "payload.error.reason"}}
  - {name: fine, handler: "wasm:echo@1", peers: [done]}
"""
        )
        settings = settings_for(module_directory, **{"bad@1": fixture, "echo@1": "echo"})
        settings["module_grants"] = {"bad@1": frozenset({"http_fetch"})}
        async with in_process(redis_url, organism, **settings) as flow:
            failed = await flow.run({"method": "GET", "url": f"{server.url}/slow"})
            fine = await flow.run({"ok": True}, target="fine")
            release.set()
    step_failed = failed.of("step.failed")[0].data
    assert step_failed["reason"] == reason
    assert fragment in step_failed["error"]
    assert failed.outcome.outputs == [reason]  # routed by on_error: the execution completed
    assert fine.outcome.status == "completed"
    assert fine.outcome.outputs[0]["payload"] == {"ok": True}


async def test_http_fetch_needs_a_grant_and_goes_through_the_guard(
    redis_url: str, module_directory: ModuleDirectory
) -> None:
    async def fast(_: web.Request) -> web.Response:
        return web.json_response({"pong": True})

    async def elsewhere(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://localhost:{request.url.port}/ping")

    async with serve([web.get("/ping", fast), web.get("/away", elsewhere)]) as server:
        organism = (
            HEADER
            + """
listeners:
  - {name: start, handler: "wasm:fetch@1", peers: [done]}
  - {name: done, handler: builtin.output}
"""
        )
        settings = settings_for(module_directory, **{"fetch@1": "slow_host_call"})
        payload = {"method": "GET", "url": f"{server.url}/ping"}
        async with in_process(redis_url, organism, **settings) as flow:
            refused = await flow.run(payload)
        granted = {**settings, "module_grants": {"fetch@1": frozenset({"http_fetch"})}}
        async with in_process(redis_url, organism, **granted) as flow:
            fetched = await flow.run(payload)
        async with in_process(redis_url, organism, **granted, http_allowlist=()) as flow:
            blocked = await flow.run(payload)
        declared = {**granted, "module_hosts": {"fetch@1": ("127.0.0.1",)}}
        async with in_process(redis_url, organism, **declared) as flow:
            in_scope = await flow.run(payload)
            redirected = await flow.run({"method": "GET", "url": f"{server.url}/away"})
        elsewhere_only = {**granted, "module_hosts": {"fetch@1": ("api.example.com",)}}
        async with in_process(redis_url, organism, **elsewhere_only) as flow:
            out_of_scope = await flow.run(payload)
    failed = refused.of("step.failed")[0].data
    assert failed["reason"] == "capability_not_granted"
    assert "http_fetch" in failed["error"]
    assert fetched.outcome.outputs[0]["status"] == 200
    assert fetched.outcome.outputs[0]["json"] == {"pong": True}
    assert blocked.outcome.outputs[0]["reason"] == "blocked_address"
    assert in_scope.outcome.outputs[0]["json"] == {"pong": True}
    assert redirected.outcome.outputs[0]["reason"] == "host_not_declared", "checked per hop"
    assert out_of_scope.outcome.outputs[0]["reason"] == "host_not_declared"
    assert "api.example.com" in out_of_scope.outcome.outputs[0]["error"]


@pytest.mark.parametrize(
    ("project", "quota", "status", "warning"),
    [(True, 1000, 0, None), (False, 1000, 1, "memory: {project: true}"), (True, 10, 2, "quota")],
)
async def test_memory_imports_report_status_codes(
    redis_url: str,
    module_directory: ModuleDirectory,
    project: bool,
    quota: int,
    status: int,
    warning: str | None,
) -> None:
    organism = (
        HEADER
        + f"""
listeners:
  - {{name: start, handler: "wasm:probe@1", peers: [done]}}
  - {{name: done, handler: builtin.output}}
memory: {{project: {str(project).lower()}}}
"""
    )
    settings = settings_for(module_directory, **{"probe@1": "memory_probe"})
    async with in_process(redis_url, organism, memory_quota_bytes=quota, **settings) as flow:
        result = await flow.run({})
        stored = await flow.client.hget(flow.keys.memory_data, "probe")
    assert result.outcome.outputs == [{"status": status}]
    assert (stored is not None) == (status == 0)
    warnings = [e.data["message"] for e in result.of("log") if e.data["level"] == "warning"]
    if warning is None:
        assert warnings == []
    else:
        assert len(warnings) == 1 and warning in warnings[0]


async def test_modules_that_are_missing_tampered_or_off_abi_are_refused(
    redis_url: str, module_directory: ModuleDirectory, tmp_path: Path
) -> None:
    wasi = wasmtime.wat2wasm(
        '(module (import "wasi_snapshot_preview1" "fd_write" (func (param i32 i32 i32 i32) (result i32)))'
        ' (memory (export "memory") 1)'
        ' (func (export "alloc") (param i32) (result i32) (i32.const 0))'
        ' (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))'
    )
    no_alloc = wasmtime.wat2wasm('(module (memory (export "memory") 1))')
    hashes = {}
    for name, wasm in {"wasi": bytes(wasi), "no_alloc": bytes(no_alloc)}.items():
        hashes[name] = hashlib.sha256(wasm).hexdigest()
        (tmp_path / f"{hashes[name]}.wasm").write_bytes(wasm)
    tampered = "0" * 64
    (tmp_path / f"{tampered}.wasm").write_bytes(bytes(no_alloc))
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: "wasm:wasi@1"}
  - {name: no_alloc, handler: "wasm:no-alloc@1"}
  - {name: tampered, handler: "wasm:tampered@2"}
  - {name: missing, handler: "wasm:missing@1"}
"""
    )
    modules = {
        "wasi@1": hashes["wasi"],
        "no-alloc@1": hashes["no_alloc"],
        "tampered@2": tampered,  # tool: modules also need a signature (tool_signatures)
    }
    async with in_process(
        redis_url, organism, modules=modules, module_source=str(tmp_path), **LIMITS
    ) as flow:
        results = {
            name: await flow.run({}, target=name)
            for name in ("start", "no_alloc", "tampered", "missing")
        }
    errors = {name: r.of("step.failed")[0].data for name, r in results.items()}
    assert errors["start"]["reason"] == "invalid_module"
    assert "wasi_snapshot_preview1.fd_write" in errors["start"]["error"]
    assert errors["no_alloc"]["reason"] == "invalid_module"
    assert "'alloc'" in errors["no_alloc"]["error"]
    assert errors["tampered"]["reason"] == "module_unavailable"
    assert "does not match" in errors["tampered"]["error"]
    assert errors["missing"]["reason"] == "module_unavailable"
    assert "'missing@1' is not installed" in errors["missing"]["error"]


def test_wasm_runs_under_an_address_space_rlimit(module_directory: ModuleDirectory) -> None:
    """Default wasmtime reserves 4 GiB+ of address space per memory; the pump's engine must not."""
    script = textwrap.dedent(
        f"""
        import json, resource, sys
        resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
        import asyncio, wasmtime
        from pump.wasm.abi import InvocationFailure, WasmLimits
        from pump.wasm.runtime import WasmEngine
        from pump.wasm.hostcalls import HostContext
        from pump.keys import FlowKeys
        from pump.memory import MemoryAccess, ProjectMemory

        directory = {str(module_directory.path)!r}
        hashes = {json.dumps(module_directory.hashes)}
        limits = WasmLimits(fuel=10**8, memory_bytes=64 * 2**20, timeout_seconds=2)
        engine = WasmEngine(limits, concurrent_instances=4)  # as a pump configures it
        request = json.dumps({{"payload": {{"subject": "outage"}}, "config": {{}}, "execution": {{}}}}).encode()
        out = {{}}
        loop = asyncio.new_event_loop()
        for name in ("echo", "ticket_triage", "memory_bomb"):
            module = engine.compile(hashes[name], open(f"{{directory}}/{{hashes[name]}}.wasm", "rb").read())
            memory = ProjectMemory(None, FlowKeys("t", "f"), MemoryAccess.decide(False, 0))
            host = HostContext(loop=loop, log=lambda *a: None, memory=memory, http=None)
            try:
                out[name] = json.loads(engine.invoke(module, request, host))
            except InvocationFailure as failure:
                out[name] = failure.reason
        try:
            default = wasmtime.Store(wasmtime.Engine())
            wasmtime.Instance(default, wasmtime.Module(default.engine, '(module (memory 1))'), [])
            out["default_engine"] = "ok"
        except Exception as error:
            out["default_engine"] = "failed"
        print(json.dumps(out))
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    out = json.loads(result.stdout.strip().splitlines()[-1])
    assert out["echo"]["payload"] == {"subject": "outage"}
    assert out["ticket_triage"]["subject"] == "outage", out
    assert out["memory_bomb"] == "memory_limit"
    assert out["default_engine"] == "failed"  # the limit is real: wasmtime's defaults do not fit


def test_failed_invocations_give_their_pooled_instance_slot_back(
    module_directory: ModuleDirectory,
) -> None:
    from pump.keys import FlowKeys
    from pump.memory import MemoryAccess, ProjectMemory
    from pump.wasm.abi import InvocationFailure, WasmLimits
    from pump.wasm.hostcalls import HostContext
    from pump.wasm.runtime import WasmEngine

    engine = WasmEngine(WasmLimits(10**6, 16 * 2**20, 1.0), concurrent_instances=2)
    loop = asyncio.new_event_loop()
    memory = ProjectMemory(None, FlowKeys("t", "f"), MemoryAccess.decide(False, 0))  # type: ignore[arg-type]

    def module(name: str) -> Any:
        digest = module_directory.hashes[name]
        return engine.compile(digest, (module_directory.path / f"{digest}.wasm").read_bytes())

    looping, echo = module("infinite_loop"), module("echo")
    failures = []
    try:
        for _ in range(10):
            host = HostContext(loop=loop, log=lambda *_: None, memory=memory, http=None)
            with pytest.raises(InvocationFailure) as failure:
                engine.invoke(looping, b"{}", host)
            failures.append(failure.value)  # keep the tracebacks alive on purpose
        host = HostContext(loop=loop, log=lambda *_: None, memory=memory, http=None)
        assert json.loads(engine.invoke(echo, b'{"ok":1}', host)) == {"ok": 1}
    finally:
        engine.close()
        loop.close()
    assert {failure.reason for failure in failures} == {"out_of_fuel"}
