"""The marketplace through the API on SQLite and Postgres (no pumps): publishing, full-text
search, visibility, installs with exact grants, plans, reviews, yanking, moderation, templates
without secrets, safe READMEs. Slugs and search words are unique per test: the databases are
shared by the whole session."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import sign_up, unique_email
from tests.control_plane.marketplace.marketplace_helpers import (
    SECRET_FLOW_YAML,
    account,
    publish_tool,
    tool_flow_yaml,
    unique,
)
from tests.control_plane.triggers.triggers_helpers import running_app

API = "/api/marketplace"


async def slugs(client: httpx.AsyncClient, headers: dict[str, str], **params: str) -> list[str]:
    found = await client.get(f"{API}/tools", params=params, headers=headers)
    assert found.status_code == 200, found.text
    return [item["slug"] for item in found.json()["items"]]


async def test_publish_search_install_review_and_yank(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    author = await account(client, app, "pro")
    buyer = await account(client, app, "paid")
    free = await account(client, app, "free")
    slug, word, tag = unique("forecast-"), unique("zq"), unique("t")

    readme = (
        "# Forecast\n<script>alert(1)</script>\n[x](javascript:alert(1)) [ok](https://a.example)"
    )
    published = await publish_tool(
        client, author, slug, readme=readme, tags=["weather", tag],
        summary=f"Looks up forecasts of a city {word}",
    )  # fmt: skip
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

    refused = await publish_tool(client, free, unique("free-"))
    assert refused.status_code == 402, refused.text  # Free has no modules at all
    taken = await publish_tool(client, buyer, slug, module_name=unique("b-"))
    assert taken.status_code == 402  # Paid cannot publish tools
    older = await publish_tool(client, author, slug, version="0.9.0", module_name=unique("o-"))
    assert older.status_code == 409 and "not newer" in older.json()["detail"]
    bad_schema = await publish_tool(
        client, author, unique("bad-"), config_schema={"type": "object", "properties": 3}
    )
    assert bad_schema.status_code == 422, bad_schema.text
    assert bad_schema.json()["problems"][0]["path"].startswith("config_schema")
    private = await publish_tool(client, author, unique("private-"), visibility="private")
    assert private.status_code == 402 and private.json()["quota"] == "private_marketplace_tools"

    # search: a word of the summary (stemmed: "forecast" finds "forecasts"), category, tag, sort
    assert await slugs(client, buyer.headers, q=word) == [slug]
    assert slug in await slugs(client, buyer.headers, q="forecast", per_page="100")
    assert slug in await slugs(client, buyer.headers, q=f"city {word[:-2]}")  # last word: prefix
    assert await slugs(client, buyer.headers, q=f"{word} spreadsheet") == []
    assert await slugs(client, buyer.headers, tag=tag) == [slug]
    assert await slugs(client, buyer.headers, q=word, category="ai") == []
    assert await slugs(client, buyer.headers, q=word, category="data", sort="newest") == [slug]
    wrong = await client.get(f"{API}/tools", params={"sort": "random"}, headers=buyer.headers)
    assert wrong.status_code == 422 and "sort" in wrong.text

    # install: Free gets 402; grants must match the manifest exactly
    install = f"{API}/listings/{slug}/install"
    denied = await client.post(install, json={"grants": ["http_fetch"]}, headers=free.headers)
    assert denied.status_code == 402 and denied.json()["quota"] == "marketplace_installs"
    ungranted = await client.post(install, json={"grants": []}, headers=buyer.headers)
    assert ungranted.status_code == 422 and ungranted.json()["problems"][0]["path"] == "grants"
    assert "api.weather.example" in ungranted.json()["detail"]
    reviews = f"{API}/listings/{slug}/reviews"
    early = await client.post(reviews, json={"rating": 5}, headers=buyer.headers)
    assert early.status_code == 403 and "install" in early.json()["detail"]
    installed = await client.post(install, json={"grants": ["http_fetch"]}, headers=buyer.headers)
    assert installed.status_code == 200, installed.text
    assert installed.json()["reference"] == f"tool:{slug}@1.0.0"
    # the author may delete the module: the published version keeps its code
    modules = await client.get("/api/modules", headers=author.headers)
    module_id = next(item["id"] for item in modules.json() if item["name"] == slug)
    deleted = await client.delete(f"/api/modules/{module_id}", headers=author.headers)
    assert deleted.status_code == 204, deleted.text
    sha256 = listing["versions"][0]["sha256"]
    assert await app.state.blobs.exists(sha256), "a published version's blob is never collected"
    palette = await client.get(f"{API}/installed", headers=buyer.headers)
    assert [item["reference"] for item in palette.json()] == [f"tool:{slug}@1.0.0"]
    assert palette.json()[0]["config_schema"]["required"] == ["city"]

    # reviews: never on your own listing; one per workspace (a second one replaces it)
    own = await client.post(reviews, json={"rating": 5}, headers=author.headers)
    assert own.status_code == 403 and "own" in own.json()["detail"]
    for rating in (2, 4):
        reviewed = await client.post(
            reviews, json={"rating": rating, "text": "works"}, headers=buyer.headers
        )
        assert reviewed.status_code == 201, reviewed.text
    detail = reviewed.json()
    assert detail["rating"] == 4.0 and detail["rating_count"] == 1 and len(detail["reviews"]) == 1
    assert detail["install_count"] == 1
    out_of_range = await client.post(reviews, json={"rating": 6}, headers=buyer.headers)
    assert out_of_range.status_code == 422 and "rating" in out_of_range.text

    # uninstalling is refused while a flow uses it
    flow = await client.post(
        "/api/flows",
        json={"organism_yaml": tool_flow_yaml("uses-forecast", f"tool:{slug}@1.0.0")},
        headers=buyer.headers,
    )
    assert flow.status_code == 201, flow.text
    busy = await client.delete(install, headers=buyer.headers)
    assert busy.status_code == 409 and busy.json()["used_by"] == ["uses-forecast"]

    # a yanked version cannot be newly installed
    second = await account(client, app, "paid")
    yank = f"{API}/listings/{slug}/versions/1.0.0/yank"
    assert (await client.post(yank, headers=buyer.headers)).status_code == 403
    yanked = await client.post(yank, headers=author.headers)
    assert yanked.status_code == 200 and yanked.json()["yanked"] is True
    late = await client.post(
        install, json={"version": "1.0.0", "grants": ["http_fetch"]}, headers=second.headers
    )
    assert late.status_code == 409 and "yanked" in late.json()["detail"]

    # reports; moderation is for operators only
    reported = await client.post(
        f"{API}/listings/{slug}/reports", json={"reason": "spam"}, headers=second.headers
    )
    assert reported.status_code == 201
    forbidden = await client.put(
        f"{API}/listings/{slug}/moderation", json={"status": "removed"}, headers=buyer.headers
    )
    assert forbidden.status_code == 404  # operator endpoints do not exist for others


async def test_templates_carry_no_secrets_and_private_listings_stay_private(
    client: httpx.AsyncClient, app: FastAPI
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

    slug, word = unique("greeter-"), unique("zq")
    published = await client.post(
        f"{API}/publish",
        json={
            "kind": "flow", "flow_id": flow_id, "slug": slug, "title": "Greeter",
            "summary": f"Greets people by name {word}", "category": "productivity",
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

    found = await client.get(f"{API}/flows", params={"q": word}, headers=other.headers)
    assert [item["slug"] for item in found.json()["items"]] == [slug]

    hidden, secret_word = unique("in-house-"), unique("zq")
    private = await client.post(
        f"{API}/publish",
        json={
            "kind": "flow", "flow_id": flow_id, "slug": hidden, "title": "In house",
            "summary": f"Greets colleagues {secret_word}", "visibility": "private",
        },
        headers=author.headers,
    )  # fmt: skip
    assert private.status_code == 201, private.text
    detail = f"{API}/listings/{hidden}"
    assert (await client.get(detail, headers=other.headers)).status_code == 404
    assert (await client.get(detail, headers=author.headers)).status_code == 200
    searched = await client.get(f"{API}/flows", params={"q": secret_word}, headers=other.headers)
    assert searched.json()["total"] == 0
    mine = await client.get(f"{API}/flows", params={"mine": "true"}, headers=author.headers)
    assert {item["slug"] for item in mine.json()["items"]} == {slug, hidden}
    use = await client.post(f"{detail}/use", json={}, headers=other.headers)
    assert use.status_code == 404


async def test_operators_moderate_and_templates_name_their_tools(settings: Settings) -> None:
    operator_email = unique_email("operator")
    changed = settings.model_copy(update={"admin_emails": operator_email})
    async with running_app(changed) as (app, client):
        operator = await sign_up(client, operator_email)
        author = await account(client, app, "pro")
        user = await account(client, app, "paid")
        tool, word = unique("shouter-"), unique("zq")
        published = await publish_tool(client, author, tool, summary=f"Shouts {word}")
        assert published.status_code == 201, published.text
        flow = await client.post(
            "/api/flows",
            json={"organism_yaml": tool_flow_yaml("shouts", f"tool:{tool}@1.0.0")},
            headers=author.headers,
        )
        assert flow.status_code == 201, flow.text
        slug = unique("shouts-")
        template = await client.post(
            f"{API}/publish",
            json={"kind": "flow", "flow_id": flow.json()["id"], "slug": slug,
                  "title": "Shouts", "summary": "Shouts with a tool"},
            headers=author.headers,
        )  # fmt: skip
        assert template.status_code == 201, template.text
        assert template.json()["versions"][0]["required_tools"] == [f"tool:{tool}@1.0.0"]
        used = await client.post(f"{API}/listings/{slug}/use", json={}, headers=user.headers)
        assert used.status_code == 201, used.text
        missing = used.json()["missing_tools"]
        assert [item["reference"] for item in missing] == [f"tool:{tool}@1.0.0"]
        assert missing[0]["capabilities"]["http_fetch"]
        with_tool = await client.post(
            f"{API}/listings/{slug}/use",
            json={"name": "shouts-2", "tools": {tool: ["http_fetch"]}},
            headers=user.headers,
        )
        assert with_tool.status_code == 201, with_tool.text
        assert with_tool.json()["installed_tools"] == [f"tool:{tool}@1.0.0"]

        listing = f"{API}/listings/{tool}"
        reported = await client.post(
            f"{listing}/reports", json={"reason": "looks fishy"}, headers=user.headers
        )
        assert reported.status_code == 201
        assert (await client.get(f"{API}/reports", headers=user.headers)).status_code == 404
        reports = await client.get(f"{API}/reports", headers=operator.headers)
        assert [item["reason"] for item in reports.json() if item["listing"] == tool] == [
            "looks fishy"
        ]
        moderation = f"{listing}/moderation"
        unlisted = await client.put(
            moderation, json={"status": "unlisted"}, headers=operator.headers
        )
        assert unlisted.status_code == 200 and unlisted.json()["status"] == "unlisted"
        assert await slugs(client, user.headers, q=word) == []
        assert (await client.get(listing, headers=user.headers)).status_code == 200
        removed = await client.put(moderation, json={"status": "removed"}, headers=operator.headers)
        assert removed.status_code == 200
        assert (await client.get(listing, headers=user.headers)).status_code == 404
        assert (await client.get(listing, headers=author.headers)).status_code == 200
        flow_id = with_tool.json()["flow_id"]
        gone = await client.post(f"/api/flows/{flow_id}/start", headers=user.headers)
        assert gone.status_code == 422 and "removed from the marketplace" in gone.json()["detail"]
