"""/api/organism/compile and /api/organism/parse: the editor's compiler, answering problems
with 200 so the canvas can show them, and refusing anonymous callers."""

from __future__ import annotations

import copy

import httpx
import pytest

from pump.organism import emit_organism, parse_organism
from tests.control_plane.accounts.accounts_helpers import Account, sign_up
from tests.control_plane.flows.flows_helpers import TRIAGE_YAML, hello_yaml


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await sign_up(client)


async def test_parse_then_compile_round_trips(client: httpx.AsyncClient, account: Account) -> None:
    parsed = await client.post(
        "/api/organism/parse", json={"yaml": TRIAGE_YAML}, headers=account.headers
    )
    assert parsed.status_code == 200
    body = parsed.json()
    assert body["problems"] == []
    names = [node["data"]["name"] for node in body["canvas"]["nodes"]]
    assert names == ["inbound", "nightly", "classify", "route", "escalate", "archive"]

    compiled = await client.post(
        "/api/organism/compile",
        json={
            "canvas": body["canvas"],
            "name": "ticket-triage",
            "description": "Classify inbound tickets",
        },
        headers=account.headers,
    )
    assert compiled.status_code == 200
    assert compiled.json() == {
        "yaml": emit_organism(parse_organism(TRIAGE_YAML)),
        "problems": [],
    }


async def test_compile_without_a_name_uses_untitled(
    client: httpx.AsyncClient, account: Account
) -> None:
    canvas = (
        await client.post(
            "/api/organism/parse", json={"yaml": hello_yaml()}, headers=account.headers
        )
    ).json()["canvas"]
    compiled = await client.post(
        "/api/organism/compile", json={"canvas": canvas}, headers=account.headers
    )
    assert parse_organism(compiled.json()["yaml"]).organism.name == "untitled"


async def test_parse_keeps_the_previous_layout(client: httpx.AsyncClient, account: Account) -> None:
    first = (
        await client.post(
            "/api/organism/parse", json={"yaml": hello_yaml()}, headers=account.headers
        )
    ).json()["canvas"]
    previous = copy.deepcopy(first)
    previous["viewport"] = {"x": 5, "y": 6, "zoom": 2}
    previous["nodes"][0]["position"] = {"x": 999, "y": 111}
    again = await client.post(
        "/api/organism/parse",
        json={"yaml": hello_yaml(greeting="Hi"), "canvas": previous},
        headers=account.headers,
    )
    canvas = again.json()["canvas"]
    assert canvas["viewport"] == {"x": 5, "y": 6, "zoom": 2}
    assert canvas["nodes"][0]["position"] == {"x": 999, "y": 111}


async def test_problems_are_answers_not_errors(client: httpx.AsyncClient, account: Account) -> None:
    broken_yaml = hello_yaml().replace("peers: [done]", "peers: [ghost]")
    parsed = await client.post(
        "/api/organism/parse", json={"yaml": broken_yaml}, headers=account.headers
    )
    assert parsed.status_code == 200
    problems = parsed.json()["problems"]
    assert [problem["path"] for problem in problems] == ["listeners[0].peers[0]"]
    assert "ghost" in problems[0]["message"] and problems[0]["line"] == 8
    assert problems[0]["node_id"] is not None

    unparsable = await client.post(
        "/api/organism/parse", json={"yaml": "version: [\n"}, headers=account.headers
    )
    assert unparsable.status_code == 200
    assert unparsable.json()["canvas"] is None
    assert unparsable.json()["problems"][0]["path"] == "$"

    compiled = await client.post(
        "/api/organism/compile", json={"canvas": {"nodes": 3}}, headers=account.headers
    )
    assert compiled.status_code == 200
    assert compiled.json()["yaml"] is None
    assert compiled.json()["problems"][0]["path"] == "nodes"


async def test_malformed_editor_requests_name_the_field(
    client: httpx.AsyncClient, account: Account
) -> None:
    response = await client.post(
        "/api/organism/compile", json={"canvas": []}, headers=account.headers
    )
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "body.canvas"
    response = await client.post("/api/organism/parse", json={}, headers=account.headers)
    assert response.status_code == 422
    assert response.json()["problems"][0]["path"] == "body.yaml"


async def test_editor_endpoints_need_authentication(client: httpx.AsyncClient) -> None:
    for path, body in [
        ("/api/organism/compile", {"canvas": {}}),
        ("/api/organism/parse", {"yaml": ""}),
    ]:
        response = await client.post(path, json=body)
        assert response.status_code == 401
        assert response.json()["error"] == "Unauthorized"
