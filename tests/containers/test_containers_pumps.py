"""The docker backend on a real engine: a locked-down container per flow that holds only its
own Redis credential, serves webhooks, and is removed when the flow stops."""

from __future__ import annotations

import asyncio
from typing import Any

from control_plane.settings import Settings
from pump.keys import FlowKeys, PumpEnv, acl_username
from tests.containers.conftest import PUMP_IMAGE, PUMP_MEMORY_BYTES
from tests.containers.container_helpers import (
    PROBE_ISOLATION,
    PROBE_REDIS,
    container_of,
    docker_app,
    run_inside,
)
from tests.control_plane.pumps.pumps_helpers import eventually
from tests.control_plane.triggers.triggers_helpers import make_flow, wait_for_statuses

PUMP_ENV_NAMES = {value for name, value in vars(PumpEnv).items() if name.isupper()}
IMAGE_ENV_NAMES = {
    "PATH", "HOSTNAME", "HOME", "PYTHONDONTWRITEBYTECODE", "PYTHONUNBUFFERED", "PYTHONPATH",
    "PIP_NO_CACHE_DIR", "PIP_DISABLE_PIP_VERSION_CHECK",
    "LC_CTYPE",  # set by Python itself in the C locale (PEP 538)
}  # fmt: skip


async def test_a_flow_runs_in_a_locked_down_container_and_serves_webhooks(
    docker_settings: Settings, docker_client: Any
) -> None:
    async with docker_app(docker_settings) as (app, client):
        flow = await make_flow(client)
        tenant_id = flow.account.tenant_id
        container = container_of(docker_client, tenant_id, flow.flow_id)
        assert container is not None
        attrs = container.attrs
        host = attrs["HostConfig"]
        assert attrs["Config"]["Image"] == PUMP_IMAGE
        assert attrs["Config"]["User"] == "10001:10001"
        assert host["ReadonlyRootfs"] is True
        assert host["CapDrop"] == ["ALL"] and not host["CapAdd"]
        assert host["SecurityOpt"] == ["no-new-privileges:true"]
        assert host["Privileged"] is False
        assert host["Memory"] == host["MemorySwap"] == PUMP_MEMORY_BYTES
        assert host["NanoCpus"] == 500_000_000
        assert host["PidsLimit"] == 128
        assert host["Ulimits"] == [{"Name": "nofile", "Soft": 1024, "Hard": 1024}]
        assert host["RestartPolicy"]["Name"] == "no"
        assert attrs["Config"]["Labels"]["flowplane.flow"] == flow.flow_id

        # What the pump process itself sees, inside the container.
        inside = await run_inside(container, PROBE_ISOLATION)
        assert (inside["uid"], inside["gid"]) == (10001, 10001)
        assert int(inside["cap_effective"], 16) == 0 and int(inside["cap_bounding"], 16) == 0
        assert inside["no_new_privs"] == "1"
        assert inside["root_writable"] is False and inside["tmp_writable"] is True
        assert int(inside["memory_limit"]) == PUMP_MEMORY_BYTES
        assert int(inside["pids_limit"]) == 128
        assert set(inside["environment"]) <= PUMP_ENV_NAMES | IMAGE_ENV_NAMES
        environment = dict(item.split("=", 1) for item in attrs["Config"]["Env"])
        settings_values = [str(docker_settings.database_url), app.state.redis.url]
        for value in environment.values():
            assert not any(secret and secret in value for secret in settings_values)

        # Its Redis credential is its own ACL user, confined to its own keys.
        own = FlowKeys(tenant_id, flow.flow_id)
        other = FlowKeys(tenant_id, "someone-else")
        probe = await run_inside(
            container, PROBE_REDIS, OWN_PREFIX=own.prefix, OTHER_PREFIX=other.prefix
        )
        assert probe.pop("user") == acl_username(tenant_id, flow.flow_id)
        assert probe.pop("own") == "1"
        assert set(probe.values()) == {"refused"}, probe

        # Webhooks -> executions, recorded from the container's events.
        responses = await asyncio.gather(
            *(client.post(flow.webhook_url, json={"n": n}) for n in range(20))
        )
        assert {response.status_code for response in responses} == {202}
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 20})

        # Stop drains and removes the container and its Redis user.
        stopped = await client.post(f"/api/flows/{flow.flow_id}/stop", headers=flow.account.headers)
        assert stopped.status_code == 200, stopped.text
        assert container_of(docker_client, tenant_id, flow.flow_id) is None
        assert (
            await app.state.redis.client.acl_getuser(acl_username(tenant_id, flow.flow_id)) is None
        )
        await eventually(
            lambda: _no_container(docker_client, tenant_id, flow.flow_id), what="no container"
        )


async def _no_container(docker_client: Any, tenant_id: str, flow_id: str) -> bool:
    return container_of(docker_client, tenant_id, flow_id) is None
