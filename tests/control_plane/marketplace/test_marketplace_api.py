"""The marketplace through the API on SQLite and Postgres (no pumps): publishing, full-text
search, visibility, installs with exact grants, plans, reviews, yanking, moderation, templates
without secrets, safe READMEs."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from control_plane.settings import Settings
from tests.control_plane.marketplace.marketplace_helpers import (
    SECRET_FLOW_YAML,
    account,
    publish_tool,
    tool_flow_yaml,
)

API = "/api/marketplace"


async def test_publish_search_install_review_and_yank(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    author = await account(client, app, "pro")
    buyer = await account(client, app, "paid")
    free = await account(client, app, "free")

    readme = (
        "# Forecast\n<script>alert(1)</script>\n[x](javascript:alert(1)) [ok](https://a.example)"
    )
    published = await publish_tool(
        client, author, "forecast", readme=readme, tags=["weather", "api"]
    )
    assert published.status_code == 201, published.text
    listing = published.json()
    assert listing["latest_version"] == "1.0.0" and listing["kind"] == "tool"
    assert listing["capabilities"] == {"http_fetch": {"hosts": ["api.weather.example"]}}
    version = listing["versions"][0]
    assert version["signature"] and len(version["sha256"]) == 64
    assert version["config_schema"]["required"] == ["city"]
    html = listing["readme_html"]
    assert "<script" not in html and 'href="javascript' not in html and "<h1>Forecast</h1>" in html
    assert 'href="https://a.example"' in html

    refused = await publish_tool(client, free, "free-tool")
    assert refused.status_code in (402,), refused.text  # Free has no modules at all
    taken = await publish_tool(client, buyer, "forecast", module_name="forecast-b")
    assert taken.status_code == 402  # Paid cannot publish tools
    older = await publish_tool(client, author, "forecast", version="0.9.0", module_name="fc-old")
    assert older.status_code == 409 and "not newer" in older.json()["detail"]
    bad_schema = await publish_tool(
        client, author, "bad-schema", config_schema={"type": "object", "properties": 3}
    )
    assert bad_schema.status_code == 422 and bad_schema.json()["problems"][0]["path"].startswith(
        "config_schema"
    )
    private = await publish_tool(client, author, "secret-tool", visibility="private")
    assert private.status_code == 402 and private.json()["limit"] == "private_marketplace_tools"

    # search: a word of the summary (stemmed: "forecasts" finds "forecast"), category, tag, sort
    for words in ("forecasts", "city", "Looks up"):
        found = await client.get(f"{API}/tools", params={"q": words}, headers=buyer.headers)
        assert found.status_code == 200, found.text
        assert [item["slug"] for item in found.json()["items"]] == ["forecast"], words
    nothing = await client.get(f"{API}/tools", params={"q": "spreadsheet"}, headers=buyer.headers)
    assert nothing.json()["total"] == 0
    by_tag = await client.get(f"{API}/tools", params={"tag": "api"}, headers=buyer.headers)
    assert [item["slug"] for item in by_tag.json()["items"]] == ["forecast"]
    by_category = await client.get(f"{API}/tools", params={"category": "ai"}, headers=buyer.headers)
    assert by_category.json()["total"] == 0
    wrong = await client.get(f"{API}/tools", params={"sort": "random"}, headers=buyer.headers)
    assert wrong.status_code == 422 and "sort" in wrong.text

    # install: Free gets 402; grants must match the manifest exactly
    denied = await client.post(
        f"{API}/listings/forecast/install", json={"grants": ["http_fetch"]}, headers=free.headers
    )
    assert denied.status_code == 402 and denied.json()["limit"] == "marketplace_tools"
    ungranted = await client.post(
        f"{API}/listings/forecast/install", json={"grants": []}, headers=buyer.headers
    )
    assert ungranted.status_code == 422 and ungranted.json()["problems"][0]["path"] == "grants"
    assert "api.weather.example" in ungranted.json()["detail"]
    review_first = await client.post(
        f"{API}/listings/forecast/reviews", json={"rating": 5}, headers=buyer.headers
    )
    assert review_first.status_code == 403 and "install" in review_first.json()["detail"]
    installed = await client.post(
        f"{API}/listings/forecast/install", json={"grants": ["http_fetch"]}, headers=buyer.headers
    )
    assert installed.status_code == 200, installed.text
    assert installed.json()["reference"] == "tool:forecast@1.0.0"
    palette = await client.get(f"{API}/installed", headers=buyer.headers)
    assert [item["reference"] for item in palette.json()] == ["tool:forecast@1.0.0"]
    assert palette.json()[0]["config_schema"]["required"] == ["city"]

    # reviews: never on your own listing; one per workspace (a second one replaces it)
    own = await client.post(
        f"{API}/listings/forecast/reviews", json={"rating": 5}, headers=author.headers
    )
    assert own.status_code == 403 and "own" in own.json()["detail"]
    for rating in (2, 4):
        reviewed = await client.post(
            f"{API}/listings/forecast/reviews",
            json={"rating": rating, "text": "works"},
            headers=buyer.headers,
        )
        assert reviewed.status_code == 201, reviewed.text
    detail = reviewed.json()
    assert detail["rating"] == 4.0 and detail["rating_count"] == 1 and len(detail["reviews"]) == 1
    assert detail["install_count"] == 1
    out_of_range = await client.post(
        f"{API}/listings/forecast/reviews", json={"rating": 6}, headers=buyer.headers
    )
    assert out_of_range.status_code == 422 and "rating" in out_of_range.text

    # uninstalling is refused while a flow uses it
    flow = await client.post(
        "/api/flows",
        json={"organism_yaml": tool_flow_yaml("uses-forecast", "tool:forecast@1.0.0")},
        headers=buyer.headers,
    )
    assert flow.status_code == 201, flow.text
    busy = await client.delete(f"{API}/listings/forecast/install", headers=buyer.headers)
    assert busy.status_code == 409 and busy.json()["used_by"] == ["uses-forecast"]

    # a yanked version cannot be newly installed
    second = await account(client, app, "paid")
    yanked = await client.post(
        f"{API}/listings/forecast/versions/1.0.0/yank", headers=author.headers
    )
    assert yanked.status_code == 200 and yanked.json()["yanked"] is True
    not_yours = await client.post(
        f"{API}/listings/forecast/versions/1.0.0/yank", headers=buyer.headers
    )
    assert not_yours.status_code == 403
    late = await client.post(
        f"{API}/listings/forecast/install",
        json={"version": "1.0.0", "grants": ["http_fetch"]},
        headers=second.headers,
    )
    assert late.status_code == 409 and "yanked" in late.json()["detail"]

    # reports; moderation is for operators only
    reported = await client.post(
        f"{API}/listings/forecast/reports", json={"reason": "spam"}, headers=second.headers
    )
    assert reported.status_code == 201
    forbidden = await client.put(
        f"{API}/listings/forecast/moderation", json={"status": "removed"}, headers=buyer.headers
    )
    assert forbidden.status_code == 403


async def test_templates_carry_no_secrets_and_private_listings_stay_private(
    settings: Settings, client: httpx.AsyncClient, app: FastAPI
) -> None:
    author = await account(client, app, "enterprise")
    other = await account(client, app, "free")
    flow = await client.post(
        "/api/flows", json={"organism_yaml": SECRET_FLOW_YAML}, headers=author.headers
    )
    assert flow.status_code == 201, flow.text
    flow_id = flow.json()["id"]
    rotated = await client.post(f"/api/flows/{flow_id}/webhook/rotate", headers=author.headers)
    token = rotated.json()["token"]
    secrets = {"GREETING_KEY": "tok-flow-secret-value"}
    saved = await client.put(f"/api/flows/{flow_id}/secrets", json=secrets, headers=author.headers)
    assert saved.status_code == 200, saved.text

    published = await client.post(
        f"{API}/publish",
        json={
            "kind": "flow", "flow_id": flow_id, "slug": "greeter", "title": "Greeter",
            "summary": "Greets people by name", "category": "productivity",
        },
        headers=author.headers,
    )  # fmt: skip
    assert published.status_code == 201, published.text
    template = published.json()
    version = template["versions"][0]
    document = template["organism_yaml"] + str(version)
    for leaked in ("sk-literal-0123456789", "tok-flow-secret-value", token):
        assert leaked not in document
    assert version["required_secrets"] == ["GREETING_KEY", "GREET_API_KEY"]
    assert "${secrets.GREET_API_KEY}" in template["organism_yaml"]

    found = await client.get(f"{API}/flows", params={"q": "greets"}, headers=other.headers)
    assert [item["slug"] for item in found.json()["items"]] == ["greeter"]

    hidden = await client.post(
        f"{API}/publish",
        json={
            "kind": "flow", "flow_id": flow_id, "slug": "in-house", "title": "In house",
            "summary": "Greets colleagues", "visibility": "private",
        },
        headers=author.headers,
    )  # fmt: skip
    assert hidden.status_code == 201, hidden.text
    assert (await client.get(f"{API}/listings/in-house", headers=other.headers)).status_code == 404
    assert (await client.get(f"{API}/listings/in-house", headers=author.headers)).status_code == 200
    colleagues = await client.get(f"{API}/flows", params={"q": "colleagues"}, headers=other.headers)
    assert colleagues.json()["total"] == 0
    use = await client.post(f"{API}/listings/in-house/use", json={}, headers=other.headers)
    assert use.status_code == 404
