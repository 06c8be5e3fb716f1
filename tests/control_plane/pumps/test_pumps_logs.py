"""GET /api/flows/{id}/logs: Server-Sent Events over a real HTTP server (history, live lines,
Last-Event-ID resumption, the query-string token EventSource needs)."""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from control_plane.pumps.logs import log_line
from pump.keys import FlowKeys
from tests.control_plane.pumps.pumps_helpers import create_flow, echo_yaml, sign_up_on


@pytest.fixture
async def server_url(pump_app: FastAPI) -> AsyncIterator[str]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        pump_app, host="127.0.0.1", port=port, lifespan="off", log_level="warning"
    )
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    for _ in range(1000):
        if server.started:
            break
        await asyncio.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    await task


class EventReader:
    """Parses the `log` events of one SSE response."""

    def __init__(self, response: httpx.Response) -> None:
        self.lines = response.aiter_lines()

    async def take(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = []
        current: dict[str, str] = {}
        deadline = time.monotonic() + within
        while len(events) < count:
            remaining = max(0.1, deadline - time.monotonic())
            line = await asyncio.wait_for(anext(self.lines), timeout=remaining)
            if line.startswith(("id:", "event:", "data:")):
                key, value = line.split(":", 1)
                current[key] = value.strip()
            elif line == "" and "data" in current:
                assert current["event"] == "log"
                data = json.loads(current["data"])
                assert data["id"] == current["id"]
                events.append(data)
                current = {}
        return events


async def add_line(app: FastAPI, keys: FlowKeys, message: str, **extra: str) -> str:
    fields = {"ts": repr(time.time()), "level": "info", "message": message, **extra}
    entry_id: str = await app.state.redis.client.xadd(keys.logs, fields)
    return entry_id


async def test_logs_stream_history_then_live_lines(
    pump_app: FastAPI, pump_client: httpx.AsyncClient, server_url: str
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("chatty"))
    keys = FlowKeys(owner.tenant_id, flow_id)
    await add_line(pump_app, keys, "first")
    second = await add_line(pump_app, keys, "second", execution_id="e1", listener="done", step="2")
    await add_line(pump_app, keys, "third", level="error")
    url = f"{server_url}/api/flows/{flow_id}/logs"

    async with httpx.AsyncClient(timeout=10) as http:
        params = {"history": "2"}
        async with http.stream("GET", url, params=params, headers=owner.headers) as response:
            assert response.status_code == 200
            assert response.headers["content-type"].startswith("text/event-stream")
            reader = EventReader(response)
            history = await reader.take(2)
            assert [event["message"] for event in history] == ["second", "third"]
            assert history[0] == {
                "id": second, "ts": history[0]["ts"], "level": "info", "message": "second",
                "execution_id": "e1", "listener": "done", "step": 2,
            }  # fmt: skip
            await add_line(pump_app, keys, "live")
            [live] = await reader.take(1)
            assert live["message"] == "live"

        resumed_headers = {"Last-Event-ID": second, "Authorization": f"Bearer {owner.token}"}
        async with http.stream("GET", url, headers=resumed_headers) as response:
            resumed = await EventReader(response).take(2)
            assert [event["message"] for event in resumed] == ["third", "live"]

        everything = await http.get(url, params={"follow": "false"}, headers=owner.headers)
        assert everything.status_code == 200 and everything.text.count("event: log") == 4
        since = await http.get(url, params={"follow": "false"}, headers=resumed_headers)
        assert since.text.count("event: log") == 2 and '"message":"third"' in since.text

        # the token is never read from the URL (access logs and history would keep it)
        assert (await http.get(url, params={"token": owner.token})).status_code == 401
        assert (await http.get(url)).status_code == 401
        malformed = await http.get(url, headers={**resumed_headers, "Last-Event-ID": "nope"})
        assert malformed.status_code == 422


def test_log_lines_tolerate_missing_fields() -> None:
    line = log_line("1-0", {"message": "bare"})
    assert (line.level, line.ts, line.execution_id, line.step) == ("info", 0.0, None, None)
    assert log_line("2-0", {"ts": "x", "step": "two"}).step is None
