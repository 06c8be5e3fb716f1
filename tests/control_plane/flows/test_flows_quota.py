"""The tier's flow limit is enforced on create: 402 with the limit's name, nothing stored."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import set_tier, sign_up
from tests.control_plane.flows.flows_helpers import create_flow, hello_yaml, stored_counts


async def test_free_tier_allows_one_flow(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, "free")
    flow = await create_flow(client, account, name="only")
    response = await client.post(
        "/api/flows", json={"organism_yaml": hello_yaml("second")}, headers=account.headers
    )
    assert response.status_code == 402
    body = response.json()
    assert body == {
        "error": "QuotaExceeded",
        "detail": body["detail"],
        "quota": "flows",
        "limit": 1,
        "used": 1,
        "upgrade_url": "/settings/billing",
    }
    assert "free plan allows 1 flow" in body["detail"]
    assert await stored_counts(app, account) == (1, 1)
    # Changing the existing flow is not creating one.
    changed = await client.put(
        f"/api/flows/{flow['id']}",
        json={"organism_yaml": hello_yaml("only")},
        headers=account.headers,
    )
    assert changed.status_code == 200
    # Deleting frees the slot.
    await client.delete(f"/api/flows/{flow['id']}", headers=account.headers)
    await create_flow(client, account, name="replacement")


async def test_paid_tier_allows_ten_and_pro_more(client: httpx.AsyncClient, app: FastAPI) -> None:
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, "paid")
    for index in range(10):
        await create_flow(client, account, name=f"flow-{index}")
    refused = await client.post("/api/flows", json={"name": "eleventh"}, headers=account.headers)
    assert refused.status_code == 402
    assert "paid plan allows 10 flows" in refused.json()["detail"]
    assert await stored_counts(app, account) == (10, 10)
    await set_tier(app, account.tenant_id, "pro")
    eleventh = await create_flow(client, account, name="eleventh")
    assert eleventh["executions_limit"] == 100_000
