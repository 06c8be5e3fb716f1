"""The faults, each as a scenario: a control plane with a flow, a bounded webhook load, the fault
in the middle of it, and the tally. The embedded default (SQLite + the embedded Valkey, one
worker) and production (a Postgres cluster and a Redis 7 of the run's own, two workers)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from tests.faults.harness import (
    ControlPlane,
    Flow,
    LoadResult,
    Tally,
    create_flow,
    flow_status,
    running,
    settle,
    tally,
    webhook_load,
)
from tests.faults.servers import PostgresCluster, RedisServer, free_port

ECHO = """version: 1
organism: {name: faults-echo}
triggers: [{name: inbound, kind: webhook, target: shape}]
listeners:
  - {name: shape, handler: builtin.transform, peers: [done], config: {set: {seen: true}}}
  - {name: done, handler: builtin.output}
"""
CALL = """version: 1
organism: {name: faults-call}
triggers: [{name: inbound, kind: webhook, target: call}]
listeners:
  - name: call
    handler: builtin.http
    peers: [done]
    config: {url: "%s/work?poison={{ payload.poison }}"}
  - {name: done, handler: builtin.output}
"""


class Sink:
    """The HTTP endpoint flows call: answers after `delay`, and kills the calling flow's pump
    for a poison payload (as an out-of-memory kill a payload provokes would)."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.pid_file: Path | None = None
        self.url = ""

    async def work(self, request: web.Request) -> web.Response:
        if request.query.get("poison") == "true" and self.pid_file is not None:
            with contextlib.suppress(FileNotFoundError, ProcessLookupError, ValueError):
                os.killpg(json.loads(self.pid_file.read_text())["pid"], signal.SIGKILL)
            await asyncio.sleep(5)
        elif self.delay:
            await asyncio.sleep(self.delay)
        return web.json_response({"ok": True})

    @contextlib.asynccontextmanager
    async def serving(self) -> AsyncIterator[Sink]:
        app = web.Application()
        app.add_routes([web.get("/work", self.work)])
        runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.2)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.url = f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
        try:
            yield self
        finally:
            await runner.cleanup()


@dataclass
class Setup:
    """Where a scenario runs: its data directory, database and Redis."""

    root: Path
    database_url: str = ""  # empty: the embedded SQLite file
    redis: RedisServer | None = None
    postgres: PostgresCluster | None = None
    workers: int = 1
    settings: dict[str, str] = field(default_factory=dict)
    plane: ControlPlane | None = None

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def results_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'flowplane.db'}"

    def control_plane(self) -> ControlPlane:
        environment = {
            name: value
            for name, value in os.environ.items()
            if not name.startswith("FLOWPLANE_") and name not in ("DATABASE_URL", "REDIS_URL")
        }
        environment.update(
            {
                "FLOWPLANE_DATA_DIR": str(self.data_dir),
                "FLOWPLANE_LOG_LEVEL": "WARNING",
                "FLOWPLANE_DEFAULT_TIER": "enterprise",  # no monthly quota in the way
                "FLOWPLANE_PUMP_HTTP_ALLOWLIST": "127.0.0.1",
                # a request whose 2xx was lost in a crash is found by the reaper sooner
                "FLOWPLANE_REAPER_GRACE_SECONDS": "5",
                "FLOWPLANE_REAPER_INTERVAL_SECONDS": "2",
                **self.settings,
            }
        )
        if self.database_url:
            environment["DATABASE_URL"] = self.database_url
        if self.redis is not None:
            environment["REDIS_URL"] = self.redis.url
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.plane = ControlPlane(environment, self.data_dir, self.workers, free_port())
        return self.plane


def embedded_setup(root: Path, **settings: str) -> Setup:
    return Setup(root, settings=settings)


async def production_setup(root: Path, postgres: PostgresCluster, **settings: str) -> Setup:
    redis = RedisServer(root / "redis")
    await asyncio.to_thread(redis.start)
    database = await postgres.create_database(f"faults_{uuid.uuid4().hex[:10]}")
    return Setup(root, database, redis, postgres, workers=2, settings=settings)


Inject = Callable[[Setup, Flow], Awaitable[dict[str, Any]]]


async def run(
    name: str,
    setup: Setup,
    inject: Inject,
    *,
    organism: str = ECHO,
    sink: Sink | None = None,
    rate: float = 150.0,
    seconds: float = 4.0,
    fault_after: float = 1.5,
) -> tuple[Tally, dict[str, Any]]:
    """Run the load, inject the fault `fault_after` seconds in, and tally the outcome."""
    tag = uuid.uuid4().hex[:8]
    plane = setup.control_plane()
    try:
        async with running(plane):
            flow = await create_flow(plane.base_url, organism % sink.url if sink else organism)
            if sink is not None:
                sink.pid_file = setup.data_dir / "pumps" / f"{flow.flow_id}.pid"
            load = asyncio.create_task(
                webhook_load(
                    flow.webhook_url,
                    rate=rate,
                    seconds=seconds,
                    tag=tag,
                    payload=lambda n: {"n": n, "run": tag, "poison": False},
                )
            )
            await asyncio.sleep(fault_after)
            fault_at = time.time()
            extra = await inject(setup, flow)
            result: LoadResult = await load
            accepted = set(result.accepted.values())
            rows = await settle(setup.results_url, flow.flow_id, accepted)
            outcome = tally(name, result, rows, fault_at, tag)
            outcome.orphans = int(extra.get("orphans", 0))
            if "poison" in extra:  # how long until the flow was rid of it
                poison = next(row for row in rows if row.id == extra["poison"])
                if poison.finished_at is not None:
                    outcome.recovery_seconds = round(
                        (poison.finished_at - poison.created_at).total_seconds(), 2
                    )
            if inject is nothing:  # overload: from the burst's end until its backlog is done
                ends = [row.finished_at.timestamp() for row in rows if row.finished_at]
                burst_end = fault_at + seconds
                outcome.recovery_seconds = round(max(max(ends, default=0) - burst_end, 0), 2)
            extra["status"] = await flow_status(plane.base_url, flow)
            extra["rows"] = {row.id: (row.status, row.reason) for row in rows}
            extra["refusal_seconds"] = result.refusal_seconds
            extra["missing_retry_after"] = result.missing_retry_after
            return outcome, extra
    finally:
        if setup.redis is not None:
            await asyncio.to_thread(setup.redis.stop)


# --- the faults -------------------------------------------------------------------------------


def _pid(path: Path) -> int:
    text = path.read_text().strip()
    return int(json.loads(text)["pid"]) if text.startswith("{") else int(text)


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


async def kill_pump(setup: Setup, flow: Flow) -> dict[str, Any]:
    os.killpg(_pid(setup.data_dir / "pumps" / f"{flow.flow_id}.pid"), signal.SIGKILL)
    return {}


async def kill_embedded_redis(setup: Setup, flow: Flow) -> dict[str, Any]:
    os.kill(_pid(setup.data_dir / "redis" / "server.pid"), signal.SIGKILL)
    return {}


async def kill_control_plane(setup: Setup, flow: Flow) -> dict[str, Any]:
    """SIGKILL every process of the control plane; its pumps and embedded Redis must die with
    it (no orphan), and a new one started at once takes over."""
    assert setup.plane is not None and setup.plane.process is not None
    children = [_pid(setup.data_dir / "pumps" / f"{flow.flow_id}.pid")]
    if setup.redis is None:
        children.append(_pid(setup.data_dir / "redis" / "server.pid"))
    setup.plane.kill()
    await setup.plane.process.wait()
    for _ in range(200):  # up to 10 s: a SIGTERMed Valkey writes its file and exits
        if not any(_alive(pid) for pid in children):
            break
        await asyncio.sleep(0.05)
    orphans = sum(_alive(pid) for pid in children)
    killed = time.monotonic()
    await setup.plane.start()
    return {"orphans": orphans, "healthy_after": round(time.monotonic() - killed, 2)}


async def restart_redis(setup: Setup, flow: Flow) -> dict[str, Any]:
    assert setup.redis is not None
    await asyncio.to_thread(setup.redis.restart, 1.0)
    return {}


async def restart_postgres(setup: Setup, flow: Flow) -> dict[str, Any]:
    assert setup.postgres is not None
    await asyncio.to_thread(setup.postgres.restart, 2.0)
    return {}


async def nothing(setup: Setup, flow: Flow) -> dict[str, Any]:
    """Overload: the load itself is the fault."""
    return {}


async def no_fault(setup: Setup, flow: Flow) -> dict[str, Any]:
    """The baseline: recovery is then one execution's trigger-to-finish time."""
    return {}


async def send_poison(setup: Setup, flow: Flow) -> dict[str, Any]:
    """One trigger whose every run kills its pump."""
    async with (
        aiohttp.ClientSession() as session,
        session.post(flow.webhook_url, json={"n": -1, "run": "poison", "poison": True}) as reply,
    ):
        assert reply.status == 202, await reply.text()
        return {"poison": (await reply.json())["execution_id"]}
