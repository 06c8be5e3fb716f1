"""A poison trigger (one that kills every pump that runs it) fails after the delivery limit
with reason `poison_message`, is acknowledged, and the flow keeps serving; executions that
were merely in flight beside it when it struck are run again, never declared poison."""

from __future__ import annotations

import asyncio
import os
import signal
from collections import Counter
from pathlib import Path

from aiohttp import web
from pump_testkit import PumpProcess, eventually, new_execution_id, new_keys, serve

from pump.keys import TRIGGER_GROUP, PumpEnv

FLOW = """
version: 1
organism: {name: poison}
triggers: [{name: run, kind: manual, target: call}]
listeners:
  - name: call
    handler: builtin.http
    peers: [out]
    config: {url: "%s/work?execution={{ execution.id }}&poison={{ payload.poison }}"}
  - {name: out, handler: builtin.output}
"""


class KillingServer:
    """/work kills the pump that calls it for a poison payload (like an out-of-memory kill
    the payload provokes); innocent calls are held while `hold` is set, so they are in flight
    when the poison strikes."""

    def __init__(self) -> None:
        self.pump: PumpProcess | None = None
        self.calls: Counter[str] = Counter()
        self.hold = True
        self.released = asyncio.Event()
        # the poison strikes once this many executions have called (those beside it are in
        # flight then, whatever order the pump's requests arrive in)
        self.strike_after = 0

    async def work(self, request: web.Request) -> web.Response:
        execution_id = request.query["execution"]
        self.calls[execution_id] += 1
        if request.query["poison"] == "true":
            assert self.pump is not None and self.pump.process is not None
            await eventually(lambda: len(self.calls) >= self.strike_after)
            os.kill(self.pump.process.pid, signal.SIGKILL)
            await asyncio.sleep(5)
        elif self.hold:
            await asyncio.wait_for(self.released.wait(), 60)
        return web.json_response({"attempt": self.calls[execution_id]})


async def test_a_trigger_that_kills_every_pump_fails_as_poison_and_spares_its_neighbours(
    redis_url: str, tmp_path: Path
) -> None:
    server = KillingServer()
    keys = new_keys()
    env = {PumpEnv.CONSUMER: f"pump-{keys.flow_id}", PumpEnv.DELIVERY_LIMIT: "3"}
    pumps: list[PumpProcess] = []

    def start_pump() -> PumpProcess:
        pump = PumpProcess(redis_url, keys, FLOW % url, tmp_path / f"pump{len(pumps)}.log", env=env)
        pumps.append(pump)
        server.pump = pump.start()
        return pump

    async with serve([web.get("/work", server.work)]) as web_server:
        url = web_server.url
        try:
            first = start_pump()
            innocents = [await first.trigger({"poison": False}) for _ in range(3)]
            await eventually(lambda: len(server.calls) == 3)
            poison = await first.trigger({"poison": True})
            behind = [await first.trigger({"poison": False}) for _ in range(2)]  # queued after it
            await eventually(lambda: first.process is not None and first.process.poll() is not None)

            # Second delivery: everything runs again side by side, the poison kills again.
            server.strike_after = len(innocents) + 1 + len(behind)
            second = start_pump()
            await eventually(lambda: server.calls[poison] == 2)
            await eventually(
                lambda: second.process is not None and second.process.poll() is not None
            )
            assert all(server.calls[e] == 2 for e in innocents)
            assert all(server.calls[e] >= 1 for e in behind)

            # Third delivery is the last: each entry runs alone, so only the poison dies.
            server.hold = False
            server.released.set()
            third = start_pump()
            for execution_id in innocents:
                final = await third.wait_final(execution_id)
                assert final.type == "execution.completed", final.data
            await eventually(lambda: third.process is not None and third.process.poll() is not None)
            assert server.calls[poison] == 3

            # Fourth: past the limit, the poison fails without running; the entries held behind
            # it (never run by the third pump) get their last chance; the flow goes on.
            fourth = start_pump()
            for execution_id in behind:
                final = await fourth.wait_final(execution_id)
                assert final.type == "execution.completed", final.data
            final = await fourth.wait_final(poison)
            assert final.type == "execution.failed"
            assert final.data["reason"] == "poison_message"
            assert "delivered 3 times" in final.data["error"]
            assert server.calls[poison] == 3
            later = await fourth.trigger({"poison": False})
            assert (await fourth.wait_final(later)).type == "execution.completed"
            assert fourth.process is not None and fourth.process.poll() is None
            assert fourth.client is not None
            pending = await fourth.client.xpending(keys.triggers, TRIGGER_GROUP)
            assert pending["pending"] == 0
            assert "last delivery" in third.logs()
        finally:
            server.released.set()
            for pump in pumps:
                await pump.close()


async def test_a_malformed_entry_fails_alone_as_invalid_trigger(
    redis_url: str, tmp_path: Path
) -> None:
    """An entry the pump cannot decode is recorded as failed, acknowledged, and the next runs."""

    async def work(request: web.Request) -> web.Response:
        return web.json_response({})

    async with serve([web.get("/work", work)]) as server:
        pump = PumpProcess(redis_url, new_keys(), FLOW % server.url, tmp_path / "pump.log").start()
        try:
            assert pump.client is not None
            bad = new_execution_id()
            await pump.client.xadd(pump.keys.triggers, {"execution_id": bad, "payload": "{"})
            failed = await pump.wait_final(bad)
            assert (failed.type, failed.data["reason"]) == ("execution.failed", "invalid_trigger")
            assert "is malformed" in failed.data["error"]
            good = await pump.trigger({"poison": False})
            assert (await pump.wait_final(good)).type == "execution.completed"
            pending = await pump.client.xpending(pump.keys.triggers, TRIGGER_GROUP)
            assert pending["pending"] == 0
        finally:
            await pump.close()
