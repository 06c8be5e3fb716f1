"""Helpers for the pump's tests: flows run in-process or by a real `python -m pump` process,
both against the session's real Redis, and local HTTP servers."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from aiohttp import web
from redis.asyncio import Redis

from pump.engine import Execution, ExecutionOutcome
from pump.events import FINAL_EVENT_TYPES, Event, TriggerEntry
from pump.flow import Flow
from pump.keys import FlowKeys, PumpEnv
from pump.organism import Organism, parse_organism
from pump.server import redis_client
from pump.services import Services
from pump.settings import PumpSettings
from pump.writer import RedisWriter

REPO = Path(__file__).resolve().parents[2]


def new_keys() -> FlowKeys:
    return FlowKeys(f"t{uuid.uuid4().hex[:10]}", f"f{uuid.uuid4().hex[:10]}")


def new_execution_id() -> str:
    return f"x{uuid.uuid4().hex[:16]}"


async def delete_flow_keys(client: Redis, keys: FlowKeys) -> None:
    async for key in client.scan_iter(match=keys.pattern, count=10_000):
        await client.delete(key)


@dataclass(frozen=True)
class ModuleDirectory:
    """`<sha256>.wasm` files, as FLOWPLANE_MODULE_SOURCE expects, and their hashes by name."""

    path: Path
    hashes: dict[str, str]

    def modules_map(self, **references: str) -> dict[str, str]:
        """FLOWPLANE_MODULES for `module_key=fixture_name` pairs."""
        return {key: self.hashes[name] for key, name in references.items()}


@dataclass
class RunResult:
    outcome: ExecutionOutcome
    events: list[Event]

    def types(self) -> list[str]:
        return [event.type for event in self.events]

    def steps(self) -> list[tuple[str, str | None]]:
        """(event type, listener) of the step events, in order."""
        return [(e.type, e.listener) for e in self.events if e.type.startswith("step.")]

    def of(self, type_: str) -> list[Event]:
        return [event for event in self.events if event.type == type_]


class InProcessFlow:
    """The engine and real handlers in this process (fast), writing to the real Redis."""

    def __init__(self, settings: PumpSettings, organism: Organism) -> None:
        self.settings = settings
        self.organism = organism
        self.keys = FlowKeys(settings.tenant_id, settings.flow_id)
        self.client = redis_client(settings.redis_url)
        self.writer = RedisWriter(settings.redis_url)
        self.services = Services(settings, organism, self.client, self.writer)
        self.flow: Flow | None = None

    async def start(self) -> None:
        self.writer.start()
        self.flow = Flow(self.organism, self.services)

    async def close(self) -> None:
        await self.writer.close()
        await self.services.aclose()
        await delete_flow_keys(self.client, self.keys)
        await self.client.aclose()

    async def run(
        self, payload: Any = None, *, target: str | None = None, trigger: str = "run"
    ) -> RunResult:
        assert self.flow is not None
        entry = TriggerEntry(
            execution_id=new_execution_id(),
            trigger=trigger,
            target=target or self.organism.triggers[0].target,
            payload=payload,
        )
        outcome = await Execution(self.flow, entry).run()
        await self.writer.sync()
        raw = await self.client.xrange(self.keys.events)
        events = [event for _, fields in raw for event in Event.decode_all(fields)]
        return RunResult(outcome, [e for e in events if e.execution_id == entry.execution_id])


@asynccontextmanager
async def in_process(
    redis_url: str, organism_yaml: str, *, keys: FlowKeys | None = None, **settings: Any
) -> AsyncIterator[InProcessFlow]:
    keys = keys or new_keys()
    base = PumpSettings(
        tenant_id=keys.tenant_id,
        flow_id=keys.flow_id,
        organism_yaml=organism_yaml,
        redis_url=redis_url,
        consumer="test",
        http_allowlist=("127.0.0.1",),
    )
    runner = InProcessFlow(replace(base, **settings), parse_organism(organism_yaml))
    await runner.start()
    try:
        yield runner
    finally:
        await runner.close()


def pump_environment(
    redis_url: str, keys: FlowKeys, organism_yaml: str, **extra: str
) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if not name.startswith("FLOWPLANE_")}
    env.update(
        {
            PumpEnv.TENANT_ID: keys.tenant_id,
            PumpEnv.FLOW_ID: keys.flow_id,
            PumpEnv.REDIS_URL: redis_url,
            PumpEnv.ORGANISM: base64.b64encode(organism_yaml.encode()).decode(),
            PumpEnv.HTTP_ALLOWLIST: "127.0.0.1",
            PumpEnv.WASM_FUEL: "5000000",
            PumpEnv.WASM_MEMORY_BYTES: str(16 * 1024 * 1024),
            PumpEnv.WASM_TIMEOUT_SECONDS: "1",
        }
    )
    env.update(extra)
    return env


@dataclass
class PumpProcess:
    """A real `python -m pump` serving one flow."""

    redis_url: str
    keys: FlowKeys
    organism_yaml: str
    log_path: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None
    client: Redis | None = None
    _seen: dict[str, list[Event]] = field(default_factory=dict)
    _last_id: str = "0-0"

    def start(self, **extra_env: str) -> PumpProcess:
        env = pump_environment(
            self.redis_url, self.keys, self.organism_yaml, **{**self.env, **extra_env}
        )
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                # faulthandler: a pump that will not stop shows its threads (`terminate`)
                [sys.executable, "-X", "faulthandler", "-m", "pump"], env=env, stdout=log,
                stderr=subprocess.STDOUT,
                cwd=REPO,
            )  # fmt: skip
        if self.client is None:
            self.client = redis_client(self.redis_url)
        return self

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")

    async def trigger(
        self, payload: Any = None, *, target: str | None = None, trigger: str = "run",
        execution_id: str | None = None,
    ) -> str:  # fmt: skip
        assert self.client is not None
        organism = parse_organism(self.organism_yaml)
        entry = TriggerEntry(
            execution_id=execution_id or new_execution_id(),
            trigger=trigger,
            target=target or organism.triggers[0].target,
            payload=payload,
        )
        await self.client.xadd(self.keys.triggers, entry.encode())  # type: ignore[arg-type]
        return entry.execution_id

    async def poll(self) -> None:
        assert self.client is not None
        while True:
            batch = await self.client.xrange(self.keys.events, min=f"({self._last_id}", count=1000)
            if not batch:
                return
            for entry_id, fields in batch:
                self._last_id = entry_id
                for event in Event.decode_all(fields):
                    self._seen.setdefault(event.execution_id, []).append(event)

    async def events(self, execution_id: str) -> list[Event]:
        await self.poll()
        return list(self._seen.get(execution_id, []))

    async def wait_for(
        self, predicate: Callable[[list[Event]], bool], execution_id: str, within: float = 30
    ) -> list[Event]:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            events = await self.events(execution_id)
            if predicate(events):
                return events
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"the pump exited ({self.process.returncode}):\n{self.logs()}")
            await asyncio.sleep(0.05)
        raise AssertionError(
            f"timed out waiting on {execution_id}; events: "
            f"{[e.type for e in await self.events(execution_id)]}\n{self.logs()[-3000:]}"
        )

    async def wait_final(self, execution_id: str, within: float = 30) -> Event:
        events = await self.wait_for(
            lambda items: any(e.type in FINAL_EVENT_TYPES for e in items), execution_id, within
        )
        return next(e for e in events if e.type in FINAL_EVENT_TYPES)

    def terminate(self, timeout: float = 30) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.send_signal(signal.SIGUSR1)  # the pump writes its asyncio tasks' stacks
            time.sleep(1)
            self.process.send_signal(signal.SIGABRT)  # faulthandler writes every thread's stack
            self.process.wait(10)
            raise AssertionError(
                f"the pump did not stop within {timeout} s of SIGTERM:\n{self.logs()[-8000:]}"
            ) from None

    async def stop(self) -> int:
        """`terminate` off the event loop: servers of the test on this loop keep answering
        while the pump drains (a request of the pump may be waiting on one)."""
        return await asyncio.to_thread(self.terminate)

    def kill(self) -> None:
        assert self.process is not None
        self.process.kill()
        self.process.wait(10)

    async def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)
        if self.client is not None:
            await delete_flow_keys(self.client, self.keys)
            await self.client.aclose()
            self.client = None


async def eventually(condition: Callable[[], bool], within: float = 30) -> None:
    """Wait until `condition()` holds (polling); fail after `within` seconds."""
    for _ in range(int(within / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {within} s")


@dataclass
class WebServer:
    """A local HTTP server (127.0.0.1, random port) that records what it received."""

    runner: web.AppRunner
    url: str
    requests: list[dict[str, Any]]


@asynccontextmanager
async def serve(routes: list[web.RouteDef]) -> AsyncIterator[WebServer]:
    received: list[dict[str, Any]] = []

    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        body = await request.read()
        received.append(
            {
                "method": request.method,
                "path": request.path,
                "headers": dict(request.headers),
                "body": body.decode(errors="replace"),
                "json": json.loads(body)
                if body and request.content_type == "application/json"
                else None,
            }
        )
        response: web.StreamResponse = await handler(request)
        return response

    app = web.Application(middlewares=[record])
    app.add_routes(routes)
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield WebServer(runner, f"http://127.0.0.1:{port}", received)
    finally:
        await runner.cleanup()
