"""Acceptance: the control plane is SIGKILLed in the middle of a webhook load (its pumps die
with it) and started again; every webhook it had accepted still completes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from control_plane.settings import Settings
from tests.control_plane.triggers.load_helpers import statuses_by_id, webhook_load
from tests.control_plane.triggers.triggers_helpers import make_flow, wait_for

ROOT = Path(__file__).resolve().parents[3]


def server_environment(settings: Settings) -> dict[str, str]:
    return {
        **os.environ,
        "FLOWPLANE_DATABASE_URL": settings.resolved_database_url,
        "FLOWPLANE_REDIS_URL": settings.redis_url,
        "FLOWPLANE_DATA_DIR": str(settings.data_dir),
        "FLOWPLANE_RUN_MIGRATIONS": "false",
        "FLOWPLANE_LOG_LEVEL": "WARNING",
        "FLOWPLANE_RECONCILE_INTERVAL_SECONDS": "0.25",
        "FLOWPLANE_PUMP_RESTART_BACKOFF_SECONDS": "0.1",
        "FLOWPLANE_RECORDER_REFRESH_SECONDS": "0.2",
        "FLOWPLANE_RECORDER_CLAIM_IDLE_SECONDS": "1",
        "FLOWPLANE_REAPER_GRACE_SECONDS": "5",
        "FLOWPLANE_REAPER_INTERVAL_SECONDS": "1",
    }


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def control_plane(
    environment: dict[str, str], port: int
) -> AsyncIterator[asyncio.subprocess.Process]:
    command = [
        sys.executable, "-m", "uvicorn", "control_plane.app:create_app", "--factory",
        "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    process = await asyncio.create_subprocess_exec(*command, cwd=ROOT, env=environment)
    try:
        async with httpx.AsyncClient() as probe:

            async def up() -> bool:
                try:
                    await probe.get(f"http://127.0.0.1:{port}/health")
                except httpx.HTTPError:
                    return False
                return True

            await wait_for(up, bool, within=60, what="the control plane listening")
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 30)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_control_plane_killed_mid_load_loses_no_accepted_webhook(
    settings: Settings, database_url: str
) -> None:
    environment = server_environment(settings)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    restarted = asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        async with control_plane(environment, port) as first:
            flow = await make_flow(client)

            async def kill_and_restart(accepted: int) -> None:
                if accepted == 150 and first.returncode is None:
                    first.send_signal(signal.SIGKILL)  # no drain, no goodbye: a crash
                    await first.wait()
                    restarted.set()

            load = asyncio.create_task(
                webhook_load(
                    client,
                    flow.webhook_url,
                    total=400,
                    concurrency=16,
                    on_accepted=kill_and_restart,
                    retry_unreachable=True,
                )
            )
            await restarted.wait()
        async with control_plane(environment, port):
            result = await load
            accepted = set(result.accepted.values())
            assert len(accepted) >= 390, "webhooks are accepted again after the restart"

            def settled(statuses: dict[str, tuple[str, str | None]]) -> bool:
                finished = all(status in ("succeeded", "failed") for status, _ in statuses.values())
                return finished and all(
                    statuses.get(ident, ("?",))[0] == "succeeded" for ident in accepted
                )

            statuses = await wait_for(
                lambda: statuses_by_id(database_url, flow.flow_id),
                settled,
                within=120,
                interval=0.5,
                what=f"{len(accepted)} accepted webhooks succeeded",
            )
            # Executions whose 202 was lost in the crash either ran or were failed visibly by
            # the reaper (committed, never enqueued); none is left queued.
            unanswered = {
                ident: state for ident, state in statuses.items() if ident not in accepted
            }
            assert all(
                state == ("succeeded", None) or state == ("failed", "enqueue_lost")
                for state in unanswered.values()
            ), unanswered
