"""Saving a running flow rolls its pump to the new version (issue 15, defect 1), and the live
logs carry each execution's lifecycle (defect 5) with the right allowlist name (defect 4)."""

from __future__ import annotations

import json
import uuid

import httpx
from fastapi import FastAPI

from pump.events import TriggerEntry
from pump.keys import FlowKeys
from tests.control_plane.pumps.pumps_helpers import (
    create_flow,
    pump_pids,
    sign_up_on,
    status_of,
    wait_for_completion,
    wait_for_status,
)


def tagged_yaml(version: int) -> str:
    return f"""version: 1
organism: {{name: rolling}}
triggers:
  - {{name: run, kind: manual, target: tag}}
listeners:
  - name: tag
    handler: builtin.transform
    peers: [done]
    config: {{set: {{version: {version}}}}}
  - name: blocked
    handler: builtin.http
    config: {{method: GET, url: "http://10.255.255.1/"}}
  - {{name: done, handler: builtin.output}}
"""


async def enqueue(app: FastAPI, keys: FlowKeys, target: str = "tag") -> str:
    execution_id = uuid.uuid4().hex
    entry = TriggerEntry(execution_id=execution_id, trigger="run", target=target, payload={})
    await app.state.redis.client.xadd(keys.triggers, entry.encode())
    return execution_id


async def test_saving_a_running_flow_rolls_its_pump_without_losing_triggers(
    pump_app: FastAPI, pump_client: httpx.AsyncClient
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, tagged_yaml(1))
    keys = FlowKeys(owner.tenant_id, flow_id)
    started = await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    assert started.status_code == 202, started.text
    await wait_for_status(pump_client, owner, flow_id, status="running", observed="running")
    [first_pid] = pump_pids(pump_app, owner, flow_id)
    assert (await status_of(pump_client, owner, flow_id))["running_version"] == 1

    before = [await enqueue(pump_app, keys) for _ in range(5)]
    saved = await pump_client.put(
        f"/api/flows/{flow_id}", json={"organism_yaml": tagged_yaml(2)}, headers=owner.headers
    )
    assert saved.status_code == 200, saved.text
    assert (saved.json()["version"], saved.json()["redeploy"]) == (2, "applied")
    after = [await enqueue(pump_app, keys) for _ in range(3)]

    # Nothing lost: every trigger sent before the save completes (on either version) ...
    for execution_id in before:
        event = await wait_for_completion(pump_app, owner.tenant_id, flow_id, execution_id)
        assert event.type == "execution.completed" and event.data["outputs"][0]["version"] in (1, 2)
    # ... and once the save is answered, nothing runs on the old version.
    for execution_id in after:
        event = await wait_for_completion(pump_app, owner.tenant_id, flow_id, execution_id)
        assert event.data["outputs"] == [{"version": 2}]
    status = await wait_for_status(
        pump_client, owner, flow_id, status="running", observed="running"
    )
    assert (status["outdated"], status["running_version"]) == (False, 2)
    assert pump_pids(pump_app, owner, flow_id) != [first_pid]

    # A save that only moves nodes changes no version and leaves the pump alone.
    canvas = saved.json()["canvas_state"]
    canvas["nodes"][0]["position"] = {"x": 999, "y": 999}
    moved = await pump_client.put(
        f"/api/flows/{flow_id}", json={"canvas_state": canvas}, headers=owner.headers
    )
    assert (moved.json()["version"], moved.json()["redeploy"]) == (2, None)

    # Defect 5: the live logs show each execution's lifecycle, tagged with its id; a step's
    # failure names its reason and the setting that would allow the address (defect 4).
    failing = await enqueue(pump_app, keys, target="blocked")
    failed = await wait_for_completion(pump_app, owner.tenant_id, flow_id, failing)
    assert failed.type == "execution.failed"
    logs = await pump_client.get(
        f"/api/flows/{flow_id}/logs",
        params={"follow": "false", "history": 500},
        headers=owner.headers,
    )
    lines = [
        json.loads(line.removeprefix("data: "))
        for line in logs.text.splitlines()
        if line.startswith("data: ")
    ]
    ours = [line["message"] for line in lines if line.get("execution_id") == after[0]]
    assert ours[0] == "execution started by trigger 'run' at 'tag'"
    assert ours[-1].startswith("execution completed: 2 steps in ")
    failure = [line for line in lines if line.get("execution_id") == failing]
    assert any(
        line.get("listener") == "blocked"
        and "step 1 'blocked' failed (" in line["message"]
        and "FLOWPLANE_PUMP_HTTP_ALLOWLIST" in line["message"]
        for line in failure
    ), failure
    assert failure[-1]["level"] == "error" and "execution failed (" in failure[-1]["message"]
