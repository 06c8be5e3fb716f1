"""Pump containers under faults: killed by `docker kill`, outliving a control-plane restart,
and killed by the kernel for their memory limit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from control_plane.settings import Settings
from tests.containers.container_helpers import (
    container_of,
    docker_app,
    upload_module,
)
from tests.control_plane.pumps.pumps_helpers import eventually, sign_up_on, status_of
from tests.control_plane.triggers.triggers_helpers import (
    make_flow,
    wait_for_statuses,
)

HERE = Path(__file__).parent


async def test_a_killed_container_is_restarted_by_the_reconciler(
    docker_settings: Settings, docker_client: Any
) -> None:
    async with docker_app(docker_settings) as (app, client):
        flow = await make_flow(client)
        tenant_id = flow.account.tenant_id
        first = container_of(docker_client, tenant_id, flow.flow_id)
        assert first is not None
        first.kill()

        async def replaced() -> Any:
            current = container_of(docker_client, tenant_id, flow.flow_id)
            body = await status_of(client, flow.account, flow.flow_id)
            fresh = current is not None and current.id != first.id
            return body if fresh and body["status"] == "running" and body["restarts"] else None

        body = await eventually(replaced, what="a new container serving the flow")
        assert body["restarts"]["crashes"] == 1
        assert "exit code 137" in body["restarts"]["last_exit"]
        assert (await client.post(flow.webhook_url, json={"after": "kill"})).status_code == 202
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 1})


async def test_a_restarted_control_plane_adopts_running_containers(
    docker_settings: Settings, docker_client: Any
) -> None:
    async with docker_app(docker_settings, stop_flows=False) as (app, client):
        flow = await make_flow(client)
        before = container_of(docker_client, flow.account.tenant_id, flow.flow_id)
        assert before is not None
    # The control plane is gone; its container is not.
    survivor = container_of(docker_client, flow.account.tenant_id, flow.flow_id)
    assert survivor is not None and survivor.id == before.id
    assert survivor.status == "running"

    async with docker_app(docker_settings) as (app, client):
        reconciler = app.state.reconciler

        async def adopted() -> bool:
            return bool(reconciler.passes >= 2)

        await eventually(adopted, what="two reconciler passes")
        after = container_of(docker_client, flow.account.tenant_id, flow.flow_id)
        assert after is not None and after.id == before.id  # kept, not restarted
        body = await status_of(client, flow.account, flow.flow_id)
        assert body["status"] == "running" and body["restarts"] is None
        assert (await client.post(flow.webhook_url, json={"after": "restart"})).status_code == 202
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 1})


def memory_hog_yaml() -> str:
    return """version: 1
organism: {name: memory-hog}
triggers:
  - {name: inbound, kind: webhook, target: hog}
listeners:
  - {name: hog, handler: "wasm:memory-hog@1", peers: [done]}
  - {name: done, handler: builtin.output}
"""


async def test_a_pump_over_its_memory_limit_ends_the_flow_with_out_of_memory(
    docker_settings: Settings, docker_client: Any
) -> None:
    small = docker_settings.model_copy(update={"pump_memory_bytes": 96 * 1024 * 1024})
    async with docker_app(small) as (app, client):
        account = await sign_up_on(client, app)  # pro: WASM modules
        await upload_module(client, account, "memory-hog", HERE / "memory_hog.wat")
        flow = await make_flow(client, memory_hog_yaml(), account=account)
        assert (await client.post(flow.webhook_url, json={})).status_code == 202

        async def failed() -> Any:
            body = await status_of(client, flow.account, flow.flow_id)
            return body if body["status"] == "error" else None

        body = await eventually(failed, what="the flow to end in error")
        assert body["reason"].startswith("out_of_memory: "), body["reason"]
        assert "96 MiB" in body["reason"]

        # The error is recorded first, then the container is removed.
        async def removed() -> bool:
            return container_of(docker_client, flow.account.tenant_id, flow.flow_id) is None

        await eventually(removed, what="the container to be removed")
        refused = await client.post(flow.webhook_url, json={})
        assert refused.status_code == 409 and "out_of_memory" in refused.text
