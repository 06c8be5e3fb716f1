"""The flows API on SQLite and Postgres: create from YAML, canvas or a name; read, list, change,
delete; versions are written exactly when the organism changes."""

from __future__ import annotations

import copy
from datetime import datetime

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import update

from control_plane.flows.models import Flow
from pump.organism import content_hash, emit_organism, parse_organism
from tests.control_plane.accounts.accounts_helpers import Account, sessions, set_tier, sign_up
from tests.control_plane.flows.flows_helpers import (
    TRIAGE_YAML,
    create_flow,
    hello_yaml,
    stored_counts,
)

FLOW_FIELDS = {
    "id",
    "name",
    "description",
    "canvas_state",
    "organism_yaml",
    "organism_source",
    "version",
    "status",
    "status_reason",
    "history_level",
    "webhook_url",
    "webhook_token_known",
    "redeploy",
    "last_execution",
    "executions_this_month",
    "executions_limit",
    "created_at",
    "updated_at",
}


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await sign_up(client)


async def test_create_from_yaml_stores_canonical_yaml_and_a_derived_canvas(
    client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(client, account, organism_yaml=TRIAGE_YAML)
    assert set(flow) == FLOW_FIELDS
    canonical = emit_organism(parse_organism(TRIAGE_YAML))
    assert flow["organism_yaml"] == canonical
    assert flow["name"] == "ticket-triage"
    assert flow["description"] == "Classify inbound tickets"
    assert flow["version"] == 1
    assert flow["status"] == "stopped" and flow["status_reason"] is None
    assert flow["webhook_url"] is None and flow["last_execution"] is None
    assert flow["executions_this_month"] == 0 and flow["executions_limit"] is None  # self-hosted
    node_names = {node["data"]["name"] for node in flow["canvas_state"]["nodes"]}
    assert node_names == {"inbound", "nightly", "classify", "route", "escalate", "archive"}
    assert all("position" in node for node in flow["canvas_state"]["nodes"])

    fetched = await client.get(f"/api/flows/{flow['id']}", headers=account.headers)
    assert fetched.status_code == 200 and fetched.json() == flow
    versions = (
        await client.get(f"/api/flows/{flow['id']}/versions", headers=account.headers)
    ).json()
    assert [version["number"] for version in versions] == [1]
    assert versions[0]["content_hash"] == content_hash(canonical)
    detail = await client.get(f"/api/flows/{flow['id']}/versions/1", headers=account.headers)
    assert detail.json()["organism_yaml"] == canonical
    assert detail.json()["canvas_state"] == flow["canvas_state"]


async def test_create_from_canvas_compiles_the_yaml(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    template = await create_flow(client, account, organism_yaml=hello_yaml("template"))
    await client.delete(f"/api/flows/{template['id']}", headers=account.headers)
    canvas = copy.deepcopy(template["canvas_state"])
    canvas["viewport"] = {"x": 40, "y": -20, "zoom": 0.75}
    canvas["nodes"][0]["position"] = {"x": -150, "y": 80}

    flow = await create_flow(
        client, account, name="from-canvas", description="Drawn", canvas_state=canvas
    )
    organism = parse_organism(flow["organism_yaml"])
    assert (organism.organism.name, organism.organism.description) == ("from-canvas", "Drawn")
    assert [listener.name for listener in organism.listeners] == ["shout", "done"]
    assert flow["canvas_state"]["viewport"] == {"x": 40, "y": -20, "zoom": 0.75}
    assert flow["canvas_state"]["nodes"][0]["position"] == {"x": -150, "y": 80}
    assert await stored_counts(app, account) == (1, 1)


async def test_create_with_a_name_only_is_an_empty_organism(
    client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(client, account, name="blank", description="Nothing yet")
    organism = parse_organism(flow["organism_yaml"])
    assert organism.organism.name == "blank"
    assert organism.organism.description == "Nothing yet"
    assert organism.triggers == [] and organism.listeners == []
    assert flow["canvas_state"]["nodes"] == [] and flow["canvas_state"]["edges"] == []


async def test_yaml_and_canvas_together_yaml_defines_canvas_lays_out(
    client: httpx.AsyncClient, account: Account
) -> None:
    first = await create_flow(client, account, organism_yaml=hello_yaml())
    layout = copy.deepcopy(first["canvas_state"])
    for index, node in enumerate(layout["nodes"]):
        node["position"] = {"x": 1000 + index, "y": 2000 + index}
        node["data"]["description"] = "canvas data is not the truth"
    changed_yaml = hello_yaml(greeting="Bonjour")
    response = await client.put(
        f"/api/flows/{first['id']}",
        json={"organism_yaml": changed_yaml, "canvas_state": layout},
        headers=account.headers,
    )
    flow = response.json()
    assert flow["organism_yaml"] == emit_organism(parse_organism(changed_yaml))
    positions = {node["data"]["name"]: node["position"] for node in flow["canvas_state"]["nodes"]}
    assert positions == {
        "run": {"x": 1000, "y": 2000},
        "shout": {"x": 1001, "y": 2001},
        "done": {"x": 1002, "y": 2002},
    }
    assert all("description" not in node["data"] for node in flow["canvas_state"]["nodes"])
    assert flow["version"] == 2


async def test_request_name_and_description_win_over_the_yaml(
    client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(
        client, account, name="renamed", description="Mine", organism_yaml=hello_yaml("original")
    )
    organism = parse_organism(flow["organism_yaml"])
    assert flow["name"] == organism.organism.name == "renamed"
    assert flow["description"] == organism.organism.description == "Mine"


async def test_list_is_the_tenants_flows_newest_first(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    await set_tier(app, account.tenant_id, "paid")
    assert (await client.get("/api/flows", headers=account.headers)).json() == []
    created = [await create_flow(client, account, name=f"flow-{index}") for index in range(3)]
    listed = (await client.get("/api/flows", headers=account.headers)).json()
    assert [flow["id"] for flow in listed] == [flow["id"] for flow in reversed(created)]
    assert all(flow["executions_limit"] == 10_000 for flow in listed)


async def test_versions_follow_organism_changes_only(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    flow = await create_flow(client, account, organism_yaml=hello_yaml())
    url, headers = f"/api/flows/{flow['id']}", account.headers

    # Layout only: the canvas is saved, no version is written.
    moved = copy.deepcopy(flow["canvas_state"])
    moved["nodes"][1]["position"] = {"x": 7, "y": 7}
    moved["viewport"] = {"x": 1, "y": 2, "zoom": 1.5}
    after_move = (await client.put(url, json={"canvas_state": moved}, headers=headers)).json()
    assert after_move["version"] == 1
    assert after_move["organism_yaml"] == flow["organism_yaml"]
    assert after_move["canvas_state"]["nodes"][1]["position"] == {"x": 7, "y": 7}
    assert datetime.fromisoformat(after_move["updated_at"]) > datetime.fromisoformat(
        flow["updated_at"]
    )

    # The same YAML, written differently: same canonical form, no version.
    same = hello_yaml().replace(
        "{name: done, handler: builtin.output}", "{handler: builtin.output, name: done}"
    )
    after_same = (await client.put(url, json={"organism_yaml": same}, headers=headers)).json()
    assert after_same["version"] == 1
    assert after_same["canvas_state"]["nodes"][1]["position"] == {"x": 7, "y": 7}

    # Nothing sent: nothing changes.
    unchanged = (await client.put(url, json={}, headers=headers)).json()
    assert unchanged == after_same

    # A changed organism, a rename and a new description each write a version.
    changed = (
        await client.put(url, json={"organism_yaml": hello_yaml(greeting="Hi")}, headers=headers)
    ).json()
    assert changed["version"] == 2
    assert changed["canvas_state"]["nodes"][1]["position"] == {"x": 7, "y": 7}
    renamed = (await client.put(url, json={"name": "greeter"}, headers=headers)).json()
    assert renamed["version"] == 3 and renamed["name"] == "greeter"
    assert parse_organism(renamed["organism_yaml"]).organism.name == "greeter"
    described = (await client.put(url, json={"description": None}, headers=headers)).json()
    assert described["version"] == 4 and described["description"] is None
    assert parse_organism(described["organism_yaml"]).organism.description is None
    assert described["name"] == "greeter"
    assert "Hi {{ payload.name }}" in described["organism_yaml"]

    versions = (await client.get(f"{url}/versions", headers=headers)).json()
    assert [version["number"] for version in versions] == [4, 3, 2, 1]
    assert len({version["content_hash"] for version in versions}) == 4
    first = (await client.get(f"{url}/versions/1", headers=headers)).json()
    assert first["organism_yaml"] == flow["organism_yaml"]
    assert first["canvas_state"] == flow["canvas_state"]
    assert await stored_counts(app, account) == (1, 4)


async def test_a_canvas_edit_changes_the_organism(
    client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(client, account, organism_yaml=hello_yaml())
    canvas = copy.deepcopy(flow["canvas_state"])
    shout = next(node for node in canvas["nodes"] if node["data"]["name"] == "shout")
    shout["data"]["config"] = {"set": {"greeting": "Howdy"}}
    response = await client.put(
        f"/api/flows/{flow['id']}", json={"canvas_state": canvas}, headers=account.headers
    )
    updated = response.json()
    assert updated["version"] == 2
    assert "greeting: Howdy" in updated["organism_yaml"]
    assert updated["name"] == "hello" and updated["description"] == "Greets people"


async def test_delete_removes_the_flow_and_its_versions(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    flow = await create_flow(client, account, organism_yaml=hello_yaml())
    url = f"/api/flows/{flow['id']}"
    await client.put(
        url, json={"organism_yaml": hello_yaml(greeting="Hi")}, headers=account.headers
    )
    assert await stored_counts(app, account) == (1, 2)
    assert (await client.delete(url, headers=account.headers)).status_code == 204
    assert await stored_counts(app, account) == (0, 0)
    for method in ("GET", "PUT", "DELETE"):
        response = await client.request(method, url, json={}, headers=account.headers)
        assert response.status_code == 404
        assert response.json() == {"error": "NotFound", "detail": f"flow {flow['id']} not found"}
    assert (await client.get(f"{url}/versions", headers=account.headers)).status_code == 404
    # The name is free again.
    await create_flow(client, account, organism_yaml=hello_yaml())


async def test_names_are_unique_per_tenant(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    await set_tier(app, account.tenant_id, "paid")
    first = await create_flow(client, account, name="taken")
    other = await create_flow(client, account, name="free")
    duplicate = await client.post("/api/flows", json={"name": "taken"}, headers=account.headers)
    assert duplicate.status_code == 409
    assert duplicate.json()["error"] == "Conflict" and "'taken'" in duplicate.json()["detail"]
    from_yaml = await client.post(
        "/api/flows", json={"organism_yaml": hello_yaml("taken")}, headers=account.headers
    )
    assert from_yaml.status_code == 409
    rename = await client.put(
        f"/api/flows/{other['id']}", json={"name": "taken"}, headers=account.headers
    )
    assert rename.status_code == 409
    assert (await client.get(f"/api/flows/{other['id']}", headers=account.headers)).json() == other
    assert await stored_counts(app, account) == (2, 2)
    # Renaming a flow to its own name is not a conflict.
    same = await client.put(
        f"/api/flows/{first['id']}", json={"name": "taken"}, headers=account.headers
    )
    assert same.status_code == 200 and same.json()["version"] == 1


async def test_webhook_url_appears_once_a_token_is_issued(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    flow = await create_flow(client, account, organism_yaml=TRIAGE_YAML)
    assert flow["webhook_url"] is None
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow).where(Flow.id == flow["id"]).values(webhook_token_hash="0" * 64)
        )
    fetched = (await client.get(f"/api/flows/{flow['id']}", headers=account.headers)).json()
    assert fetched["webhook_url"] == f"http://testserver/api/triggers/{flow['id']}/webhook"
    app.state.settings.public_url = "https://flows.example.com/"
    fetched = (await client.get(f"/api/flows/{flow['id']}", headers=account.headers)).json()
    assert fetched["webhook_url"] == f"https://flows.example.com/api/triggers/{flow['id']}/webhook"


async def test_unknown_version_is_not_found(client: httpx.AsyncClient, account: Account) -> None:
    flow = await create_flow(client, account, name="one")
    response = await client.get(f"/api/flows/{flow['id']}/versions/2", headers=account.headers)
    assert response.status_code == 404
    assert response.json()["detail"] == f"flow {flow['id']} has no version 2"


async def test_flow_routes_are_documented(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/openapi.json")).json()
    paths = schema["paths"]
    assert set(paths["/api/flows"]) == {"get", "post"}
    assert set(paths["/api/flows/{flow_id}"]) == {"get", "put", "delete"}
    assert "get" in paths["/api/flows/{flow_id}/versions/{number}"]
    for path in (
        "/api/flows",
        "/api/flows/{flow_id}",
        "/api/auth/signup",
        "/api/keys",
        "/api/organism/compile",
    ):
        for operation in paths[path].values():
            assert operation["summary"]
    assert "FlowOut" in schema["components"]["schemas"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
