"""Two tenants cannot read, list, change or delete each other's flows, nor learn they exist:
another tenant's flow answers exactly like a flow that does not exist."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import sign_up
from tests.control_plane.flows.flows_helpers import create_flow, hello_yaml, stored_counts

MISSING_ID = "0123456789abcdef0123456789abcdef"


def without_id(body: dict[str, object]) -> dict[str, object]:
    """A 404 body with the id it names blanked, to compare a stranger's with a missing one."""
    return {key: str(value).replace(MISSING_ID, "<id>") for key, value in body.items()}


async def test_tenants_are_isolated(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner, stranger = await sign_up(client), await sign_up(client)
    flow = await create_flow(client, owner, organism_yaml=hello_yaml())
    # The same name in another tenant is fine: names are unique per tenant only.
    theirs = await create_flow(client, stranger, organism_yaml=hello_yaml())
    assert theirs["name"] == flow["name"] and theirs["id"] != flow["id"]

    listed = (await client.get("/api/flows", headers=stranger.headers)).json()
    assert [item["id"] for item in listed] == [theirs["id"]]

    requests = [
        ("GET", "/api/flows/{id}", None),
        ("PUT", "/api/flows/{id}", {"name": "stolen"}),
        ("PUT", "/api/flows/{id}", {"organism_yaml": hello_yaml(greeting="Pwned")}),
        ("PUT", "/api/flows/{id}", {"name": "Not Valid", "organism_yaml": "version: ["}),
        ("DELETE", "/api/flows/{id}", None),
        ("GET", "/api/flows/{id}/versions", None),
        ("GET", "/api/flows/{id}/versions/1", None),
    ]
    for method, path, body in requests:
        foreign = await client.request(
            method, path.format(id=flow["id"]), json=body, headers=stranger.headers
        )
        missing = await client.request(
            method, path.format(id=MISSING_ID), json=body, headers=stranger.headers
        )
        assert foreign.status_code == missing.status_code == 404, (method, path)
        foreign_body = {
            key: str(value).replace(flow["id"], "<id>") for key, value in foreign.json().items()
        }
        assert foreign_body == without_id(missing.json())

    # The owner's flow is untouched.
    after = (await client.get(f"/api/flows/{flow['id']}", headers=owner.headers)).json()
    assert after == flow
    versions = (await client.get(f"/api/flows/{flow['id']}/versions", headers=owner.headers)).json()
    assert len(versions) == 1
    assert await stored_counts(app, owner) == (1, 1)
    assert await stored_counts(app, stranger) == (1, 1)


async def test_an_api_key_sees_only_its_tenant(client: httpx.AsyncClient) -> None:
    owner, stranger = await sign_up(client), await sign_up(client)
    flow = await create_flow(client, owner, name="private")
    key = (await client.post("/api/keys", json={"name": "k"}, headers=stranger.headers)).json()
    key_headers = {"Authorization": f"Bearer {key['key']}"}
    assert (await client.get("/api/flows", headers=key_headers)).json() == []
    response = await client.get(f"/api/flows/{flow['id']}", headers=key_headers)
    assert response.status_code == 404
    own = await client.get(f"/api/flows/{flow['id']}", headers=owner.headers)
    assert own.status_code == 200
