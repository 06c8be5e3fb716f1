"""Every bad input to the flows API: a clear error naming the field, YAML path or canvas node,
and nothing stored; a refused change leaves the flow and its versions exactly as they were."""

from __future__ import annotations

import copy
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import Account, set_tier, sign_up
from tests.control_plane.flows.flows_helpers import create_flow, hello_yaml, stored_counts

SEMANTIC_PROBLEMS_YAML = """version: 1
organism: {name: broken}
triggers:
  - {name: run, kind: manual, target: nowhere}
  - {name: nightly, kind: schedule, cron: "not a cron", target: shout}
listeners:
  - name: shout
    handler: os.system
    peers: [ghost]
  - name: pick
    handler: builtin.transform
    config: {expression: "payload.[["}
"""


@pytest.fixture
async def account(client: httpx.AsyncClient, app: FastAPI) -> Account:
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, "paid")
    return account


async def refused(
    client: httpx.AsyncClient, account: Account, body: Any, *, status: int = 422
) -> dict[str, Any]:
    response = await client.post("/api/flows", json=body, headers=account.headers)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def test_every_problem_is_listed_with_path_and_line(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    body = await refused(client, account, {"organism_yaml": SEMANTIC_PROBLEMS_YAML})
    assert body["error"] == "InvalidOrganism"
    assert body["detail"].startswith("the flow was not saved: ")
    by_path = {problem["path"]: problem for problem in body["problems"]}
    assert {"triggers[0].target", "triggers[1].cron", "listeners[0].handler"} <= set(by_path)
    assert any(path.startswith("listeners[0].peers") for path in by_path)
    assert any(path.startswith("listeners[1].config.expression") for path in by_path)
    assert "nowhere" in by_path["triggers[0].target"]["message"]
    assert by_path["triggers[0].target"]["line"] == 4
    assert set(body["problems"][0]) == {"path", "message", "line", "column", "node_id"}
    assert await stored_counts(app, account) == (0, 0)


TELEPORT_NODE = {"id": "n1", "type": "teleport", "position": {"x": 0, "y": 0}, "data": {}}
UNKNOWN_KEY_YAML = hello_yaml().replace("peers: [done]", "peers: [done]\n    colour: red")
HUGE_YAML = "version: 1\norganism: {name: big}\n# " + "x" * (1024 * 1024)


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ({"organism_yaml": "version: 1\norganism: {name: x\n"}, "$", "invalid YAML"),
        ({"organism_yaml": "- just\n- a list\n"}, "$", "mapping"),
        ({"organism_yaml": UNKNOWN_KEY_YAML}, "listeners[0].colour", "unknown key 'colour'"),
        ({"organism_yaml": hello_yaml("Not A Slug")}, "organism.name", "not a valid name"),
        ({"organism_yaml": "!!python/object/apply:os.system [id]\n"}, "$", "is not allowed"),
        ({"organism_yaml": HUGE_YAML}, "$", "larger than 256 KiB"),
        ({"name": "Bad Name"}, "name", "not a valid flow name"),
        ({"name": "-leading"}, "name", "not a valid flow name"),
        ({"name": "x" * 64}, "name", "not a valid flow name"),
        ({"name": "ok", "description": "d" * 2001}, "description", "longer than 2000"),
        ({}, "name", "give the flow a name"),
        ({"description": "no name"}, "name", "give the flow a name"),
        ({"canvas_state": {"nodes": [], "edges": []}}, "name", "needs a name"),
        ({"name": "c", "canvas_state": {"nodes": "not a list"}}, "nodes", "must be a list"),
        (
            {"name": "c", "canvas_state": {"nodes": [TELEPORT_NODE], "edges": []}},
            "nodes[0].type",
            "unknown node type 'teleport'",
        ),
    ],
)
async def test_bad_content_is_refused_and_nothing_is_stored(
    client: httpx.AsyncClient,
    account: Account,
    app: FastAPI,
    body: dict[str, Any],
    path: str,
    words: str,
) -> None:
    result = await refused(client, account, body)
    assert result["error"] == "InvalidOrganism"
    problem = next((item for item in result["problems"] if item["path"] == path), None)
    assert problem is not None, result["problems"]
    assert words in problem["message"]
    assert f"{path}: " in result["detail"]
    assert await stored_counts(app, account) == (0, 0)


async def test_a_canvas_problem_names_the_node(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    template = await create_flow(client, account, organism_yaml=hello_yaml("template"))
    await client.delete(f"/api/flows/{template['id']}", headers=account.headers)
    canvas = copy.deepcopy(template["canvas_state"])
    shout = next(node for node in canvas["nodes"] if node["data"]["name"] == "shout")
    shout["data"]["config"] = {"expression": "payload.[["}
    body = await refused(client, account, {"name": "drawn", "canvas_state": canvas})
    assert any(problem["node_id"] == shout["id"] for problem in body["problems"])
    assert await stored_counts(app, account) == (0, 0)


@pytest.mark.parametrize(
    "body",
    [
        {"organism_yaml": 42},
        {"canvas_state": ["not", "an", "object"]},
        {"name": "x", "organsim_yaml": "typo"},
        "not an object",
    ],
)
async def test_malformed_requests_name_the_field(
    client: httpx.AsyncClient, account: Account, app: FastAPI, body: Any
) -> None:
    result = await refused(client, account, body)
    assert result["error"] == "InvalidRequest"
    assert result["problems"] and all(problem["path"] for problem in result["problems"])
    assert await stored_counts(app, account) == (0, 0)


async def test_oversized_canvas_is_refused(
    client: httpx.AsyncClient, account: Account, app: FastAPI
) -> None:
    canvas = {
        "nodes": [],
        "edges": [],
        "viewport": {"x": 0, "y": 0, "zoom": 1},
        "notes": "n" * (2 * 1024 * 1024),
    }
    result = await refused(client, account, {"name": "huge", "canvas_state": canvas}, status=413)
    assert result["error"] == "PayloadTooLarge"
    assert "canvas_state" in result["detail"]
    assert await stored_counts(app, account) == (0, 0)


@pytest.mark.parametrize(
    "change",
    [
        {"organism_yaml": SEMANTIC_PROBLEMS_YAML},
        {"organism_yaml": "version: [\n"},
        {"name": "NO"},
        {"name": "fine", "organism_yaml": hello_yaml().replace("target: shout", "target: ghost")},
        {"canvas_state": {"nodes": [{"id": "x"}], "edges": []}},
        {"description": "d" * 5000},
    ],
)
async def test_a_failed_save_leaves_the_previous_version_intact(
    client: httpx.AsyncClient, account: Account, app: FastAPI, change: dict[str, Any]
) -> None:
    flow = await create_flow(client, account, organism_yaml=hello_yaml())
    url = f"/api/flows/{flow['id']}"
    await client.put(
        url, json={"organism_yaml": hello_yaml(greeting="Hi")}, headers=account.headers
    )
    before = (await client.get(url, headers=account.headers)).json()
    versions_before = (await client.get(f"{url}/versions", headers=account.headers)).json()

    response = await client.put(url, json=change, headers=account.headers)
    assert response.status_code == 422
    assert response.json()["error"] == "InvalidOrganism"

    assert (await client.get(url, headers=account.headers)).json() == before
    assert (await client.get(f"{url}/versions", headers=account.headers)).json() == versions_before
    assert before["version"] == 2
    assert await stored_counts(app, account) == (1, 2)
