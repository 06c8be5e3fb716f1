"""Webhook -> execution, end to end, beside a bare XADD endpoint measured in the same run.

    .venv/bin/python bench/webhook_e2e.py [--requests 6000] [--concurrency 32] [--workers 1]

Starts the control plane (uvicorn, `background_tasks` on: recorder, reconciler, scheduler)
against Postgres on 127.0.0.1:5432 (a fresh database, dropped afterwards; `--sqlite` for the
embedded default) and Redis 7 on 127.0.0.1:6379, creates a one-step flow (webhook -> one
`builtin.output` listener), starts its pump through the lifecycle API and POSTs webhooks with
`--concurrency` in flight. Prints:

- accepted webhooks/s (202s over the load's wall time),
- end-to-end executions/s (succeeded executions over first request -> last finish),
- p50/p99 trigger -> first step and trigger -> completion (client send time to the recorded
  `first_step_at` / `finished_at`),

and the baseline: a bare ASGI endpoint (uvicorn, same loop and HTTP parser) doing one XADD per
request, loaded the same way. Load goes to 127.0.0.1 only."""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.peers_parts import running_webhook_flow  # noqa: E402
from control_plane.db import migrate  # noqa: E402
from control_plane.executions.models import Execution  # noqa: E402
from tests.services import fresh_postgres_database  # noqa: E402

REDIS_URL = os.environ.get("FLOWPLANE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
HOST = "127.0.0.1"
ONE_STEP_FLOW = """version: 1
organism: {name: bench-%s}
triggers:
  - {name: inbound, kind: webhook, target: done}
listeners:
  - {name: done, handler: builtin.output}
"""


# --- the baseline: a bare ASGI endpoint doing one XADD ----------------------------------------


class BareXaddApp:
    """`uvicorn bench.webhook_e2e:BareXaddApp --factory`: read the body, XADD it, answer 202."""

    def __init__(self) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(REDIS_URL, decode_responses=True)
        self.stream = f"bench:baseline:{uuid.uuid4().hex}"

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        entry_id = await self.redis.xadd(self.stream, {"payload": body.decode()})
        answer = b'{"execution_id":"' + str(entry_id).encode() + b'"}'
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": answer})


# --- processes ----------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def uvicorn(app: str, env: dict[str, str], workers: int = 1) -> AsyncIterator[str]:
    port = free_port()
    command = [
        sys.executable, "-m", "uvicorn", app, "--factory", "--host", HOST, "--port", str(port),
        "--loop", "uvloop", "--http", "httptools", "--log-level", "warning", "--no-access-log",
        "--workers", str(workers),
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env={**os.environ, **env})
    base = f"http://{HOST}:{port}"
    try:
        async with aiohttp.ClientSession() as http:
            for _ in range(300):
                try:
                    async with http.get(f"{base}/health"):
                        break
                except aiohttp.ClientError:
                    await asyncio.sleep(0.1)
            else:
                raise RuntimeError(f"{app} did not start")
        yield base
    finally:
        process.terminate()
        try:
            await asyncio.wait_for(process.wait(), 30)
        except TimeoutError:
            process.kill()


# --- load ---------------------------------------------------------------------------------------


async def load(url: str, total: int, concurrency: int) -> tuple[float, dict[str, float], int]:
    """POST `total` small JSON bodies; returns (wall seconds, execution id -> send time,
    refused)."""
    sent: dict[str, float] = {}
    refused = 0
    numbers = iter(range(total))
    connector = aiohttp.TCPConnector(limit=concurrency)

    async def worker(http: aiohttp.ClientSession) -> None:
        nonlocal refused
        for number in numbers:
            started = time.time()
            try:
                async with http.post(url, json={"n": number}) as response:
                    body = await response.json()
            except aiohttp.ClientError:
                refused += 1
                continue
            if response.status == 202:
                sent[body["execution_id"]] = started
            else:
                refused += 1

    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.perf_counter()
        await asyncio.gather(*(worker(http) for _ in range(concurrency)))
        return time.perf_counter() - began, sent, refused


async def paced_load(url: str, total: int, rate: float) -> tuple[float, dict[str, float], int]:
    """POST `total` webhooks at a fixed `rate` a second (open loop: a slow answer does not
    delay the next request), for latency at a given load rather than at saturation."""
    sent: dict[str, float] = {}
    refused = 0
    connector = aiohttp.TCPConnector(limit=512)

    async def one(http: aiohttp.ClientSession, number: int) -> None:
        nonlocal refused
        started = time.time()
        try:
            async with http.post(url, json={"n": number}) as response:
                body = await response.json()
        except aiohttp.ClientError:
            refused += 1
            return
        if response.status == 202:
            sent[body["execution_id"]] = started
        else:
            refused += 1

    async with aiohttp.ClientSession(connector=connector) as http:
        began = time.perf_counter()
        tasks = []
        for number in range(total):
            delay = began + number / rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(http, number)))
        await asyncio.gather(*tasks)
        return time.perf_counter() - began, sent, refused


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def wait_for_executions(database_url: str, sent: dict[str, float]) -> list[Any]:
    engine = create_async_engine(database_url)
    query = select(
        Execution.id,
        Execution.status,
        Execution.created_at,
        Execution.first_step_at,
        Execution.finished_at,
    ).where(Execution.id.in_(list(sent)))
    try:
        for _ in range(1200):
            async with engine.connect() as connection:
                rows = (await connection.execute(query)).all()
            if sum(1 for row in rows if row.status in ("succeeded", "failed")) == len(sent):
                return list(rows)
            await asyncio.sleep(0.25)
        raise RuntimeError("executions did not finish within 5 minutes")
    finally:
        await engine.dispose()


# --- the run ------------------------------------------------------------------------------------


async def make_enterprise(database_url: str, tenant_id: str) -> None:
    from sqlalchemy import update

    from control_plane.accounts.models import Tenant

    engine = create_async_engine(database_url)
    async with engine.begin() as connection:
        await connection.execute(
            update(Tenant).where(Tenant.id == tenant_id).values(tier="enterprise")
        )
    await engine.dispose()


async def run(database_url: str, arguments: argparse.Namespace) -> None:
    await migrate(database_url)
    data_dir = Path(tempfile.mkdtemp(prefix="flowplane-bench-"))
    env = {
        "FLOWPLANE_DATABASE_URL": database_url,
        "FLOWPLANE_REDIS_URL": REDIS_URL,
        "FLOWPLANE_DATA_DIR": str(data_dir),
        "FLOWPLANE_RUN_MIGRATIONS": "false",
        "FLOWPLANE_LOG_LEVEL": "WARNING",
        "FLOWPLANE_PUMP_SANDBOX": arguments.sandbox,
        "FLOWPLANE_SIGNUPS_PER_ADDRESS": "1000000",  # runs sign up from 127.0.0.1, Redis shared
    }
    warmup = min(500, arguments.requests // 10)
    async with uvicorn("bench.webhook_e2e:BareXaddApp", {}) as baseline:
        await load(baseline + "/", warmup, arguments.concurrency)
        base_seconds, base_sent, _ = await load(
            baseline + "/", arguments.requests, arguments.concurrency
        )
    async with uvicorn("control_plane.app:create_app", env, arguments.workers) as base:
        url, _, _ = await running_webhook_flow(
            base,
            ONE_STEP_FLOW % uuid.uuid4().hex[:8],
            lambda tenant_id: make_enterprise(database_url, tenant_id),
        )
        _, warm_sent, _ = await load(url, warmup, arguments.concurrency)
        await wait_for_executions(database_url, warm_sent)
        seconds, sent, refused = await load(url, arguments.requests, arguments.concurrency)
        rows = await wait_for_executions(database_url, sent)
        paced_total = int(arguments.rate * arguments.paced_seconds)
        paced_seconds, paced_sent, paced_refused = await paced_load(
            url, paced_total, arguments.rate
        )
        paced_rows = await wait_for_executions(database_url, paced_sent)

    succeeded = [row for row in rows if row.status == "succeeded"]
    last_finish = max(row.finished_at.timestamp() for row in succeeded)
    end_to_end = len(succeeded) / (last_finish - min(sent.values()))
    base_rate = len(base_sent) / base_seconds
    print(f"requests {arguments.requests}, concurrency {arguments.concurrency}, "
          f"control-plane workers {arguments.workers}, database {database_url.split(':')[0]}")  # fmt: skip
    print(f"baseline (bare ASGI + one XADD):  {base_rate:8.0f} accepted/s")
    print(f"flowplane webhooks:               {len(sent) / seconds:8.0f} accepted/s "
          f"({len(sent) / seconds / base_rate:.2f} x baseline), {refused} refused")  # fmt: skip
    print(f"end to end:                       {end_to_end:8.0f} executions/s "
          f"({len(succeeded)} succeeded, {len(rows) - len(succeeded)} failed)")  # fmt: skip
    report_latency(f"at saturation (concurrency {arguments.concurrency})", succeeded, sent)
    paced_ok = [row for row in paced_rows if row.status == "succeeded"]
    print(f"paced load: {len(paced_sent) / paced_seconds:.0f} accepted/s offered at "
          f"{arguments.rate:.0f}/s, {paced_refused} refused, {len(paced_ok)} succeeded")  # fmt: skip
    report_latency(f"at {arguments.rate:.0f}/s", paced_ok, paced_sent)


def report_latency(label: str, rows: list[Any], sent: dict[str, float]) -> None:
    """Trigger -> first step and -> completion, timed from the client's send and from the
    control plane's acceptance (the execution's created_at)."""
    for origin, start in (
        ("client send", lambda row: sent[row.id]),
        ("accepted", lambda row: row.created_at.timestamp()),
    ):
        first = [row.first_step_at.timestamp() - start(row) for row in rows]
        done = [row.finished_at.timestamp() - start(row) for row in rows]
        print(f"  {label}, from {origin}: trigger -> first step p50 {ms(first, 0.5)} "
              f"p99 {ms(first, 0.99)}; -> completion p50 {ms(done, 0.5)} p99 {ms(done, 0.99)}")  # fmt: skip


def ms(values: list[float], fraction: float) -> str:
    return f"{percentile(values, fraction) * 1000:6.1f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=6000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--workers", type=int, default=1, help="control-plane uvicorn workers")
    parser.add_argument("--rate", type=float, default=1000.0, help="paced phase: webhooks/s")
    parser.add_argument("--paced-seconds", type=float, default=5.0)
    parser.add_argument("--sqlite", action="store_true", help="SQLite instead of Postgres")
    parser.add_argument("--sandbox", default="auto", choices=["auto", "bwrap", "none"])
    arguments = parser.parse_args()
    if arguments.sqlite:
        directory = Path(tempfile.mkdtemp(prefix="flowplane-bench-db-"))
        asyncio.run(run(f"sqlite+aiosqlite:///{directory / 'bench.db'}", arguments))
        return
    with fresh_postgres_database() as database_url:
        asyncio.run(run(database_url, arguments))


if __name__ == "__main__":
    main()
