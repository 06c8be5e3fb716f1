"""Cancel inside the pump: a running WASM guest is stopped through its epoch deadline (no
other invocation is touched), and an in-process pump cancels a running HTTP step and never
runs an entry of a cancelled execution."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from aiohttp import web
from pump_testkit import ModuleDirectory, PumpProcess, new_execution_id, new_keys, serve

from pump.events import TriggerEntry
from pump.keys import CONTROL_STREAM_MAXLEN


def test_a_cancelled_guest_stops_at_once(module_directory: ModuleDirectory) -> None:
    from pump.keys import FlowKeys
    from pump.memory import MemoryAccess, ProjectMemory
    from pump.wasm.abi import InvocationFailure, WasmLimits
    from pump.wasm.hostcalls import HostContext
    from pump.wasm.runtime import WasmEngine

    engine = WasmEngine(WasmLimits(10**15, 16 * 2**20, 60.0))
    loop = asyncio.new_event_loop()
    memory = ProjectMemory(None, FlowKeys("t", "f"), MemoryAccess.decide(False, 0))  # type: ignore[arg-type]
    digest = module_directory.hashes["infinite_loop"]
    looping = engine.compile(digest, (module_directory.path / f"{digest}.wasm").read_bytes())
    digest = module_directory.hashes["echo"]
    echo = engine.compile(digest, (module_directory.path / f"{digest}.wasm").read_bytes())
    host = HostContext(loop=loop, log=lambda *_: None, memory=memory, http=None)
    bystander = HostContext(loop=loop, log=lambda *_: None, memory=memory, http=None)
    outcome: dict[str, Any] = {}

    def run(name: str, context: HostContext, module: Any, request: bytes) -> None:
        try:
            outcome[name] = engine.invoke(module, request, context)
        except InvocationFailure as failure:
            outcome[name] = failure

    try:
        runner = threading.Thread(target=run, args=("loop", host, looping, b"{}"))
        runner.start()
        deadline = time.monotonic() + 10
        while host.store is None and time.monotonic() < deadline:
            time.sleep(0.01)
        host.interrupt("cancelled", "the execution was cancelled")
        runner.join(10)
        assert not runner.is_alive(), "the guest was stopped long before its 60 s deadline"
        run("echo", bystander, echo, b'{"ok":1}')
    finally:
        engine.close()
        loop.close()
    assert isinstance(outcome["loop"], InvocationFailure)
    assert outcome["loop"].reason == "cancelled"
    assert outcome["echo"] == b'{"ok":1}', "other invocations run on"


ORGANISM = """
version: 1
organism: {name: cancels}
triggers: [{name: run, kind: manual, target: call}]
listeners:
  - {name: call, handler: builtin.http, peers: [done], config: {url: "URL/slow"}}
  - {name: done, handler: builtin.output}
"""


async def test_cancel_interrupts_a_running_step_and_skips_a_cancelled_entry(
    redis_url: str, tmp_path: Path
) -> None:
    arrived = asyncio.Event()
    release = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        arrived.set()
        await asyncio.wait_for(release.wait(), 30)
        return web.json_response({})

    async with serve([web.get("/slow", slow)]) as server:
        pump = PumpProcess(
            redis_url, new_keys(), ORGANISM.replace("URL", server.url), tmp_path / "pump.log"
        ).start()
        try:
            assert pump.client is not None
            control = pump.keys.control
            running = await pump.trigger({})
            await asyncio.wait_for(arrived.wait(), 30)
            for execution_id in (running, "later"):
                request = {"type": "cancel", "execution_id": execution_id}
                await pump.client.xadd(control, request, maxlen=CONTROL_STREAM_MAXLEN)  # type: ignore[arg-type]
            finished = await pump.wait_final(running)
            assert finished.type == "execution.failed" and finished.data["reason"] == "cancelled"
            await pump.trigger({}, execution_id="later")
            skipped = await pump.wait_final("later")
            assert skipped.data["reason"] == "cancelled" and skipped.data["steps"] == 0
            assert len(server.requests) == 1, "the cancelled entry never ran"
            release.set()
        finally:
            await pump.close()


PARKING = """
version: 1
organism: {name: parking}
triggers:
  - {name: run, kind: manual, target: park}
  - {name: quick, kind: manual, target: shape}
listeners:
  - {name: park, handler: builtin.wait, peers: [done], config: {kind: approval, message: ok?}}
  - {name: shape, handler: builtin.transform, peers: [done], config: {set: {seen: true}}}
  - {name: done, handler: builtin.output}
"""
WAITERS = 1_000
RSS_BOUND_BYTES = 32 * 2**20  # what 1,000 waiting executions may add to a pump, at most


def rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


async def test_a_pump_serves_on_while_a_thousand_executions_wait(
    redis_url: str, tmp_path: Path
) -> None:
    """Waiting holds nothing in the pump: its entries are acknowledged, nothing stays in
    flight, memory stays within the stated bound, and other executions run meanwhile."""
    pump = PumpProcess(redis_url, new_keys(), PARKING, tmp_path / "pump.log").start()
    try:
        assert pump.process is not None and pump.client is not None
        warm = [await pump.trigger({"n": n}, target="shape", trigger="quick") for n in range(50)]
        for ident in warm:
            await pump.wait_final(ident)
        before = rss_bytes(pump.process.pid)
        parked = [new_execution_id() for _ in range(WAITERS)]
        pipe = pump.client.pipeline(transaction=False)
        for ident in parked:
            entry = TriggerEntry(execution_id=ident, trigger="run", target="park", payload={})
            pipe.xadd(pump.keys.triggers, entry.encode())  # type: ignore[arg-type]
        await pipe.execute()
        await pump.wait_for(
            lambda _: (
                sum(
                    1
                    for events in pump._seen.values()
                    for event in events
                    if event.type == "execution.waiting"
                )
                >= WAITERS
            ),
            parked[-1],
            within=120,
        )
        served = await pump.trigger({"after": True}, target="shape", trigger="quick")
        assert (await pump.wait_final(served)).data["outputs"] == [{"after": True, "seen": True}]
        heartbeat = await pump.client.hgetall(pump.keys.heartbeat)  # type: ignore[misc]
        pending = await pump.client.xpending(pump.keys.triggers, "pump")
        assert pending["pending"] == 0, "every waiting execution's entry is acknowledged"
        assert heartbeat["in_flight"] in ("0", "1")
        grown = rss_bytes(pump.process.pid) - before
        assert grown < RSS_BOUND_BYTES, f"the pump grew by {grown} bytes"
    finally:
        await pump.close()
