"""Pump start-up with the process backend: start request -> ready, beside a bare subprocess.

    .venv/bin/python bench/pump_cold_start.py [--runs 10]

Runs the control plane in-process (SQLite in a temporary directory; Redis 7 on 127.0.0.1:6379,
or the embedded redis-server when none runs there; the process backend with bubblewrap when it
is installed), signs up, creates a one-step flow, then measures, `--runs` times each:

- baseline: `python -c pass` as a subprocess (spawn -> exit) with the same interpreter;
- cold start: POST /api/flows/{id}/start -> the pump's heartbeat says `running`, with no warm
  standby (a fresh sandboxed interpreter imports the pump);
- warm start: the same with `pump_warm_standby=1` (the default): the start hands the flow to an
  interpreter that already imported the pump.

"Ready" is the pump's own heartbeat status `running`, polled in Redis every millisecond: the
pump has its ACL credential, has connected, created its consumer group and is reading triggers.
Each run stops the flow (drain, ACL user deleted) before the next."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from control_plane.app import create_app  # noqa: E402
from control_plane.settings import Settings  # noqa: E402
from pump.keys import FlowKeys  # noqa: E402
from tests.services import REDIS_TEST_URL, redis_reachable  # noqa: E402

ONE_STEP_FLOW = """version: 1
organism: {name: cold-start}
triggers:
  - {name: run, kind: manual, target: done}
listeners:
  - {name: done, handler: builtin.output}
"""
TARGET_MS = 500.0


def baseline_ms(runs: int) -> list[float]:
    timings = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        timings.append((time.perf_counter() - began) * 1000)
    return timings


async def start_to_ready_ms(
    runs: int, *, warm_standby: int, directory: Path
) -> tuple[list[float], str]:
    redis_url = REDIS_TEST_URL if redis_reachable() else ""
    settings = Settings(
        data_dir=directory / f"data-{warm_standby}",
        database_url=f"sqlite+aiosqlite:///{directory / f'flowplane-{warm_standby}.db'}",
        redis_url=redis_url,
        log_level="WARNING",
        background_tasks=True,  # as `flowplane up`: the reconciler keeps the warm standby
        pump_warm_standby=warm_standby,
        signups_per_address=1_000_000,  # runs sign up from one address on a shared Redis
    )
    app = create_app(settings)
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        sandbox = str(app.state.pumps.health().get("sandbox"))
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            signed_up = await client.post(
                "/api/auth/signup",
                json={
                    "email": f"bench-{time.time_ns()}@example.com",
                    "password": "correct horse battery",
                },
            )
            body = signed_up.json()
            headers = {"Authorization": f"Bearer {body['token']}"}
            created = await client.post(
                "/api/flows", json={"organism_yaml": ONE_STEP_FLOW}, headers=headers
            )
            flow_id = created.json()["id"]
            heartbeat = FlowKeys(body["tenant"]["id"], flow_id).heartbeat
            redis = app.state.redis.client
            for _ in range(runs):
                await asyncio.sleep(
                    2.0 if warm_standby else 0.2
                )  # let a replacement standby warm up
                began = time.perf_counter()
                response = await client.post(f"/api/flows/{flow_id}/start", headers=headers)
                assert response.status_code == 202, response.text
                while await redis.hget(heartbeat, "status") != "running":
                    if time.perf_counter() - began > 30:
                        raise RuntimeError("the pump did not become ready within 30 s")
                    await asyncio.sleep(0.001)
                timings.append((time.perf_counter() - began) * 1000)
                stopped = await client.post(f"/api/flows/{flow_id}/stop", headers=headers)
                assert stopped.status_code == 200, stopped.text
    return timings, sandbox


def summary(name: str, timings: list[float], baseline: float) -> str:
    ordered = sorted(timings)
    p50 = statistics.median(ordered)
    worst = ordered[-1]
    return (
        f"{name:<36} p50 {p50:7.1f} ms   max {worst:7.1f} ms   "
        f"{p50 / baseline:5.1f}x baseline   target <= {TARGET_MS:.0f} ms: {'met' if p50 <= TARGET_MS else 'MISSED'}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="flowplane-bench-") as temporary:
        directory = Path(temporary)
        base = baseline_ms(options.runs)
        cold, sandbox = await start_to_ready_ms(options.runs, warm_standby=0, directory=directory)
        warm, _ = await start_to_ready_ms(options.runs, warm_standby=1, directory=directory)
    base_p50 = statistics.median(base)
    print(f"pump start -> ready, process backend (sandbox: {sandbox}), {options.runs} runs each")
    print(
        f"{'baseline: python -c pass subprocess':<36} p50 {base_p50:7.1f} ms   max {max(base):7.1f} ms"
    )
    print(summary("cold start (no warm standby)", cold, base_p50))
    print(summary("start with a warm standby (default)", warm, base_p50))


if __name__ == "__main__":
    asyncio.run(main())
