"""A database or Redis that is away answers 503 with Retry-After on every route, never 500;
a client that hangs up mid-body is one log line."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import httpx
import pytest

from control_plane.redis import EmbeddedRedis
from control_plane.settings import Settings
from tests.control_plane.triggers.triggers_helpers import (
    FlowUnderTest,
    make_flow,
    mark_running,
    running_app,
)


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # nothing listens there once the probe closes


async def test_an_unreachable_database_answers_503_with_retry_after(
    redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=f"postgresql://127.0.0.1:{closed_port()}/flowplane",
        redis_url=redis_url,
        run_migrations=False,
        background_tasks=False,
        log_level="WARNING",
    )
    async with running_app(settings) as (_, client):
        signup = await client.post(
            "/api/auth/signup", json={"email": "a@example.com", "password": "correct horse 1"}
        )
        webhook = await client.post("/api/triggers/abc/webhook/token", json={})
        health = await client.get("/health")
    for response in (signup, webhook):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "2"
        assert response.json()["error"] == "ServiceUnavailable"
        assert "the database is unavailable" in response.json()["detail"]
    assert health.status_code == 503 and health.headers["retry-after"] == "1"
    assert health.json()["checks"]["database"]["ok"] is False


async def test_an_unreachable_redis_answers_503_and_stores_nothing(
    settings: Settings, tmp_path: Path
) -> None:
    server = EmbeddedRedis(tmp_path / "own-redis")  # a Redis of this test's own, to stop
    server.start()
    try:
        async with running_app(settings.model_copy(update={"redis_url": server.url})) as (
            app,
            client,
        ):
            flow = await make_flow(client, start=False)
            await mark_running(app, flow.flow_id)
            server.stop()
            responses = await requests_during_the_outage(client, flow)
    finally:
        server.stop()
    first, second, status, health, executions = responses
    for response in (first, second, status):
        assert response.status_code == 503, response.text
        assert response.headers["retry-after"] == "1"
    assert "Redis" in second.json()["detail"]
    assert health.status_code == 503 and health.json()["checks"]["redis"]["ok"] is False
    assert executions.json()["items"] == []


async def requests_during_the_outage(
    client: httpx.AsyncClient, flow: FlowUnderTest
) -> list[httpx.Response]:
    first = await client.post(flow.webhook_url, json={})
    second = await client.post(flow.webhook_url, json={})  # refused before the body is read
    status = await client.get(f"/api/flows/{flow.flow_id}/status", headers=flow.account.headers)
    health = await client.get("/health")
    executions = await client.get(
        f"/api/flows/{flow.flow_id}/executions", headers=flow.account.headers
    )
    return [first, second, status, health, executions]


async def test_a_client_that_hangs_up_mid_body_is_one_log_line(
    settings: Settings, capsys: pytest.CaptureFixture[str]
) -> None:
    async with running_app(settings.model_copy(update={"log_level": "INFO"})) as (app, client):
        flow = await make_flow(client, start=False)
        await mark_running(app, flow.flow_id)
        messages = iter(
            [
                {"type": "http.request", "body": b'{"partial": ', "more_body": True},
                {"type": "http.disconnect"},
            ]
        )
        sent: list[dict[str, Any]] = []

        async def receive() -> dict[str, Any]:
            return next(messages)

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        capsys.readouterr()
        await app(
            {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": "POST",
                "scheme": "http",
                "path": flow.webhook_url,
                "raw_path": flow.webhook_url.encode(),
                "query_string": b"",
                "headers": [(b"content-type", b"application/json"), (b"host", b"testserver")],
                "client": ("127.0.0.1", 1234),
                "server": ("testserver", 80),
                "app": app,
            },
            receive,
            send,
        )
        output = capsys.readouterr()
        executions = await client.get(
            f"/api/flows/{flow.flow_id}/executions", headers=flow.account.headers
        )
    text = output.out + output.err
    assert "Traceback" not in text and "ClientDisconnect" not in text, text
    assert text.count("request.client_disconnected") == 1
    assert sent[0]["status"] == 499
    assert executions.json()["items"] == []
