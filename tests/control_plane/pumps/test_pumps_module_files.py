"""Each pump sees only its own flow's WASM modules (issue 8, item 1): the process backend binds
a directory holding exactly the flow's module files, for cold starts and warm standbys alike;
the blob store and other flows' modules do not exist inside. Pumps that download their modules
(kubernetes) get a signed URL that serves exactly their flow's hashes."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.pumps.backends import PumpRef
from control_plane.pumps.backends.base import module_files_root
from control_plane.settings import Settings
from pump.events import TriggerEntry
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import Account
from tests.control_plane.modules.modules_helpers import ECHO_WAT, b64, code_flow_yaml, wasm_of
from tests.control_plane.pumps.conftest import fast_pump_settings
from tests.control_plane.pumps.pumps_helpers import (
    create_flow,
    eventually,
    process_backend,
    pump_pids,
    sees_path,
    sign_up_on,
    stop_every_flow,
    wait_for_completion,
    wait_for_status,
)

# Two modules with different bytes (one memory page more).
WASM_A = wasm_of(ECHO_WAT)
WASM_B = wasm_of(ECHO_WAT.replace('(memory (export "memory") 1)', '(memory (export "memory") 2)'))


async def flow_with_module(
    client: httpx.AsyncClient, account: Account, name: str, wasm: bytes
) -> tuple[str, str]:
    created = await client.post(
        "/api/modules", json={"name": name, "wasm_base64": b64(wasm)}, headers=account.headers
    )
    assert created.status_code == 201, created.text
    flow_id = await create_flow(client, account, code_flow_yaml(f"flow-{name}", f"wasm:{name}@1"))
    started = await client.post(f"/api/flows/{flow_id}/start", headers=account.headers)
    assert started.status_code == 202, started.text
    await wait_for_status(client, account, flow_id, status="running", observed="running")
    return flow_id, hashlib.sha256(wasm).hexdigest()


def visible_modules(app: FastAPI, pid: int) -> dict[str, list[str]]:
    """What the pump `pid` sees of the staged module directories: {directory: [files]}."""
    root = Path(f"/proc/{pid}/root{module_files_root(app.state.settings)}")
    return {
        directory.name: sorted(item.name for item in directory.iterdir())
        for directory in root.iterdir()
    }


async def run_once(app: FastAPI, account: Account, flow_id: str) -> None:
    execution_id = uuid.uuid4().hex
    entry = TriggerEntry(execution_id=execution_id, trigger="run", target="code", payload={"n": 1})
    await app.state.redis.client.xadd(FlowKeys(account.tenant_id, flow_id).triggers, entry.encode())
    event = await wait_for_completion(app, account.tenant_id, flow_id, execution_id)
    assert event.type == "execution.completed", event


async def check_confined(app: FastAPI, client: httpx.AsyncClient, *, warm: bool) -> None:
    if process_backend(app).sandbox.kind != "bwrap":
        pytest.skip("bubblewrap cannot create namespaces here: pumps are not sandboxed")
    owner = await sign_up_on(client, app)
    flow_a, hash_a = await flow_with_module(client, owner, "alpha", WASM_A)
    if warm:
        backend = process_backend(app)
        await eventually(lambda: _standby(backend), what="a replacement standby")
    flow_b, hash_b = await flow_with_module(client, owner, "beta", WASM_B)
    [pid_a] = pump_pids(app, owner, flow_a)
    [pid_b] = pump_pids(app, owner, flow_b)
    seen_a, seen_b = visible_modules(app, pid_a), visible_modules(app, pid_b)
    assert list(seen_a.values()) == [[f"{hash_a}.wasm"]], seen_a
    assert list(seen_b.values()) == [[f"{hash_b}.wasm"]], seen_b
    assert not sees_path(pid_a, app.state.blobs.root), "the blob store is not visible"
    assert not sees_path(pid_a, app.state.settings.data_dir.resolve() / "flowplane.db")
    host_dirs = {path.name for path in module_files_root(app.state.settings).iterdir()}
    assert set(seen_a) | set(seen_b) <= host_dirs, "what they see is what was staged for them"
    await run_once(app, owner, flow_a)
    await run_once(app, owner, flow_b)

    host_root = module_files_root(app.state.settings)
    staged_a = host_root / next(iter(seen_a))
    assert is_directory(staged_a)
    stopped = await client.post(f"/api/flows/{flow_a}/stop", headers=owner.headers)
    assert stopped.status_code == 200
    assert not is_directory(staged_a), "a stopped pump's module files are removed"


def is_directory(path: Path) -> bool:
    return path.is_dir()


async def _standby(backend: object) -> list[int]:
    return backend.standby_pids()  # type: ignore[attr-defined, no-any-return]


async def test_a_cold_started_pump_sees_only_its_flows_modules(
    pump_app: FastAPI, pump_client: httpx.AsyncClient
) -> None:
    await check_confined(pump_app, pump_client, warm=False)


async def test_a_warm_standby_sees_only_its_flows_modules(own_database: Settings) -> None:
    app = create_app(fast_pump_settings(own_database, pump_warm_standby=1, background_tasks=True))
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            backend = process_backend(app)
            await eventually(lambda: _standby(backend), what="a warm standby")
            try:
                await check_confined(app, client, warm=True)
            finally:
                await stop_every_flow(app)


async def test_a_remote_pump_downloads_only_its_flows_modules(settings: Settings) -> None:
    remote = settings.model_copy(update={"pump_module_source": "http://testserver/"})
    app = create_app(remote)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            files = app.state.pumps.module_files
            mine = await app.state.blobs.put(WASM_A)
            theirs = await app.state.blobs.put(WASM_B)
            owner = await sign_up_on(client, app)
            flow_id = await create_flow(client, owner, code_flow_yaml("remote", "wasm:x@1"))
            ref = PumpRef(owner.tenant_id, flow_id)
            assert await files.stage(ref, {"x@1": mine}) is None, "nothing is staged locally"
            source = files.source(ref, {"x@1": mine}, None)
            assert source.startswith("http://testserver/api/pump-modules/")
            path = source.removeprefix("http://testserver")

            fetched = await client.get(f"{path}/{mine}.wasm")
            assert fetched.status_code == 200 and fetched.content == WASM_A
            assert fetched.headers["content-type"] == "application/wasm"
            assert (await client.get(f"{path}/{theirs}.wasm")).status_code == 404
            forged = files.token(PumpRef(owner.tenant_id, flow_id), {mine, theirs})
            tampered = forged[:-2] + ("AA" if not forged.endswith("AA") else "BB")
            assert (
                await client.get(f"/api/pump-modules/{tampered}/{theirs}.wasm")
            ).status_code == 404
            for junk in ("x", "x.y", "a" * 5000):
                assert (
                    await client.get(f"/api/pump-modules/{junk}/{mine}.wasm")
                ).status_code == 404
            deleted = await client.delete(f"/api/flows/{flow_id}", headers=owner.headers)
            assert deleted.status_code == 204
            assert (await client.get(f"{path}/{mine}.wasm")).status_code == 404, "flow is gone"
