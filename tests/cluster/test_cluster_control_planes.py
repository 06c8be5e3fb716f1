"""Two control-plane processes (`flowplane up` on two ports) sharing one Postgres database and
one Redis: webhooks to either are executed, killing the reconciler leader hands leadership to
the other and its crashed pumps are restarted, and schedules fire exactly once across both."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from redis.asyncio import Redis

from control_plane.db import migrate
from control_plane.pumps.reconciler import leader_lock_key
from control_plane.settings import Settings
from pump.keys import FlowKeys
from tests.control_plane.triggers.test_triggers_schedules import scheduled_yaml
from tests.control_plane.triggers.triggers_helpers import echo_yaml
from tests.services import REQUIRE_SERVICES, fresh_postgres_database, postgres_reachable

FLOWPLANE = Path(sys.executable).parent / "flowplane"
RECONCILE_INTERVAL_SECONDS = 1.0


@dataclass
class ControlPlane:
    port: int
    process: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def shared_database() -> Iterator[str]:
    if not postgres_reachable():
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but Postgres is not reachable")
        pytest.skip("several control planes share a Postgres database; none is reachable")
    with fresh_postgres_database() as url:
        asyncio.run(migrate(url))
        yield url


def start_control_plane(environment: dict[str, str], port: int, log: Path) -> ControlPlane:
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(FLOWPLANE), "up", "--host", "127.0.0.1", "--port", str(port)],
            env=environment, stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    return ControlPlane(port, process)


async def wait_healthy(http: httpx.AsyncClient, plane: ControlPlane) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert plane.process.poll() is None, f"control plane on {plane.port} exited"
        try:
            if (await http.get(f"{plane.url}/health")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        await asyncio.sleep(0.2)
    raise AssertionError(f"control plane on {plane.port} did not become healthy")


async def leads(http: httpx.AsyncClient, plane: ControlPlane) -> bool:
    body = (await http.get(f"{plane.url}/health")).json()
    return bool(body["checks"]["pumps"]["reconciler"]["leader"])


async def until(probe: Any, what: str, within: float = 60.0) -> Any:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        value = await probe()
        if value:
            return value
        await asyncio.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


async def test_two_control_planes_share_the_work_and_hand_over_leadership(
    shared_database: str, redis_url: str, tmp_path: Path, unused_tcp_port_factory: Any
) -> None:
    environment = {
        **os.environ,
        "DATABASE_URL": shared_database,
        "REDIS_URL": redis_url,
        "FLOWPLANE_DATA_DIR": str(tmp_path / "data"),  # one machine: pid files are shared
        "FLOWPLANE_SECRETS_KEY": Fernet.generate_key().decode(),
        "FLOWPLANE_RUN_MIGRATIONS": "false",
        "FLOWPLANE_LOG_LEVEL": "WARNING",
        "FLOWPLANE_DEFAULT_TIER": "enterprise",
        "FLOWPLANE_RECONCILE_INTERVAL_SECONDS": str(RECONCILE_INTERVAL_SECONDS),
        "FLOWPLANE_PUMP_WARM_STANDBY": "0",
        "FLOWPLANE_PUMP_STOP_TIMEOUT_SECONDS": "5",
        "FLOWPLANE_PUMP_RESTART_BACKOFF_SECONDS": "0.2",
        "FLOWPLANE_RECORDER_REFRESH_SECONDS": "0.2",
        "FLOWPLANE_SCHEDULER_TICK_UNIT": "second",
    }
    planes = [
        start_control_plane(environment, unused_tcp_port_factory(), tmp_path / f"cp-{n}.log")
        for n in range(2)
    ]
    redis = Redis.from_url(redis_url, decode_responses=True)
    try:
        async with httpx.AsyncClient(timeout=30) as http:
            for plane in planes:
                await wait_healthy(http, plane)
            leader = await until(
                lambda: _leader(http, planes), "one of the two to lead the reconciler"
            )
            [follower] = [plane for plane in planes if plane is not leader]
            assert not await leads(http, follower)

            # Sign up and start two flows through the leader: their pumps are its children.
            signed_up = await http.post(
                f"{leader.url}/api/auth/signup",
                json={
                    "email": f"ops-{time.time_ns()}@example.com",
                    "password": "correct horse battery",
                },
            )
            assert signed_up.status_code == 201, signed_up.text
            body = signed_up.json()
            headers = {"Authorization": f"Bearer {body['token']}"}
            tenant_id = body["tenant"]["id"]
            webhook_flow = await _flow(http, leader, headers, echo_yaml())
            scheduled_flow = await _flow(http, leader, headers, scheduled_yaml("* * * * *"))
            rotated = await http.post(
                f"{leader.url}/api/flows/{webhook_flow}/webhook/rotate", headers=headers
            )
            webhook_path = f"/api/triggers/{webhook_flow}/webhook/{rotated.json()['token']}"
            for flow_id in (webhook_flow, scheduled_flow):
                started = await http.post(
                    f"{leader.url}/api/flows/{flow_id}/start", headers=headers
                )
                assert started.status_code == 202, started.text
                await until(
                    lambda flow_id=flow_id: _status_is(http, follower, headers, flow_id, "running"),
                    f"flow {flow_id} running",
                )

            # Webhooks to either control plane are executed.
            for plane in planes:
                for n in range(10):
                    accepted = await http.post(f"{plane.url}{webhook_path}", json={"n": n})
                    assert accepted.status_code == 202, accepted.text
            await until(
                lambda: _succeeded(http, follower, headers, webhook_flow, 20), "20 executions"
            )

            # Kill the leader: the follower takes the lease and restarts the pumps that died
            # with it (process pumps die with the control plane that started them).
            settings = Settings(database_url=shared_database)
            lease_ms = await redis.pttl(leader_lock_key(settings))
            assert 0 < lease_ms <= settings.reconciler_lease_seconds * 1000  # handover bound
            killed_at = time.monotonic()
            os.killpg(leader.process.pid, signal.SIGKILL)
            leader.process.wait(timeout=10)
            await until(lambda: leads(http, follower), "the follower to take the lead")
            handover = time.monotonic() - killed_at
            print(f"leadership handed over {handover:.2f} s after SIGKILL of the leader")
            for n in range(10):
                accepted = await http.post(f"{follower.url}{webhook_path}", json={"after": n})
                assert accepted.status_code == 202, accepted.text
            await until(
                lambda: _succeeded(http, follower, headers, webhook_flow, 30),
                "the 10 webhooks after the handover",
            )
            scheduled_before = await _succeeded_count(http, follower, headers, scheduled_flow)
            await until(
                lambda: _more_succeeded(http, follower, headers, scheduled_flow, scheduled_before),
                "schedules firing after the handover",
            )

            # Every tick was put on the stream once, by one of the two schedulers.
            entries = await redis.xrange(FlowKeys(tenant_id, scheduled_flow).triggers)
            executions = Counter(fields["execution_id"] for _, fields in entries)
            assert executions and max(executions.values()) == 1, executions
    finally:
        await redis.aclose()
        for plane in planes:
            if plane.process.poll() is None:
                plane.process.send_signal(signal.SIGTERM)
        for plane in planes:
            try:
                plane.process.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(plane.process.pid, signal.SIGKILL)


async def _leader(http: httpx.AsyncClient, planes: list[ControlPlane]) -> ControlPlane | None:
    leaders = [plane for plane in planes if await leads(http, plane)]
    return leaders[0] if len(leaders) == 1 else None


async def _flow(
    http: httpx.AsyncClient, plane: ControlPlane, headers: dict[str, str], yaml: str
) -> str:
    created = await http.post(
        f"{plane.url}/api/flows", json={"organism_yaml": yaml}, headers=headers
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


async def _status_is(
    http: httpx.AsyncClient, plane: ControlPlane, headers: dict[str, str], flow: str, status: str
) -> bool:
    response = await http.get(f"{plane.url}/api/flows/{flow}/status", headers=headers)
    return bool(response.json()["status"] == status)


async def _succeeded_count(
    http: httpx.AsyncClient, plane: ControlPlane, headers: dict[str, str], flow: str
) -> int:
    response = await http.get(
        f"{plane.url}/api/flows/{flow}/executions?status=succeeded&limit=200", headers=headers
    )
    return len(response.json()["items"])


async def _succeeded(
    http: httpx.AsyncClient, plane: ControlPlane, headers: dict[str, str], flow: str, count: int
) -> bool:
    return await _succeeded_count(http, plane, headers, flow) >= count


async def _more_succeeded(
    http: httpx.AsyncClient, plane: ControlPlane, headers: dict[str, str], flow: str, than: int
) -> bool:
    return await _succeeded_count(http, plane, headers, flow) > than + 2
