"""Pump start-up in a container (docker backend) beside the process backend, same run.

    infra/docker-engine.sh run .venv/bin/python bench/container_start.py [--runs 10]

Needs a Docker engine and the pump image: `infra/docker-engine.sh run` provides both (it sets
DOCKER_HOST and FLOWPLANE_TEST_PUMP_IMAGE); otherwise pass `--image`. Runs the control plane
in-process (SQLite in a temporary directory; Redis 7 on 127.0.0.1:6379 or the embedded
redis-server), creates a one-step flow and measures, `--runs` times each, POST start -> the
pump's heartbeat says `running`:

- process backend, cold (no warm standby): a fresh interpreter imports the pump;
- process backend, warm standby (the default);
- docker backend: a new container (create + start) on the host network, then the pump's imports.

Each run stops the flow (drain, container removed, ACL user deleted) before the next."""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from control_plane.app import create_app  # noqa: E402
from control_plane.settings import Settings  # noqa: E402
from pump.keys import FlowKeys  # noqa: E402
from tests.services import REDIS_TEST_URL, redis_reachable  # noqa: E402

ONE_STEP_FLOW = """version: 1
organism: {name: container-start}
triggers:
  - {name: run, kind: manual, target: done}
listeners:
  - {name: done, handler: builtin.output}
"""


async def start_to_ready_ms(runs: int, settings: Settings, pause: float) -> list[float]:
    app = create_app(settings)
    timings: list[float] = []
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=60
        ) as client:
            email = f"bench-{time.time_ns()}@example.com"
            signed_up = await client.post(
                "/api/auth/signup", json={"email": email, "password": "correct horse battery"}
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
                await asyncio.sleep(pause)  # a replacement standby warms up meanwhile
                began = time.perf_counter()
                response = await client.post(f"/api/flows/{flow_id}/start", headers=headers)
                assert response.status_code == 202, response.text
                while await redis.hget(heartbeat, "status") != "running":
                    if time.perf_counter() - began > 60:
                        raise RuntimeError("the pump did not become ready within 60 s")
                    await asyncio.sleep(0.002)
                timings.append((time.perf_counter() - began) * 1000)
                stopped = await client.post(f"/api/flows/{flow_id}/stop", headers=headers)
                assert stopped.status_code == 200, stopped.text
    return timings


def line(name: str, timings: list[float], baseline: float) -> str:
    p50 = statistics.median(timings)
    return (
        f"{name:<40} p50 {p50:7.1f} ms   max {max(timings):7.1f} ms   "
        f"{p50 / baseline:5.2f}x the process backend (cold)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--image", default=os.environ.get("FLOWPLANE_TEST_PUMP_IMAGE", ""))
    options = parser.parse_args()
    if not options.image:
        raise SystemExit("no pump image: run through infra/docker-engine.sh run, or pass --image")
    redis_url = REDIS_TEST_URL if redis_reachable() else ""
    with tempfile.TemporaryDirectory(prefix="flowplane-bench-") as temporary:
        directory = Path(temporary)

        def settings(name: str, **values: Any) -> Settings:
            return Settings(
                data_dir=directory / f"data-{name}",
                database_url=f"sqlite+aiosqlite:///{directory / f'{name}.db'}",
                redis_url=redis_url,
                log_level="WARNING",
                background_tasks=True,
                signups_per_address=1_000_000,  # runs sign up from one address on a shared Redis
                **values,
            )

        cold = await start_to_ready_ms(
            options.runs, settings("cold", pump_warm_standby=0), pause=0.2
        )
        warm = await start_to_ready_ms(
            options.runs, settings("warm", pump_warm_standby=1), pause=2.0
        )
        container = await start_to_ready_ms(
            options.runs,
            settings("docker", pump_backend="docker", pump_image=options.image,
                     docker_network="host"),
            pause=0.2,
        )  # fmt: skip
    baseline = statistics.median(cold)
    print(f"pump start -> ready, {options.runs} runs each (image {options.image})")
    print(line("process backend, cold (baseline)", cold, baseline))
    print(line("process backend, warm standby (default)", warm, baseline))
    print(line("docker backend, new container", container, baseline))


if __name__ == "__main__":
    asyncio.run(main())
