"""Helpers for the pump tests: flows to start, waiting on status, the pump's real credential."""

from __future__ import annotations

import asyncio
import base64
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import AuthenticationError, NoPermissionError, ResponseError
from sqlalchemy import select

from control_plane.flows.models import Flow
from control_plane.pumps.backends import PumpRef
from control_plane.pumps.backends.process import ProcessBackend
from control_plane.pumps.orchestrator import Orchestrator
from control_plane.pumps.service import stop_flow
from pump.events import FINAL_EVENT_TYPES, Event, TriggerEntry
from pump.keys import FlowKeys, PumpEnv
from tests.control_plane.accounts.accounts_helpers import Account, sessions, set_tier, sign_up

WAIT_SECONDS = 30.0


def echo_yaml(name: str) -> str:
    """A one-step flow: a manual trigger into an output."""
    return f"""version: 1
organism: {{name: {name}}}
triggers:
  - {{name: run, kind: manual, target: done}}
listeners:
  - {{name: done, handler: builtin.output}}
"""


async def create_flow(client: httpx.AsyncClient, account: Account, yaml: str) -> str:
    response = await client.post(
        "/api/flows", json={"organism_yaml": yaml}, headers=account.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def eventually(
    probe: Callable[[], Awaitable[Any]], *, what: str, within: float = WAIT_SECONDS
) -> Any:
    """Poll `probe` until it returns something truthy; fail naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = await probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within:g}s waiting for {what}")
        await asyncio.sleep(0.05)


async def status_of(client: httpx.AsyncClient, account: Account, flow_id: str) -> dict[str, Any]:
    response = await client.get(f"/api/flows/{flow_id}/status", headers=account.headers)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def wait_for_status(
    client: httpx.AsyncClient,
    account: Account,
    flow_id: str,
    *,
    status: str,
    observed: str | None = None,
) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        body = await status_of(client, account, flow_id)
        if body["status"] == status and (observed is None or body["observed"] == observed):
            return body
        return None

    result: dict[str, Any] = await eventually(
        probe, what=f"flow {flow_id} to be {status}/{observed}"
    )
    return result


async def stored_flow(app: FastAPI, flow_id: str) -> Flow:
    async with sessions(app)() as session:
        flow = await session.scalar(select(Flow).where(Flow.id == flow_id))
        assert flow is not None
        return flow


def process_backend(app: FastAPI) -> ProcessBackend:
    backend = app.state.pumps.backend
    assert isinstance(backend, ProcessBackend)
    return backend


def process_exists(pid: int) -> bool:
    """A live process (not a zombie waiting to be reaped) has this pid."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(") ", 1)[1][0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in "ZX"


def sees_path(pid: int, path: Path | str) -> bool:
    """Whether process `pid` sees `path` in its own mount namespace."""
    return Path(f"/proc/{pid}/root{path}").exists()


def pump_pids(app: FastAPI, account: Account, flow_id: str) -> list[int]:
    return process_backend(app).pump_pids(PumpRef(account.tenant_id, flow_id))


def pump_environment(pid: int) -> dict[str, str]:
    """The environment a cold-started pump process was really given (a warm standby reads its
    environment from stdin instead, so tests that look here run without standbys)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = [item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item]
    return {key.decode(): value.decode() for key, value in pairs}


def pump_secrets(environment: dict[str, str]) -> dict[str, str]:
    decoded: dict[str, str] = json.loads(base64.b64decode(environment[PumpEnv.SECRETS]))
    return decoded


async def stop_every_flow(app: FastAPI) -> None:
    """Leave no pump running for the next test (the database is shared by the session)."""
    pumps: Orchestrator = app.state.pumps
    async with sessions(app)() as session:
        running = await session.scalars(select(Flow).where(Flow.desired_state == "running"))
        for flow in running:
            await stop_flow(session, pumps, flow)
        await session.commit()


def as_pump(url: str) -> Redis:
    """A client like the pump's (it sends no CLIENT SETINFO)."""
    return Redis.from_url(url, decode_responses=True, driver_info=None)


async def assert_confined(url: str, own: FlowKeys, foreign: list[FlowKeys]) -> None:
    """With the pump credential `url`: its own keys work; every key, channel and listing
    command outside them is refused with NOPERM."""
    client = as_pump(url)
    try:
        probe = own.prefix + "probe"  # not a key the pump or the recorder reads
        await client.set(probe, "1")
        await client.xadd(probe + "-stream", {"probe": "1"})
        await client.hset(probe + "-hash", "probe", "1")
        assert await client.exists(probe, probe + "-stream", probe + "-hash") == 3
        await client.delete(probe, probe + "-stream", probe + "-hash")
        for other in foreign:
            refused_elsewhere: list[tuple[str, ...]] = [
                ("SET", other.prefix + "probe", "1"),
                ("GET", other.prefix + "probe"),
                ("XADD", other.triggers, "*", "execution_id", "x"),
                ("HGET", other.heartbeat, "status"),
                ("XREADGROUP", "GROUP", "pump", "c", "STREAMS", other.triggers, ">"),
                ("DEL", other.logs),
                ("EVAL", "return redis.call('GET', KEYS[1])", "1", other.prefix + "x"),
                ("EVAL", f"return redis.call('SET', '{other.prefix}x', '1')", "0"),
                ("PUBLISH", other.prefix + "channel", "hi"),
            ]
            for command in refused_elsewhere:
                await _refused(client, command)
        refused_anywhere: list[tuple[str, ...]] = [
            ("SCAN", "0"),
            ("KEYS", "*"),
            ("SCAN", "0", "MATCH", own.pattern),
            ("FLUSHALL",),
            ("CONFIG", "GET", "*"),
            ("ACL", "LIST"),
            ("INFO",),
            ("CLIENT", "LIST"),
            ("PUBLISH", own.prefix + "channel", "hi"),
        ]
        for command in refused_anywhere:
            await _refused(client, command)
        pubsub = client.pubsub()
        for channels in ([own.prefix + "channel"], [foreign[0].prefix + "channel"]):
            with pytest.raises(NoPermissionError):
                await pubsub.subscribe(*channels)
                await pubsub.get_message(timeout=1.0)
        with pytest.raises(NoPermissionError):
            await pubsub.psubscribe("tenant:*")
            await pubsub.get_message(timeout=1.0)
        await pubsub.aclose()  # type: ignore[no-untyped-call]
    finally:
        await client.aclose()


async def assert_rejected(url: str) -> None:
    client = as_pump(url)
    try:
        with pytest.raises(AuthenticationError):
            await client.ping()
    finally:
        await client.aclose()


async def _refused(client: Redis, command: tuple[str, ...]) -> None:
    try:
        await client.execute_command(*command)  # type: ignore[no-untyped-call]
    except NoPermissionError:
        return
    except ResponseError as error:  # refused inside a script: same ACL check, other wording
        assert "can't access" in str(error) or "permission" in str(error).lower(), (command, error)
        return
    raise AssertionError(f"{' '.join(command)} was allowed")


async def send_trigger(app: FastAPI, tenant_id: str, flow_id: str, payload: Any) -> str:
    """Put a trigger on the flow's stream the way the trigger endpoints do (after their checks)."""
    execution_id = uuid.uuid4().hex
    entry = TriggerEntry(execution_id=execution_id, trigger="run", target="done", payload=payload)
    await app.state.redis.client.xadd(FlowKeys(tenant_id, flow_id).triggers, entry.encode())
    return execution_id


async def wait_for_completion(
    app: FastAPI, tenant_id: str, flow_id: str, execution_id: str
) -> Event:
    redis = app.state.redis.client
    events_key = FlowKeys(tenant_id, flow_id).events

    async def completed() -> Event | None:
        for _, fields in await redis.xrange(events_key):
            event = Event.decode(fields)
            if event.execution_id == execution_id and event.type in FINAL_EVENT_TYPES:
                return event
        return None

    event: Event = await eventually(completed, what=f"execution {execution_id} to finish")
    return event


async def sign_up_on(client: httpx.AsyncClient, app: FastAPI, tier: str = "pro") -> Account:
    """A new account on `tier` (pro by default: several flows, project memory)."""
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, tier)
    return account
