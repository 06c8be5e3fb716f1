"""What a pump container is given: the flow's secrets and WASM modules reach it, and nothing of
the control plane does (no database URL, admin Redis credential, secrets key or data dir)."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from aiohttp import web

from control_plane.settings import Settings
from tests.containers.container_helpers import (
    PROBE_ISOLATION,
    container_of,
    docker_app,
    run_inside,
    upload_module,
)
from tests.control_plane.pumps.pumps_helpers import sign_up_on
from tests.control_plane.triggers.triggers_helpers import make_flow

ECHO_WAT = Path(__file__).resolve().parents[2] / "pump" / "examples" / "wat" / "echo.wat"
SECRET_VALUE = "s3cr3t-only-for-this-flow"


def echo_module_yaml(port: int) -> str:
    """The WASM echo module, then an HTTP call carrying the secret to a server of the test's."""
    return f"""version: 1
organism: {{name: secret-echo}}
triggers:
  - {{name: run, kind: manual, target: echo}}
listeners:
  - name: echo
    handler: "wasm:echo@1"
    peers: [call]
    config: {{greeting: from-wasm}}
  - name: call
    handler: builtin.http
    peers: [done]
    config:
      method: POST
      url: "http://127.0.0.1:{port}/hook"
      headers: {{Authorization: "Bearer ${{secrets.API_TOKEN}}"}}
      json: "{{{{ payload.config }}}}"
  - {{name: done, handler: builtin.output, config: {{expression: "payload.status"}}}}
"""


@asynccontextmanager
async def receiving_server() -> AsyncIterator[tuple[int, list[dict[str, Any]]]]:
    """An HTTP server on loopback that records what it is sent (the container shares the host
    network)."""
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(
            {"authorization": request.headers.get("Authorization"), "json": await request.json()}
        )
        return web.json_response({"ok": True})

    application = web.Application()
    application.router.add_post("/hook", hook)
    runner = web.AppRunner(application)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield port, received
    finally:
        await runner.cleanup()


async def test_secrets_and_modules_reach_the_container_and_no_control_plane_credential_does(
    docker_settings: Settings, docker_client: Any
) -> None:
    allowed = docker_settings.model_copy(update={"pump_http_allowlist": "127.0.0.1"})
    async with receiving_server() as (port, received), docker_app(allowed) as (app, client):
        account = await sign_up_on(client, app)  # pro: WASM modules
        await upload_module(client, account, "echo", ECHO_WAT)
        flow = await make_flow(client, echo_module_yaml(port), account=account, start=False)
        headers = flow.account.headers
        saved = await client.put(
            f"/api/flows/{flow.flow_id}/secrets", json={"API_TOKEN": SECRET_VALUE},
            headers=headers,
        )  # fmt: skip
        assert saved.status_code == 200, saved.text
        started = await client.post(f"/api/flows/{flow.flow_id}/start", headers=headers)
        assert started.status_code == 202, started.text

        ran = await client.post(
            f"/api/triggers/{flow.flow_id}/inject?wait=true",
            json={"payload": {"hello": "container"}}, headers=headers,
        )  # fmt: skip
        assert ran.status_code == 200, ran.text
        result = ran.json()
        assert result["status"] == "succeeded", result
        assert result["outputs"] == [200]
        # The module ran in the container and the secret left it where the flow sent it
        # (events and outputs show secrets redacted).
        assert received == [
            {"authorization": f"Bearer {SECRET_VALUE}", "json": {"greeting": "from-wasm"}}
        ]

        container = container_of(docker_client, flow.account.tenant_id, flow.flow_id)
        assert container is not None
        # One read-only mount: the directory staged with exactly this flow's modules.
        [mount] = container.attrs["Mounts"]
        assert (mount["Destination"], mount["RW"]) == ("/flowplane/modules", False)
        staged = Path(mount["Source"])
        assert staged.name.startswith(f"{flow.flow_id}-")
        [staged_file] = await asyncio.to_thread(os.listdir, staged)
        assert staged_file.endswith(".wasm")
        environment = dict(item.split("=", 1) for item in container.attrs["Config"]["Env"])
        forbidden = {
            "DATABASE_URL", "REDIS_URL", "FLOWPLANE_DATABASE_URL", "FLOWPLANE_SECRETS_KEY",
            "FLOWPLANE_PUMP_REDIS_URL", "BLOB_URL", "FLOWPLANE_BLOB_URL",
        }  # fmt: skip
        assert not forbidden & set(environment)
        secrets_key = (docker_settings.data_dir / "secrets.key").read_text().strip()
        admin_url = app.state.redis.url
        for value in environment.values():
            assert secrets_key not in value
            assert admin_url not in value
        inside = await run_inside(container, PROBE_ISOLATION)
        data_dir = str(docker_settings.data_dir.resolve())
        assert data_dir not in inside["mounts"]
