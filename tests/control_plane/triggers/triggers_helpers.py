"""Helpers for the trigger, execution and metrics tests: organisms, flows that run real pumps,
and polling for recorded executions."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import func, select, update

from control_plane.app import create_app
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account, sessions, sign_up
from tests.control_plane.pumps.pumps_helpers import stop_every_flow


def echo_yaml(name: str | None = None, *, extra_triggers: str = "") -> str:
    """webhook/manual -> one transform -> output."""
    name = name or f"echo-{uuid.uuid4().hex[:8]}"
    return f"""version: 1
organism: {{name: {name}}}
triggers:
  - {{name: inbound, kind: webhook, target: shape}}
  - {{name: run, kind: manual, target: shape}}
{extra_triggers}listeners:
  - name: shape
    handler: builtin.transform
    peers: [done]
    config: {{set: {{echo: "{{{{ payload }}}}"}}}}
  - {{name: done, handler: builtin.output}}
"""


def two_path_yaml() -> str:
    """`inbound` succeeds; `broken` fails (a loopback HTTP target the pump refuses)."""
    return f"""version: 1
organism: {{name: paths-{uuid.uuid4().hex[:8]}}}
triggers:
  - {{name: inbound, kind: webhook, target: shape}}
  - {{name: broken, kind: webhook, target: call}}
listeners:
  - name: shape
    handler: builtin.transform
    peers: [done]
    config: {{set: {{seen: true}}}}
  - {{name: done, handler: builtin.output}}
  - name: call
    handler: builtin.http
    config: {{method: GET, url: "http://127.0.0.1:9/nothing"}}
"""


def manual_only_yaml() -> str:
    return f"""version: 1
organism: {{name: manual-{uuid.uuid4().hex[:8]}}}
triggers:
  - {{name: run, kind: manual, target: done}}
listeners:
  - {{name: done, handler: builtin.output}}
"""


@dataclass(frozen=True)
class FlowUnderTest:
    account: Account
    flow_id: str
    webhook_url: str  # path with the token: /api/triggers/{id}/webhook/{token}
    token: str


def app_settings(settings: Settings, **changes: Any) -> Settings:
    """The test settings with background tasks (recorder, scheduler, reconciler) on."""
    values: dict[str, Any] = {"background_tasks": True, "recorder_refresh_seconds": 0.2}
    values.update(changes)
    return settings.model_copy(update=values)


@asynccontextmanager
async def running_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=60
        ) as client:
            try:
                yield application, client
            finally:  # the session's later reconcilers would start them again
                with suppress(Exception):  # some tests cut the app off its database or Redis
                    await stop_every_flow(application)


async def make_flow(
    client: httpx.AsyncClient,
    organism_yaml: str | None = None,
    *,
    account: Account | None = None,
    start: bool = True,
) -> FlowUnderTest:
    account = account or await sign_up(client)
    created = await client.post(
        "/api/flows", json={"organism_yaml": organism_yaml or echo_yaml()}, headers=account.headers
    )
    assert created.status_code == 201, created.text
    flow_id = created.json()["id"]
    rotated = await client.post(f"/api/flows/{flow_id}/webhook/rotate", headers=account.headers)
    assert rotated.status_code == 200, rotated.text
    token = rotated.json()["token"]
    if start:
        await start_flow(client, account, flow_id)
    return FlowUnderTest(account, flow_id, f"/api/triggers/{flow_id}/webhook/{token}", token)


async def mark_running(app: FastAPI, flow_id: str) -> None:
    """Run state without a pump: these tests are about refusals before anything runs."""
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow).where(Flow.id == flow_id).values(desired_state="running", status="running")
        )


async def start_flow(client: httpx.AsyncClient, account: Account, flow_id: str) -> None:
    started = await client.post(f"/api/flows/{flow_id}/start", headers=account.headers)
    assert started.status_code == 202, started.text
    await wait_for(
        lambda: _status(client, account, flow_id),
        lambda status: status == "running",
        within=30,
        what=f"flow {flow_id} running",
    )


async def _status(client: httpx.AsyncClient, account: Account, flow_id: str) -> str:
    response = await client.get(f"/api/flows/{flow_id}/status", headers=account.headers)
    return str(response.json()["status"])


async def wait_for(
    probe: Callable[[], Any],
    done: Callable[[Any], bool],
    *,
    within: float = 30.0,
    interval: float = 0.1,
    what: str = "condition",
) -> Any:
    deadline = time.monotonic() + within
    value: Any = None
    while time.monotonic() < deadline:
        value = await probe()
        if done(value):
            return value
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")


async def status_counts(app: FastAPI, flow_id: str) -> dict[str, int]:
    async with sessions(app)() as session:
        rows = await session.execute(
            select(Execution.status, func.count())
            .where(Execution.flow_id == flow_id)
            .group_by(Execution.status)
        )
        return {str(status): int(count) for status, count in rows}


async def wait_for_statuses(
    app: FastAPI, flow_id: str, expected: dict[str, int], within: float = 60.0
) -> dict[str, int]:
    counts: dict[str, int] = await wait_for(
        lambda: status_counts(app, flow_id),
        lambda counts: counts == expected,
        within=within,
        interval=0.2,
        what=f"executions {expected}",
    )
    return counts


def data_dir(settings: Settings) -> Path:
    return settings.data_dir
