"""Acceptance of custom code (issue 10) on SQLite and Postgres, with the local blob store and
with S3 (moto's server): from source to a running flow, pinned versions, refusals that store
nothing, the plan limit, and deleting."""

from __future__ import annotations

import hashlib
from typing import Any

import httpx
from fastapi import FastAPI

from control_plane.modules.models import Module
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account, count_rows
from tests.control_plane.modules.modules_helpers import (
    ECHO_WAT,
    SHOUT_SOURCE,
    SHOUT_SOURCE_V2,
    b64,
    code_flow_yaml,
    create_module,
    modules_settings,
    pro_account,
    stored_blobs,
    wasm_of,
)
from tests.control_plane.triggers.triggers_helpers import running_app, start_flow, wait_for

FORBIDDEN_IMPORT_WAT = ECHO_WAT.replace(
    "(memory (export",
    '(import "env" "read_file" (func $read (param i32) (result i32)))\n  (memory (export',
)
NO_HANDLE_WAT = ECHO_WAT[: ECHO_WAT.index('  (func (export "handle")')] + ")"
HTTP_WAT = ECHO_WAT.replace(
    "(memory (export",
    '(import "flowplane" "http_fetch" (func $fetch (param i32 i32) (result i64)))\n  (memory (export',
)


async def run(client: httpx.AsyncClient, account: Account, flow_id: str, payload: Any) -> Any:
    response = await client.post(
        f"/api/triggers/{flow_id}/inject?wait=true",
        json={"payload": payload},
        headers=account.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "succeeded", body
    return body["outputs"]


async def test_a_module_built_from_source_runs_in_a_flow_and_stays_pinned(
    module_app_settings: Settings,
) -> None:
    async with running_app(module_app_settings) as (app, client):
        account = await pro_account(client, app)
        created = await create_module(client, account, "shout", source=SHOUT_SOURCE)
        assert created.status_code == 201, created.text
        body = created.json()
        module_id, first = body["id"], body["version"]
        assert body["latest_version"] == 1 and body["used_by"] == []
        assert first["reference"] == "wasm:shout@1" and first["source"] == SHOUT_SOURCE
        assert first["source_kind"] == "assemblyscript" and first["imports"] == ["log"]
        assert first["toolchain"].startswith("assemblyscript ")
        assert {"memory", "alloc", "handle"} <= {item["name"] for item in first["exports"]}
        stored = await app.state.blobs.get(first["sha256"])
        assert hashlib.sha256(stored).hexdigest() == first["sha256"]
        assert len(stored) == first["size_bytes"]

        flow = await client.post(
            "/api/flows",
            json={"organism_yaml": code_flow_yaml("uses-shout", "wasm:shout@1")},
            headers=account.headers,
        )
        assert flow.status_code == 201, flow.text
        flow_id = flow.json()["id"]
        await start_flow(client, account, flow_id)
        assert await run(client, account, flow_id, {"name": "ada"}) == [
            {"shout": "ADA!", "version": 1}
        ]

        second = await client.post(
            f"/api/modules/{module_id}/versions", json={"source": SHOUT_SOURCE_V2},
            headers=account.headers, timeout=120,
        )  # fmt: skip
        assert second.status_code == 201, second.text
        assert second.json()["version"] == 2 and second.json()["sha256"] != first["sha256"]
        again = await client.post(
            f"/api/modules/{module_id}/versions", json={"source": SHOUT_SOURCE_V2},
            headers=account.headers, timeout=120,
        )  # fmt: skip
        assert again.status_code == 200 and again.json()["version"] == 2, "unchanged: no v3"

        # the flow is pinned to version 1: neither the running pump nor a restart changes that
        assert await run(client, account, flow_id, {"name": "bo"}) == [
            {"shout": "BO!", "version": 1}
        ]
        stopped = await client.post(f"/api/flows/{flow_id}/stop", headers=account.headers)
        assert stopped.status_code == 200, stopped.text
        await start_flow(client, account, flow_id)
        assert await run(client, account, flow_id, {"name": "cy"}) == [
            {"shout": "CY!", "version": 1}
        ]

        listed = await client.get("/api/modules", headers=account.headers)
        assert [(item["name"], item["latest_version"]) for item in listed.json()] == [("shout", 2)]
        history = await client.get(f"/api/modules/{module_id}", headers=account.headers)
        assert [item["version"] for item in history.json()["versions"]] == [2, 1]
        assert history.json()["used_by"] == ["uses-shout"]
        old = await client.get(f"/api/modules/{module_id}/versions/1", headers=account.headers)
        assert old.json()["source"] == SHOUT_SOURCE

        refused = await client.delete(f"/api/modules/{module_id}", headers=account.headers)
        assert refused.status_code == 409, refused.text
        assert "flow 'uses-shout'" in refused.json()["detail"]
        assert refused.json()["used_by"] == ["flow 'uses-shout'"]

        moved = await client.put(
            f"/api/flows/{flow_id}",
            json={"organism_yaml": code_flow_yaml("uses-shout", "wasm:shout@2")},
            headers=account.headers,
        )
        assert moved.status_code == 200, moved.text
        await start_flow(client, account, flow_id)  # a changed organism restarts the pump
        assert await run(client, account, flow_id, {"name": "di"}) == [
            {"shout": "DI!!", "version": 2}
        ]

        assert (await client.delete(f"/api/flows/{flow_id}", headers=account.headers)).is_success
        deleted = await client.delete(f"/api/modules/{module_id}", headers=account.headers)
        assert deleted.status_code == 204, deleted.text
        gone = await client.get(f"/api/modules/{module_id}", headers=account.headers)
        assert gone.status_code == 404
        await wait_for(
            lambda: stored_blobs(app.state.blobs),
            lambda hashes: not hashes & {first["sha256"], second.json()["sha256"]},
            what="the deleted module's blobs to be collected",
        )


async def test_refused_modules_store_nothing(module_app_settings: Settings) -> None:
    async with running_app(module_app_settings) as (app, client):
        account = await pro_account(client, app)
        broken = SHOUT_SOURCE.replace("const name = request", "const name: i32 = request")
        compile_error = await create_module(client, account, "broken", source=broken)
        assert compile_error.status_code == 422, compile_error.text
        problem = compile_error.json()["problems"][0]
        lines = broken.splitlines()
        wrong = next(text for text in lines if "const name: i32" in text)
        expected = (lines.index(wrong) + 1, wrong.index("request") + 1)
        assert (problem["line"], problem["column"]) == expected, problem
        assert "not assignable" in problem["message"] and problem["severity"] == "error"

        refusals = {
            "forbidden import": (wasm_of(FORBIDDEN_IMPORT_WAT), "env.read_file"),
            "no handle": (wasm_of(NO_HANDLE_WAT), "`handle`"),
            "undeclared http_fetch": (wasm_of(HTTP_WAT), "declare the http_fetch capability"),
            "not wasm": (b"\0asm\x01\0\0\0not really", "not a valid WebAssembly module"),
        }
        for label, (wasm, reason) in refusals.items():
            response = await create_module(client, account, "upload", wasm_base64=b64(wasm))
            assert response.status_code == 422, (label, response.text)
            assert reason in response.json()["detail"], (label, response.json())
        bad_base64 = await create_module(client, account, "upload", wasm_base64="%%%")
        assert bad_base64.status_code == 422 and bad_base64.json()["problems"][0]["path"] == (
            "wasm_base64"
        )
        both = await create_module(client, account, "x", source="x", wasm_base64=b64(b"x"))
        assert both.status_code == 422
        bad_host = await create_module(
            client, account, "x", wasm_base64=b64(wasm_of(HTTP_WAT)),
            capabilities={"http_fetch": {"hosts": ["not a host!"]}},
        )  # fmt: skip
        assert bad_host.status_code == 422 and "capabilities" in bad_host.json()["detail"]

        mine = Module.tenant_id == account.tenant_id
        assert await count_rows(app, Module, mine) == 0
        assert await stored_blobs(app.state.blobs) == set()

        declared = await create_module(
            client, account, "fetcher", wasm_base64=b64(wasm_of(HTTP_WAT)),
            capabilities={"http_fetch": {"hosts": ["API.example.com", "*.example.org"]}},
        )  # fmt: skip
        assert declared.status_code == 201, declared.text
        version = declared.json()["version"]
        assert version["capabilities"] == {
            "http_fetch": {"hosts": ["api.example.com", "*.example.org"]}
        }
        assert version["imports"] == ["http_fetch"] and version["source"] is None
        assert await stored_blobs(app.state.blobs) == {version["sha256"]}


async def test_plans_limit_modules(settings: Settings) -> None:
    async with running_app(modules_settings(settings)) as (app, client):
        upload = {"wasm_base64": b64(wasm_of(ECHO_WAT))}
        for tier in ("free", "paid"):
            account = await pro_account(client, app, tier)
            refused = await create_module(client, account, "mine", **upload)
            assert refused.status_code == 402, refused.text
            body = refused.json()
            assert body["quota"] == "wasm_modules" and body["upgrade_url"]
            assert body["limit"] == 0 and body["used"] == 0
            assert "upgrade" in body["detail"]

        pro = await pro_account(client, app, "pro")
        for number in range(10):
            created = await create_module(client, pro, f"echo-{number}", **upload)
            assert created.status_code == 201, created.text
        eleventh = await create_module(client, pro, "echo-10", **upload)
        assert eleventh.status_code == 402 and "allows 10" in eleventh.json()["detail"]
        again = await create_module(client, pro, "echo-0", **upload)
        assert again.status_code == 402, "the quota is checked first"

        enterprise = await pro_account(client, app, "enterprise")
        for number in range(11):
            created = await create_module(client, enterprise, f"echo-{number}", **upload)
            assert created.status_code == 201, created.text
        taken = await create_module(client, enterprise, "echo-1", **upload)
        assert taken.status_code == 409 and "already has a module named" in taken.json()["detail"]


async def test_other_workspaces_modules_are_not_found(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    owner = await pro_account(client, app)
    stranger = await pro_account(client, app)
    created = await create_module(client, owner, "private", wasm_base64=b64(wasm_of(ECHO_WAT)))
    module_id = created.json()["id"]
    for method, path, body in (
        ("GET", f"/api/modules/{module_id}", None),
        ("GET", f"/api/modules/{module_id}/versions/1", None),
        ("GET", f"/api/modules/{module_id}/versions/1/wasm", None),
        ("POST", f"/api/modules/{module_id}/versions", {"wasm_base64": b64(wasm_of(ECHO_WAT))}),
        ("POST", f"/api/modules/{module_id}/test", {"payload": {}}),
        ("PATCH", f"/api/modules/{module_id}", {"description": "mine now"}),
        ("DELETE", f"/api/modules/{module_id}", None),
    ):
        response = await client.request(method, path, json=body, headers=stranger.headers)
        assert response.status_code == 404, (method, path, response.text)
    assert (await client.get("/api/modules", headers=stranger.headers)).json() == []
    huge = await client.get(f"/api/modules/{module_id}/versions/{10**30}", headers=owner.headers)
    assert huge.status_code == 422
    download = await client.get(f"/api/modules/{module_id}/versions/1/wasm", headers=owner.headers)
    assert download.status_code == 200 and download.content == wasm_of(ECHO_WAT)

    # a flow cannot use another workspace's module, nor a version that does not exist
    for account, reference, reason in (
        (stranger, "wasm:private@1", "this workspace has no module 'private'"),
        (owner, "wasm:private@2", "module 'private' has no version 2"),
    ):
        flow = await client.post(
            "/api/flows",
            json={"organism_yaml": code_flow_yaml(f"f-{account.tenant_id[:6]}", reference)},
            headers=account.headers,
        )
        assert flow.status_code == 201, flow.text
        start = await client.post(f"/api/flows/{flow.json()['id']}/start", headers=account.headers)
        assert start.status_code == 422 and reason in start.json()["detail"], start.text
        status = await client.get(f"/api/flows/{flow.json()['id']}/status", headers=account.headers)
        assert status.json()["desired"] == "stopped", "a refused start stores nothing"

    health = (await client.get("/health")).json()["checks"]["modules"]
    assert health["ok"] and health["blobs"]["kind"] in {"local", "s3"}
