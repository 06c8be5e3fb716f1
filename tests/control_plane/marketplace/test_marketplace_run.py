"""Acceptance of the marketplace with real pumps on SQLite and Postgres: a Pro author publishes
a tool with http_fetch to one host, a Paid workspace finds it, installs it granting the
capability and runs it; a version asking for more hosts fails `capability_not_granted` until
granted; a yanked version keeps running where pinned; a manifest changed after publishing is
refused by the pump (`signature_invalid`); a Free workspace starts a working flow from a
template after giving its secrets."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import update

from control_plane.marketplace.models import Listing, ListingVersion
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account, sessions
from tests.control_plane.marketplace.marketplace_helpers import (
    SECRET_FLOW_YAML,
    account,
    publish_tool,
    tool_flow_yaml,
    unique,
)
from tests.control_plane.modules.modules_helpers import modules_settings
from tests.control_plane.triggers.triggers_helpers import running_app, start_flow, wait_for

API = "/api/marketplace"
FINAL = ("succeeded", "failed")


async def run(client: httpx.AsyncClient, who: Account, flow_id: str, payload: Any) -> Any:
    """The finished execution (polled past the Run button's wait on a loaded machine)."""
    response = await client.post(
        f"/api/triggers/{flow_id}/inject?wait=true", json={"payload": payload}, headers=who.headers
    )
    assert response.status_code == 200, response.text
    body = response.json()
    if body["status"] in FINAL:
        return body

    async def fetch() -> Any:
        answer = await client.get(f"/api/executions/{body['execution_id']}", headers=who.headers)
        return answer.json()

    return await wait_for(
        fetch, lambda item: item.get("status") in FINAL, within=120, what="the run to finish"
    )


async def stop(client: httpx.AsyncClient, who: Account, flow_id: str) -> None:
    """Stopped, so later tests' reconcilers (the databases are shared) leave it alone."""
    stopped = await client.post(f"/api/flows/{flow_id}/stop", headers=who.headers)
    assert stopped.status_code == 200, stopped.text


async def restart(client: httpx.AsyncClient, who: Account, flow_id: str) -> None:
    await stop(client, who, flow_id)
    await start_flow(client, who, flow_id)


async def move_to(client: httpx.AsyncClient, who: Account, flow_id: str, reference: str) -> None:
    moved = await client.put(
        f"/api/flows/{flow_id}",
        json={"organism_yaml": tool_flow_yaml("weather", reference)},
        headers=who.headers,
    )
    assert moved.status_code == 200, moved.text
    await start_flow(client, who, flow_id)  # a changed organism restarts the pump


async def test_a_published_tool_runs_only_as_granted_and_signed(settings: Settings) -> None:
    async with running_app(modules_settings(settings)) as (app, client):
        author = await account(client, app, "pro")
        buyer = await account(client, app, "paid")
        slug, word = unique("weather-"), unique("zq")
        first = await publish_tool(
            client, author, slug, hosts=["api.weather.example"], summary=f"Forecasts {word}"
        )
        assert first.status_code == 201, first.text

        found = await client.get(f"{API}/tools", params={"q": word}, headers=buyer.headers)
        assert [item["slug"] for item in found.json()["items"]] == [slug]
        installed = await client.post(
            f"{API}/listings/{slug}/install",
            json={"grants": ["http_fetch"]},
            headers=buyer.headers,
        )
        assert installed.status_code == 200, installed.text
        flow = await client.post(
            "/api/flows",
            json={"organism_yaml": tool_flow_yaml("weather", f"tool:{slug}@1.0.0")},
            headers=buyer.headers,
        )
        assert flow.status_code == 201, flow.text
        flow_id = flow.json()["id"]
        await start_flow(client, buyer, flow_id)
        ran = await run(client, buyer, flow_id, {"q": 1})
        assert ran["status"] == "succeeded", ran
        assert ran["outputs"][0]["config"] == {"city": "Paris"}
        assert ran["outputs"][0]["payload"] == {"q": 1}

        # 1.1.0 asks for one more host: without a new grant its http_fetch is not granted
        wider = await publish_tool(
            client, author, slug, hosts=["api.weather.example", "more.example"],
            module_name=unique("weather-two-"),
        )  # fmt: skip
        assert wider.status_code == 201 and wider.json()["latest_version"] == "1.1.0"
        yanked = await client.post(
            f"{API}/listings/{slug}/versions/1.0.0/yank", headers=author.headers
        )
        assert yanked.status_code == 200, yanked.text
        await move_to(client, buyer, flow_id, f"tool:{slug}@1.1.0")
        refused = await run(client, buyer, flow_id, {"q": 2})
        assert refused["status"] == "failed", refused
        assert "capability_not_granted" in f"{refused['reason']} {refused['error']}", refused

        # the yanked 1.0.0 stays runnable where it is pinned
        await move_to(client, buyer, flow_id, f"tool:{slug}@1.0.0")
        assert (await run(client, buyer, flow_id, {"q": 3}))["status"] == "succeeded"

        # a manifest changed after publishing: the pump refuses the module
        async with sessions(app)() as session, session.begin():
            listing_id = await session.scalar(
                Listing.__table__.select().with_only_columns(Listing.id).where(Listing.slug == slug)
            )
            await session.execute(
                update(ListingVersion)
                .where(ListingVersion.listing_id == listing_id, ListingVersion.version == "1.0.0")
                .values(capabilities={"http_fetch": {"hosts": ["*"]}})
            )
        await restart(client, buyer, flow_id)
        tampered = await run(client, buyer, flow_id, {"q": 4})
        assert tampered["status"] == "failed", tampered
        assert "signature_invalid" in f"{tampered['reason']} {tampered['error']}", tampered
        await stop(client, buyer, flow_id)


async def test_a_free_workspace_runs_a_flow_from_a_template(settings: Settings) -> None:
    async with running_app(modules_settings(settings)) as (app, client):
        author = await account(client, app, "pro")
        user = await account(client, app, "free")
        flow = await client.post(
            "/api/flows", json={"organism_yaml": SECRET_FLOW_YAML}, headers=author.headers
        )
        assert flow.status_code == 201, flow.text
        template = unique("greeter-")
        published = await client.post(
            f"{API}/publish",
            json={
                "kind": "flow", "flow_id": flow.json()["id"], "slug": template,
                "title": "Greeter", "summary": "Greets people by name",
            },
            headers=author.headers,
        )  # fmt: skip
        assert published.status_code == 201, published.text

        used = await client.post(
            f"{API}/listings/{template}/use",
            json={"secrets": {"GREETING_KEY": "k1"}},
            headers=user.headers,
        )
        assert used.status_code == 201, used.text
        body = used.json()
        assert body["flow_name"] == "greeter" and body["missing_secrets"] == ["GREET_API_KEY"]
        flow_id = body["flow_id"]
        saved = await client.put(
            f"/api/flows/{flow_id}/secrets", json={"GREET_API_KEY": "k2"}, headers=user.headers
        )
        assert saved.status_code == 200, saved.text
        await start_flow(client, user, flow_id)
        ran = await run(client, user, flow_id, {"name": "Ada"})
        assert ran["status"] == "succeeded", ran
        assert ran["outputs"][0]["greeting"] == "Hello Ada"
        await stop(client, user, flow_id)

        # a Free workspace cannot install tools; it may review what it used
        shout = unique("shout-")
        tool = await publish_tool(client, author, shout)
        assert tool.status_code == 201, tool.text
        denied = await client.post(
            f"{API}/listings/{shout}/install", json={"grants": ["http_fetch"]}, headers=user.headers
        )
        assert denied.status_code == 402, denied.text
        reviewed = await client.post(
            f"{API}/listings/{template}/reviews",
            json={"rating": 5, "text": "neat"},
            headers=user.headers,
        )
        assert reviewed.status_code == 201 and reviewed.json()["install_count"] == 1
