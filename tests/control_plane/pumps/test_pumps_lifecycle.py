"""Start, status, logs and stop of real pump processes through the API."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.pumps.backends.sandbox import pump_package_dir
from control_plane.pumps.models import PumpRun
from control_plane.settings import Settings
from pump.keys import FlowKeys, PumpEnv, acl_username
from tests.control_plane.accounts.accounts_helpers import count_rows, sign_up
from tests.control_plane.pumps.pumps_helpers import (
    assert_confined,
    assert_rejected,
    create_flow,
    echo_yaml,
    process_backend,
    process_exists,
    pump_environment,
    pump_pids,
    sees_path,
    send_trigger,
    sign_up_on,
    status_of,
    wait_for_completion,
    wait_for_status,
)


async def test_a_flow_starts_serves_reports_and_stops(
    pump_app: FastAPI, pump_client: httpx.AsyncClient, handed: dict[str, dict[str, str]]
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    stranger = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("echo"))
    sibling_id = await create_flow(pump_client, owner, echo_yaml("sibling"))
    strangers_flow = await create_flow(pump_client, stranger, echo_yaml("echo"))
    assert (await status_of(pump_client, owner, flow_id))["observed"] == "stopped"

    started = await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    assert started.status_code == 202, started.text
    assert started.json() == {"flow_id": flow_id, "desired": "running", "status": "starting"}
    status = await wait_for_status(
        pump_client, owner, flow_id, status="running", observed="running"
    )
    assert status["desired"] == "running" and status["reason"] is None
    assert status["heartbeat"]["status"] == "running" and status["heartbeat"]["in_flight"] == 0
    assert status["outdated"] is False

    # The pump is a sandboxed process that sees its code but not the data directory.
    [pid] = pump_pids(pump_app, owner, flow_id)
    data_dir = pump_app.state.settings.data_dir.resolve()
    assert (data_dir / "pumps" / f"{flow_id}.log").exists()
    if process_backend(pump_app).sandbox.kind == "bwrap":
        assert not sees_path(pid, data_dir)
        assert sees_path(pid, pump_package_dir() / "keys.py")

    # Its only credential: a Redis user confined to this flow's keys, handed over its stdin.
    environment = handed[flow_id]
    credential = environment[PumpEnv.REDIS_URL]
    assert PumpEnv.REDIS_URL not in pump_environment(pid)
    assert credential.startswith(f"redis://{acl_username(owner.tenant_id, flow_id)}:")
    assert not {"DATABASE_URL", "FLOWPLANE_DATABASE_URL", "FLOWPLANE_SECRETS_KEY"} & set(
        environment
    )
    own = FlowKeys(owner.tenant_id, flow_id)
    foreign = [FlowKeys(owner.tenant_id, sibling_id), FlowKeys(stranger.tenant_id, strangers_flow)]
    await assert_confined(credential, own, foreign)

    execution_id = await send_trigger(pump_app, owner.tenant_id, flow_id, {"hello": "world"})
    finished = await wait_for_completion(pump_app, owner.tenant_id, flow_id, execution_id)
    assert finished.type == "execution.completed"

    logs = await pump_client.get(
        f"/api/flows/{flow_id}/logs",
        params={"follow": "false", "history": 50},
        headers=owner.headers,
    )
    assert logs.status_code == 200 and logs.headers["content-type"].startswith("text/event-stream")
    assert "serving as consumer" in logs.text and logs.text.startswith("id: ")

    stopped = await pump_client.post(f"/api/flows/{flow_id}/stop", headers=owner.headers)
    assert stopped.status_code == 200
    assert stopped.json() == {"flow_id": flow_id, "desired": "stopped", "status": "stopped"}
    assert pump_pids(pump_app, owner, flow_id) == []
    assert not process_exists(pid)
    await assert_rejected(credential)
    redis = pump_app.state.redis.client
    assert await redis.acl_getuser(acl_username(owner.tenant_id, flow_id)) is None
    assert await redis.exists(own.heartbeat) == 0
    status = await status_of(pump_client, owner, flow_id)
    assert (status["status"], status["observed"], status["heartbeat"]) == (
        "stopped",
        "stopped",
        None,
    )
    assert await count_rows(pump_app, PumpRun, PumpRun.flow_id == flow_id) == 0


async def test_starting_again_keeps_a_current_pump_and_saving_replaces_it(
    pump_app: FastAPI, pump_client: httpx.AsyncClient, handed: dict[str, dict[str, str]]
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("again"))
    assert (
        await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    ).status_code == 202
    await wait_for_status(pump_client, owner, flow_id, status="running", observed="running")
    [first_pid] = pump_pids(pump_app, owner, flow_id)
    first_credential = handed[flow_id][PumpEnv.REDIS_URL]

    again = await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    assert again.status_code == 202 and again.json()["status"] == "running"
    assert pump_pids(pump_app, owner, flow_id) == [first_pid]

    changed = echo_yaml("again").replace("{name: again}", "{name: again, description: changed}")
    saved = await pump_client.put(
        f"/api/flows/{flow_id}", json={"organism_yaml": changed}, headers=owner.headers
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["redeploy"] == "applied"  # a save rolls a running pump (issue 15)
    status = await wait_for_status(
        pump_client, owner, flow_id, status="running", observed="running"
    )
    assert (status["outdated"], status["running_version"]) == (False, 2)
    [second_pid] = pump_pids(pump_app, owner, flow_id)
    assert second_pid != first_pid
    assert handed[flow_id][PumpEnv.REDIS_URL] != first_credential
    await assert_rejected(first_credential)


async def test_a_worker_sees_the_pump_another_worker_started_in_place_of_its_own(
    pump_app: FastAPI, pump_client: httpx.AsyncClient, pump_settings: Settings
) -> None:
    """Two workers share the database and data dir: when the other one replaces the pump this
    one started, this one reports the new pump, not its own exited child."""
    owner = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("workers"))
    started = await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    assert started.status_code == 202, started.text
    await wait_for_status(pump_client, owner, flow_id, status="running", observed="running")
    [first_pid] = pump_pids(pump_app, owner, flow_id)

    other_worker = create_app(pump_settings)
    async with (
        other_worker.router.lifespan_context(other_worker),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other_worker), base_url="http://testserver"
        ) as other_client,
    ):
        changed = echo_yaml("workers").replace("{name: workers}", "{name: workers, description: b}")
        saved = await other_client.put(
            f"/api/flows/{flow_id}", json={"organism_yaml": changed}, headers=owner.headers
        )
        assert saved.status_code == 200 and saved.json()["redeploy"] == "applied", saved.text
        await wait_for_status(other_client, owner, flow_id, status="running", observed="running")
        [second_pid] = pump_pids(other_worker, owner, flow_id)
        assert second_pid != first_pid and not process_exists(first_pid)

        status = await status_of(pump_client, owner, flow_id)
        assert (status["status"], status["observed"]) == ("running", "running"), status
        assert pump_pids(pump_app, owner, flow_id) == [second_pid]


async def test_unstartable_flows_are_refused_with_a_reason(
    pump_app: FastAPI, pump_client: httpx.AsyncClient
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    stranger = await sign_up_on(pump_client, pump_app)
    empty = await pump_client.post("/api/flows", json={"name": "empty"}, headers=owner.headers)
    assert empty.status_code == 201, empty.text
    response = await pump_client.post(
        f"/api/flows/{empty.json()['id']}/start", headers=owner.headers
    )
    assert response.status_code == 409
    assert response.json() == {
        "error": "Conflict",
        "detail": "flow 'empty' has no listeners: add at least one step before starting it",
    }

    free = await sign_up_on(pump_client, pump_app, "free")
    memory_yaml = echo_yaml("remember") + "memory: {project: true}\n"
    remembering = await create_flow(pump_client, free, memory_yaml)
    response = await pump_client.post(f"/api/flows/{remembering}/start", headers=free.headers)
    assert response.status_code == 402
    assert response.json()["error"] == "QuotaExceeded"
    assert response.json()["quota"] == "project_memory_bytes"
    assert response.json()["limit"] == 0
    assert "project memory is not included in the free plan" in response.json()["detail"]

    broken = await create_flow(pump_client, owner, echo_yaml("broken"))
    async with pump_app.state.sessionmaker() as session:
        from control_plane.flows.models import Flow

        flow = await session.get(Flow, broken)
        assert flow is not None
        flow.organism_yaml = (
            "version: 1\norganism: {name: broken}\nlisteners:\n  - {name: x, handler: os.system}\n"
        )
        await session.commit()
    response = await pump_client.post(f"/api/flows/{broken}/start", headers=owner.headers)
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InvalidOrganism" and body["detail"].startswith(
        "flow 'broken' cannot start"
    )
    assert body["problems"][0]["path"] == "listeners[0].handler"

    mine = await create_flow(pump_client, owner, echo_yaml("mine"))
    for method, suffix in (
        ("POST", "start"),
        ("POST", "stop"),
        ("GET", "status"),
        ("GET", "logs"),
        ("GET", "secrets"),
    ):
        response = await pump_client.request(
            method, f"/api/flows/{mine}/{suffix}", headers=stranger.headers
        )
        assert response.status_code == 404, (suffix, response.text)
        assert response.json()["error"] == "NotFound"
    unauthenticated = await pump_client.post(f"/api/flows/{mine}/start")
    assert unauthenticated.status_code == 401

    checked = [(owner, empty.json()["id"]), (free, remembering), (owner, broken), (owner, mine)]
    for account, flow_id in checked:
        assert await count_rows(pump_app, PumpRun, PumpRun.flow_id == flow_id) == 0
        assert pump_pids(pump_app, account, flow_id) == []
        user = acl_username(account.tenant_id, flow_id)
        assert await pump_app.state.redis.client.acl_getuser(user) is None
        assert (await status_of(pump_client, account, flow_id))["desired"] == "stopped"


async def test_an_unknown_flow_is_not_found(pump_client: httpx.AsyncClient) -> None:
    owner = await sign_up(pump_client)
    response = await pump_client.post(f"/api/flows/{uuid.uuid4().hex}/start", headers=owner.headers)
    assert response.status_code == 404
