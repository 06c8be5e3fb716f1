"""Concurrent saves of one tenant: the quota and name uniqueness hold, versions stay sequential."""

from __future__ import annotations

import asyncio

import httpx
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import set_tier, sign_up
from tests.control_plane.flows.flows_helpers import create_flow, hello_yaml, stored_counts


async def test_concurrent_creates_respect_quota_and_names(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, "free")
    responses = await asyncio.gather(
        *[
            client.post("/api/flows", json={"name": f"flow-{index}"}, headers=account.headers)
            for index in range(6)
        ]
    )
    assert sorted(response.status_code for response in responses) == [201] + [402] * 5
    assert await stored_counts(app, account) == (1, 1)

    await set_tier(app, account.tenant_id, "pro")
    responses = await asyncio.gather(
        *[
            client.post("/api/flows", json={"name": "same"}, headers=account.headers)
            for _ in range(4)
        ]
    )
    assert sorted(response.status_code for response in responses) == [201, 409, 409, 409]
    assert await stored_counts(app, account) == (2, 2)


async def test_concurrent_changes_get_distinct_versions(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    account = await sign_up(client)
    flow = await create_flow(client, account, organism_yaml=hello_yaml())
    responses = await asyncio.gather(
        *[
            client.put(
                f"/api/flows/{flow['id']}",
                json={"organism_yaml": hello_yaml(greeting=f"Hello{index}")},
                headers=account.headers,
            )
            for index in range(4)
        ]
    )
    assert [response.status_code for response in responses] == [200] * 4
    assert sorted(response.json()["version"] for response in responses) == [2, 3, 4, 5]
    versions = await client.get(f"/api/flows/{flow['id']}/versions", headers=account.headers)
    assert [version["number"] for version in versions.json()] == [5, 4, 3, 2, 1]
    assert await stored_counts(app, account) == (1, 5)
