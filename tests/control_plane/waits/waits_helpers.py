"""A flow with one wait of each kind, run by real pumps, and helpers to follow executions."""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from fastapi import FastAPI

from control_plane.settings import Settings
from tests.control_plane.pumps.conftest import fast_pump_settings
from tests.control_plane.pumps.pumps_helpers import pump_pids, stop_every_flow
from tests.control_plane.triggers.triggers_helpers import FlowUnderTest, running_app, wait_for


def waits_yaml(sink: str) -> str:
    return f"""version: 1
organism: {{name: waits-{uuid.uuid4().hex[:8]}}}
triggers:
  - {{name: timer, kind: manual, target: hit}}
  - {{name: event, kind: manual, target: await_event}}
  - {{name: approval, kind: manual, target: await_ok}}
  - {{name: slow, kind: manual, target: await_slow}}
  - {{name: steps, kind: manual, target: first}}
listeners:
  - name: hit
    handler: builtin.http
    peers: [pause]
    config: {{method: POST, url: "{sink}/hit", json: {{order: "{{{{ payload.order }}}}"}}}}
  - name: pause
    handler: builtin.wait
    peers: [done]
    config: {{kind: timer, seconds: 2}}
  - name: await_event
    handler: builtin.wait
    peers: [done]
    config: {{kind: event, topic: order.paid, correlation: "{{{{ payload.order }}}}"}}
  - name: await_ok
    handler: builtin.wait
    peers: [done]
    config: {{kind: approval, message: "ship {{{{ payload.order }}}}?"}}
  - name: await_slow
    handler: builtin.wait
    peers: [done, late]
    config: {{kind: event, topic: never, correlation: x, timeout_seconds: 1, on_timeout: late}}
  - name: late
    handler: builtin.output
    config: {{expression: "{{late: payload.order}}"}}
  - {{name: done, handler: builtin.output}}
  - name: first
    handler: builtin.http
    peers: [second]
    config: {{method: POST, url: "{sink}/first", json: {{order: "{{{{ payload.order }}}}"}}}}
  - name: second
    handler: builtin.transform
    peers: [third]
    config: {{set: {{second: true}}}}
  - name: third
    handler: builtin.http
    peers: [done]
    timeout_seconds: 1
    config: {{method: POST, url: "{{{{ payload.json.third_url }}}}", json: {{}}}}
limits: {{timeout_seconds: 4}}
"""


def wait_settings(settings: Settings, **changes: Any) -> Settings:
    values: dict[str, Any] = {
        "background_tasks": True,
        "recorder_refresh_seconds": 0.2,
        "wait_poll_seconds": 0.2,
        "pump_http_allowlist": "127.0.0.1",
        **changes,
    }
    return fast_pump_settings(settings, **values)


@asynccontextmanager
async def waits_app(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(settings) as (app, client):
        try:
            yield app, client
        finally:
            await stop_every_flow(app)


async def run(client: httpx.AsyncClient, flow: FlowUnderTest, trigger: str, **payload: Any) -> str:
    response = await client.post(
        f"/api/triggers/{flow.flow_id}/inject",
        json={"trigger": trigger, "payload": payload},
        headers=flow.account.headers,
    )
    assert response.status_code == 202, response.text
    return str(response.json()["execution_id"])


async def execution(client: httpx.AsyncClient, flow: FlowUnderTest, ident: str) -> dict[str, Any]:
    response = await client.get(f"/api/executions/{ident}", headers=flow.account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def reaches(
    client: httpx.AsyncClient, flow: FlowUnderTest, ident: str, status: str, within: float = 60
) -> dict[str, Any]:
    body: dict[str, Any] = await wait_for(
        lambda: execution(client, flow, ident),
        lambda body: body["status"] == status,
        within=within,
        interval=0.1,
        what=f"execution {ident} {status}",
    )
    return body


def kill_pump(app: FastAPI, flow: FlowUnderTest) -> int:
    [pid] = pump_pids(app, flow.account, flow.flow_id)
    os.kill(pid, signal.SIGKILL)
    return pid
