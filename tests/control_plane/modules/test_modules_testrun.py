"""The editor's Test panel (POST /api/modules/{id}/test): one sandboxed invocation with the
pump's limits, reporting result, log lines, fuel and time; the starter templates; build and
test-run rates per workspace."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI

from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account
from tests.control_plane.modules.modules_helpers import (
    ECHO_WAT,
    PLAIN_ABI_SOURCE,
    b64,
    create_module,
    modules_settings,
    pro_account,
    wasm_of,
)
from tests.control_plane.triggers.triggers_helpers import running_app

LOOP_WAT = ECHO_WAT.replace(
    '(func (export "handle") (param $ptr i32) (param $len i32) (result i64)',
    '(func (export "handle") (param $ptr i32) (param $len i32) (result i64)\n    (loop $forever (br $forever))',
)


async def test_run(
    client: httpx.AsyncClient, account: Account, module_id: str, **body: Any
) -> dict[str, Any]:
    response = await client.post(
        f"/api/modules/{module_id}/test", json=body, headers=account.headers, timeout=60
    )
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


test_run.__test__ = False  # type: ignore[attr-defined]  # a helper, not a test


async def templates(client: httpx.AsyncClient, account: Account) -> dict[str, dict[str, Any]]:
    response = await client.get("/api/modules/templates", headers=account.headers)
    assert response.status_code == 200
    return {item["id"]: item for item in response.json()}


@pytest.fixture
async def api_server() -> AsyncIterator[str]:
    """A JSON API on the loopback (allowed by the test settings' pump_http_allowlist)."""

    async def items(request: web.Request) -> web.Response:
        return web.json_response({"items": [1, 2, 3], "method": request.method})

    application = web.Application()
    application.router.add_route("*", "/items", items)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield f"http://127.0.0.1:{port}/items"
    finally:
        await runner.cleanup()


async def test_the_starter_templates_build_and_run(settings: Settings, api_server: str) -> None:
    async with running_app(modules_settings(settings)) as (app, client):
        account = await pro_account(client, app)
        starters = await templates(client, account)
        assert sorted(starters) == ["http-fetch", "json-transform", "memory-counter"]
        ids: dict[str, str] = {}
        for template_id, template in starters.items():
            capabilities = template["capabilities"]
            if template_id == "http-fetch":
                capabilities = {"http_fetch": {"hosts": ["127.0.0.1"]}}
            created = await create_module(
                client, account, template_id, source=template["source"], capabilities=capabilities
            )
            assert created.status_code == 201, (template_id, created.text)
            ids[template_id] = created.json()["id"]

        transform = await test_run(
            client, account, ids["json-transform"],
            payload={"name": "Ada", "tags": ["x", "y"]}, config={"prefix": "Hi"},
        )  # fmt: skip
        assert transform["ok"] and transform["error"] is None
        assert transform["result"]["greeting"] == "Hi, Ada!"
        assert transform["result"]["tag_count"] == 2
        assert transform["logs"] == [{"level": "info", "message": "greeting Ada with 2 tags"}]
        assert transform["fuel_used"] > 0 and transform["duration_ms"] > 0
        assert transform["version"] == 1 and transform["memory"] is None

        counter = ids["memory-counter"]
        first = await test_run(client, account, counter, payload={"key": "visits"}, memory={})
        assert first["result"] == {"key": "count:visits", "count": 1, "stored": True}
        assert first["memory"] == {"count:visits": 1}
        later = await test_run(
            client, account, counter, payload={"key": "visits"}, memory={"count:visits": 41}
        )
        assert later["result"]["count"] == 42 and later["memory"] == {"count:visits": 42}
        off = await test_run(client, account, counter, payload={"key": "visits"})
        assert off["result"]["stored"] is False
        assert any("memory is off" in line["message"] for line in off["logs"])

        fetched = await test_run(client, account, ids["http-fetch"], config={"url": api_server})
        assert fetched["ok"], fetched
        assert fetched["result"] == {"status": 200, "data": {"items": [1, 2, 3], "method": "GET"}}

        elsewhere = await client.post(
            f"/api/modules/{ids['http-fetch']}/versions",
            json={
                "source": starters["http-fetch"]["source"],
                "capabilities": {"http_fetch": {"hosts": ["api.example.com"]}},
            },
            headers=account.headers,
            timeout=120,
        )
        assert elsewhere.status_code == 201 and elsewhere.json()["version"] == 2
        refused = await test_run(client, account, ids["http-fetch"], config={"url": api_server})
        assert not refused["ok"] and refused["version"] == 2
        assert refused["error"]["reason"] == "handler_error"
        assert "not among the hosts the module declared" in refused["error"]["message"]
        pinned = await test_run(
            client, account, ids["http-fetch"], version=1, config={"url": api_server}
        )
        assert pinned["ok"] and pinned["version"] == 1


async def test_runs_report_the_modules_failures(app: FastAPI, client: httpx.AsyncClient) -> None:
    account = await pro_account(client, app)
    loop = await create_module(client, account, "loop", wasm_base64=b64(wasm_of(LOOP_WAT)))
    assert loop.status_code == 201, loop.text
    stuck = await test_run(client, account, loop.json()["id"], payload={})
    assert not stuck["ok"] and stuck["error"]["reason"] in {"out_of_fuel", "deadline"}
    assert stuck["fuel_used"] > 0

    plain = await create_module(client, account, "plain", source=PLAIN_ABI_SOURCE)
    assert plain.status_code == 201, plain.text
    assert plain.json()["version"]["imports"] == ["log"]
    ran = await test_run(client, account, plain.json()["id"], payload={"a": 1})
    assert ran["ok"] and ran["result"]["random_ok"] is True
    assert ran["logs"][0]["level"] == "debug" and ran["logs"][0]["message"].startswith(
        "input bytes"
    )
    missing = await client.post(
        f"/api/modules/{loop.json()['id']}/test", json={"version": 7}, headers=account.headers
    )
    assert missing.status_code == 404 and "no version 7" in missing.json()["detail"]


async def test_builds_and_test_runs_are_rate_limited_per_workspace(settings: Settings) -> None:
    limited = settings.model_copy(
        update={"module_builds_per_minute": 1, "module_test_runs_per_minute": 2}
    )
    async with running_app(limited) as (app, client):
        account = await pro_account(client, app)
        other = await pro_account(client, app)
        first = await create_module(client, account, "plain", source=PLAIN_ABI_SOURCE)
        assert first.status_code == 201, first.text
        second = await create_module(client, account, "again", source=PLAIN_ABI_SOURCE)
        assert second.status_code == 429, second.text
        assert int(second.headers["Retry-After"]) >= 1
        assert "1 builds per minute" in second.json()["detail"]
        elsewhere = await create_module(client, other, "plain", source=PLAIN_ABI_SOURCE)
        assert elsewhere.status_code == 201, "another workspace has its own budget"
        uploads = await create_module(client, account, "upload", wasm_base64=b64(wasm_of(ECHO_WAT)))
        assert uploads.status_code == 201, "uploads are not builds"

        module_id = first.json()["id"]
        for _ in range(2):
            await test_run(client, account, module_id, payload={})
        third = await client.post(
            f"/api/modules/{module_id}/test", json={}, headers=account.headers
        )
        assert third.status_code == 429 and "Retry-After" in third.headers
