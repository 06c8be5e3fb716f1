"""The fault suite's machinery: a real control plane in its own process (`flowplane up`), a
flow with real pumps, a bounded webhook load, a fault in the middle of it, and the tally of
what became of every accepted request. Used by tests/faults/ and bench/faults.py."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import signal
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from control_plane.executions.models import Execution
from control_plane.settings import normalize_database_url

ROOT = Path(__file__).resolve().parents[2]
FINAL = ("succeeded", "failed")


@dataclass
class ControlPlane:
    """`python -m control_plane.cli up` in a process group of its own."""

    environment: dict[str, str]
    data_dir: Path
    workers: int = 1
    port: int = 0
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self, within: float = 120.0) -> None:
        self.starts += 1
        command = [
            sys.executable, "-m", "control_plane.cli", "up",
            "--port", str(self.port), "--workers", str(self.workers),
        ]  # fmt: skip
        log_path = self.data_dir.parent / f"control-plane-{self.starts}.log"
        with log_path.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, cwd=ROOT, env=self.environment, stdout=log, stderr=log,
                start_new_session=True,
            )  # fmt: skip
        await self.wait_healthy(within)

    async def wait_healthy(self, within: float) -> None:
        deadline = time.monotonic() + within
        last = "no answer"
        async with aiohttp.ClientSession() as session:
            while time.monotonic() < deadline:
                if self.process is not None and self.process.returncode is not None:
                    raise AssertionError(f"the control plane exited: {self.process.returncode}")
                try:
                    async with session.get(f"{self.base_url}/health", timeout=5) as response:
                        if response.status == 200:
                            return
                        last = f"{response.status} {await response.text()}"
                except (aiohttp.ClientError, TimeoutError) as error:
                    last = repr(error)
                await asyncio.sleep(0.1)
        raise AssertionError(f"the control plane was not healthy within {within} s: {last[:2000]}")

    def kill(self) -> None:
        """SIGKILL the whole control plane (every worker): a crash, no goodbye."""
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 40)
        except TimeoutError:
            self.kill()
            await self.process.wait()


@dataclass
class Flow:
    flow_id: str
    webhook_url: str
    headers: dict[str, str]


async def create_flow(base_url: str, organism_yaml: str) -> Flow:
    async with aiohttp.ClientSession(base_url) as session:
        email = f"faults-{uuid.uuid4().hex[:10]}@example.com"
        async with session.post(
            "/api/auth/signup", json={"email": email, "password": "fault suite password 1"}
        ) as response:
            assert response.status == 201, await response.text()
            headers = {"authorization": f"Bearer {(await response.json())['token']}"}
        async with session.post(
            "/api/flows", json={"organism_yaml": organism_yaml}, headers=headers
        ) as response:
            assert response.status == 201, await response.text()
            flow_id = (await response.json())["id"]
        async with session.post(f"/api/flows/{flow_id}/webhook/rotate", headers=headers) as reply:
            token = (await reply.json())["token"]
        async with session.post(f"/api/flows/{flow_id}/start", headers=headers) as response:
            assert response.status == 202, await response.text()
        flow = Flow(flow_id, f"{base_url}/api/triggers/{flow_id}/webhook/{token}", headers)
        await wait_for_status(base_url, flow, "running")
        return flow


async def flow_status(base_url: str, flow: Flow) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{base_url}/api/flows/{flow.flow_id}/status", headers=flow.headers) as reply,
    ):
        return dict(await reply.json()) if reply.status == 200 else {}


async def wait_for_status(base_url: str, flow: Flow, wanted: str, within: float = 60) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            if (await flow_status(base_url, flow)).get("status") == wanted:
                return
        await asyncio.sleep(0.2)
    raise AssertionError(f"flow {flow.flow_id} not {wanted} within {within} s")


@dataclass
class LoadResult:
    accepted: dict[int, str] = field(default_factory=dict)  # request number -> execution id
    refusals: Counter[str] = field(default_factory=Counter)  # 429, 503, "unreachable", ...
    server_errors: int = 0
    refusal_seconds: list[float] = field(default_factory=list)  # time to each 429/503 answer
    missing_retry_after: int = 0


async def webhook_load(
    url: str,
    *,
    rate: float,
    seconds: float,
    tag: str,
    give_up_after: float = 90.0,
    payload: Callable[[int], dict[str, Any]] | None = None,
) -> LoadResult:
    """Send `rate` * `seconds` webhooks at a steady pace, each with an Idempotency-Key. A
    refused (429/503, after Retry-After) or unanswered request is sent again, as a client
    would, until `give_up_after` seconds after the load's end."""
    result = LoadResult()
    total = int(rate * seconds)
    started = time.monotonic()
    deadline = started + seconds + give_up_after
    connector = aiohttp.TCPConnector(limit=256)
    timeout = aiohttp.ClientTimeout(total=10)

    async def one(session: aiohttp.ClientSession, number: int) -> None:
        body = payload(number) if payload else {"n": number, "run": tag}
        headers = {"Idempotency-Key": f"{tag}-{number}"}
        backoff = 0.2  # no answer: wait longer each time (with jitter), as clients do
        while time.monotonic() < deadline:
            sent = time.monotonic()
            try:
                async with session.post(url, json=body, headers=headers) as response:
                    status = response.status
                    if status in (200, 202):
                        result.accepted[number] = (await response.json())["execution_id"]
                        return
                    retry_after = response.headers.get("Retry-After")
            except (aiohttp.ClientError, TimeoutError, OSError):
                result.refusals["unreachable"] += 1
                await asyncio.sleep(backoff * random.uniform(0.5, 1.0))
                backoff = min(backoff * 2, 2.0)
                continue
            if status in (429, 503):
                result.refusals[str(status)] += 1
                result.refusal_seconds.append(time.monotonic() - sent)
                result.missing_retry_after += retry_after is None
                await asyncio.sleep(min(float(retry_after or 1), 2.0) * random.uniform(0.5, 1.0))
                continue
            if status >= 500:
                result.server_errors += 1
            result.refusals[str(status)] += 1
            return

    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        tasks = []
        for number in range(total):
            await asyncio.sleep(max(0.0, started + number / rate - time.monotonic()))
            tasks.append(asyncio.create_task(one(session, number)))
        await asyncio.gather(*tasks)
    return result


@dataclass
class Tally:
    scenario: str
    accepted: int = 0
    succeeded: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # reason -> count
    stuck: int = 0
    lost: int = 0
    duplicates: int = 0
    recovery_seconds: float | None = None
    refused: Counter[str] = field(default_factory=Counter)
    server_errors: int = 0
    orphans: int = 0
    notes: list[str] = field(default_factory=list)

    def row(self) -> str:
        failed = sum(self.failed.values())
        reasons = ",".join(f"{k}:{v}" for k, v in sorted(self.failed.items()))
        recovery = "-" if self.recovery_seconds is None else f"{self.recovery_seconds:.2f}"
        refused = ",".join(f"{k}:{v}" for k, v in sorted(self.refused.items())) or "-"
        return (
            f"{self.scenario:<34} {self.accepted:>8} {self.succeeded:>9} "
            f"{failed:>6}{(' (' + reasons + ')') if reasons else '':<1} {self.stuck:>5} "
            f"{self.lost:>4} {self.duplicates:>10} {recovery:>10}   {refused}"
        )


FAULT_ROW = "fault_row"  # user property carrying a scenario's row of the table
TABLE_HEADER = (
    f"{'scenario':<34} {'accepted':>8} {'succeeded':>9} {'failed':>6} {'stuck':>5} "
    f"{'lost':>4} {'duplicates':>10} {'recovery s':>10}   refused (attempts)"
)


async def executions(database_url: str, flow_id: str) -> list[Any]:
    engine = create_async_engine(normalize_database_url(database_url))
    try:
        async with engine.connect() as connection:
            return list(
                await connection.execute(
                    select(
                        Execution.id,
                        Execution.status,
                        Execution.reason,
                        Execution.input,
                        Execution.created_at,
                        Execution.finished_at,
                    ).where(Execution.flow_id == flow_id)
                )
            )
    finally:
        await engine.dispose()


async def settle(
    database_url: str, flow_id: str, accepted: set[str], within: float = 60.0
) -> list[Any]:
    """Wait until every accepted execution is final (or `within` passes); the rows."""
    deadline = time.monotonic() + within
    while True:
        try:
            rows = await executions(database_url, flow_id)
        except Exception:  # the database may still be coming back
            rows = []
        final = {row.id for row in rows if row.status in FINAL}
        if (rows and accepted <= final) or time.monotonic() > deadline:
            return rows
        await asyncio.sleep(0.5)


def tally(
    scenario: str,
    load: LoadResult,
    rows: list[Any],
    fault_at: float | None,
    tag: str,
    back_at: float | None = None,
) -> Tally:
    """`back_at`: when a restarted server was up again; recovery then counts from the fault to
    the first execution accepted after that finishing (not one that slipped in before)."""
    result = Tally(scenario, accepted=len(set(load.accepted.values())))
    by_id = {row.id: row for row in rows}
    for execution_id in set(load.accepted.values()):
        row = by_id.get(execution_id)
        if row is None:
            result.lost += 1
        elif row.status == "succeeded":
            result.succeeded += 1
        elif row.status == "failed":
            result.failed[row.reason or "?"] += 1
        else:
            result.stuck += 1
    numbers = Counter(
        json.dumps(row.input.get("n"))
        for row in rows
        if isinstance(row.input, dict) and row.input.get("run") == tag
    )
    result.duplicates = sum(count - 1 for count in numbers.values() if count > 1)
    if fault_at is not None:
        created_after = back_at if back_at is not None else fault_at
        after = [
            _epoch(row.finished_at)
            for row in rows
            if row.finished_at is not None and _epoch(row.created_at) >= created_after
        ]
        result.recovery_seconds = round(min(after) - fault_at, 2) if after else None
    result.refused = load.refusals
    result.server_errors = load.server_errors
    return result


def _epoch(moment: datetime) -> float:
    return moment.timestamp()


@contextlib.asynccontextmanager
async def running(plane: ControlPlane) -> AsyncIterator[ControlPlane]:
    await plane.start()
    try:
        yield plane
    finally:
        await plane.stop()


Fault = Callable[[], Awaitable[None]]
