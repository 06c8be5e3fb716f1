"""Issue 15 through the API: the webhook URL stays visible to its owner, versions restore,
samples, starters, and flow files (export, then import)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI

from control_plane.authoring.service import CANVAS_MARKER
from control_plane.executions.models import Execution
from control_plane.triggers.models import WebhookToken
from tests.control_plane.accounts.accounts_helpers import (
    Account,
    count_rows,
    sessions,
    set_tier,
    sign_up,
)
from tests.control_plane.flows.flows_helpers import TRIAGE_YAML, create_flow, hello_yaml


@pytest.fixture
async def account(client: httpx.AsyncClient) -> Account:
    return await sign_up(client)


async def test_the_webhook_url_with_its_token_survives_a_reload(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(client, account, organism_yaml=TRIAGE_YAML)
    rotated = await client.post(f"/api/flows/{flow['id']}/webhook/rotate", headers=account.headers)
    assert rotated.status_code == 200, rotated.text
    token = rotated.json()["token"]
    again = (await client.get(f"/api/flows/{flow['id']}", headers=account.headers)).json()
    assert again["webhook_url"] == rotated.json()["url"] and again["webhook_url"].endswith(token)
    assert again["webhook_token_known"] is True
    listed = (await client.get("/api/flows", headers=account.headers)).json()
    assert listed[0]["webhook_url"].endswith(token)
    # Encrypted at rest; the previous token stops working after a rotation.
    assert await count_rows(app, WebhookToken, WebhookToken.token_encrypted.contains(token)) == 0
    second = (
        await client.post(f"/api/flows/{flow['id']}/webhook/rotate", headers=account.headers)
    ).json()
    shown = (await client.get(f"/api/flows/{flow['id']}", headers=account.headers)).json()
    assert shown["webhook_url"].endswith(second["token"]) and second["token"] != token
    # A stranger sees nothing of it.
    stranger = await sign_up(client)
    assert (
        await client.get(f"/api/flows/{flow['id']}", headers=stranger.headers)
    ).status_code == 404


async def test_an_old_version_is_restored_as_a_new_one(
    client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(client, account, organism_yaml=hello_yaml(greeting="Hello"))
    changed = await client.put(
        f"/api/flows/{flow['id']}",
        json={"organism_yaml": hello_yaml(greeting="Bye")},
        headers=account.headers,
    )
    assert changed.json()["version"] == 2
    restored = await client.post(
        f"/api/flows/{flow['id']}/versions/1/restore", headers=account.headers
    )
    assert restored.status_code == 200, restored.text
    assert restored.json()["version"] == 3 and "Hello" in restored.json()["organism_yaml"]
    versions = (
        await client.get(f"/api/flows/{flow['id']}/versions", headers=account.headers)
    ).json()
    assert [version["number"] for version in versions] == [3, 2, 1]
    assert versions[0]["content_hash"] == versions[2]["content_hash"]
    missing = await client.post(
        f"/api/flows/{flow['id']}/versions/9/restore", headers=account.headers
    )
    assert missing.status_code == 404 and "no version 9" in missing.json()["detail"]


async def test_samples_are_saved_replaced_listed_and_deleted(
    client: httpx.AsyncClient, account: Account
) -> None:
    flow = await create_flow(client, account, organism_yaml=hello_yaml())
    base = f"/api/flows/{flow['id']}/samples"
    saved = await client.put(
        f"{base}/ada", json={"payload": {"name": "Ada"}}, headers=account.headers
    )
    assert saved.status_code == 200 and saved.json()["payload"] == {"name": "Ada"}
    await client.put(f"{base}/ada", json={"payload": {"name": "Ada L."}}, headers=account.headers)
    await client.put(f"{base}/bob", json={"payload": [1, 2]}, headers=account.headers)
    listed = (await client.get(base, headers=account.headers)).json()
    assert [(item["name"], item["payload"]) for item in listed] == [
        ("ada", {"name": "Ada L."}),
        ("bob", [1, 2]),
    ]
    bad = await client.put(f"{base}/%20bad", json={"payload": 1}, headers=account.headers)
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "name"
    deep = {"a": None}
    for _ in range(70):
        deep = {"a": deep}
    too_deep = await client.put(f"{base}/deep", json={"payload": deep}, headers=account.headers)
    assert too_deep.status_code in (400, 422) and "nested" in too_deep.text
    assert (await client.delete(f"{base}/ada", headers=account.headers)).status_code == 204
    assert (await client.delete(f"{base}/ada", headers=account.headers)).status_code == 404
    assert [item["name"] for item in (await client.get(base, headers=account.headers)).json()] == [
        "bob"
    ]
    stranger = await sign_up(client)
    assert (await client.get(base, headers=stranger.headers)).status_code == 404


async def test_starters_create_valid_flows_and_flow_files_round_trip(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> None:
    await set_tier(app, account.tenant_id, "pro")
    starters = (await client.get("/api/starters", headers=account.headers)).json()
    assert [item["title"] for item in starters] == [
        "Webhook → transform → HTTP",
        "Scheduled HTTP poll",
        "LLM classifier with branch",
    ]
    for number, starter in enumerate(starters):
        created = await client.post(
            "/api/flows",
            json={"name": f"starter-{number}", "organism_yaml": starter["organism_yaml"]},
            headers=account.headers,
        )
        assert created.status_code == 201, created.text

    flow = await create_flow(client, account, organism_yaml=TRIAGE_YAML)
    canvas = flow["canvas_state"]
    canvas["nodes"][0]["position"] = {"x": 1234, "y": 56}
    await client.put(
        f"/api/flows/{flow['id']}", json={"canvas_state": canvas}, headers=account.headers
    )
    exported = await client.get(f"/api/flows/{flow['id']}/export", headers=account.headers)
    assert exported.status_code == 200 and exported.headers["content-type"].startswith(
        "application/yaml"
    )
    assert 'filename="ticket-triage.flow.yaml"' in exported.headers["content-disposition"]
    assert CANVAS_MARKER in exported.text
    imported = await client.post(
        "/api/flows/import",
        json={"file": exported.text, "name": "triage-copy"},
        headers=account.headers,
    )
    assert imported.status_code == 201, imported.text
    copy = imported.json()
    assert copy["name"] == "triage-copy" and copy["version"] == 1
    assert copy["canvas_state"]["nodes"][0]["position"] == {"x": 1234, "y": 56}
    # A plain organism file imports too (laid out automatically); a clash names the problem.
    plain = await client.post(
        "/api/flows/import", json={"file": hello_yaml("plain")}, headers=account.headers
    )
    assert plain.status_code == 201 and plain.json()["canvas_state"]["nodes"]
    clash = await client.post(
        "/api/flows/import", json={"file": exported.text}, headers=account.headers
    )
    assert clash.status_code == 409 and "ticket-triage" in clash.json()["detail"]
    broken = await client.post(
        "/api/flows/import",
        json={"file": f"{hello_yaml('x')}{CANVAS_MARKER}\ncanvas_state: {{nope\n"},
        headers=account.headers,
    )
    assert broken.status_code == 422 and broken.json()["problems"][0]["path"] == "file.canvas_state"
    empty = await client.post("/api/flows/import", json={"file": "  "}, headers=account.headers)
    assert empty.status_code == 422 and empty.json()["problems"][0]["path"] == "file"


async def test_runs_of_every_flow_are_listed_with_filters(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> None:
    await set_tier(app, account.tenant_id, "pro")
    first = await create_flow(client, account, organism_yaml=hello_yaml("first"))
    second = await create_flow(client, account, organism_yaml=hello_yaml("second"))
    stranger = await sign_up(client)
    theirs = await create_flow(client, stranger, organism_yaml=hello_yaml("theirs"))
    now = datetime.now(UTC)
    rows = [
        (first["id"], account, "succeeded", "manual", now - timedelta(hours=3)),
        (first["id"], account, "failed", "webhook", now - timedelta(hours=2)),
        (second["id"], account, "succeeded", "schedule", now - timedelta(hours=1)),
        (theirs["id"], stranger, "succeeded", "manual", now),
    ]
    async with sessions(app)() as session, session.begin():
        for flow_id, owner, status, kind, created_at in rows:
            session.add(
                Execution(
                    id=uuid.uuid4().hex, tenant_id=owner.tenant_id, flow_id=flow_id,
                    status=status, trigger="run", trigger_kind=kind, target="shout",
                    created_at=created_at,
                )
            )  # fmt: skip

    async def listed(**params: str) -> list[tuple[str, str]]:
        response = await client.get("/api/executions", params=params, headers=account.headers)
        assert response.status_code == 200, response.text
        return [(item["flow_id"], item["status"]) for item in response.json()["items"]]

    assert await listed() == [
        (second["id"], "succeeded"),
        (first["id"], "failed"),
        (first["id"], "succeeded"),
    ]
    assert await listed(flow_id=first["id"]) == [
        (first["id"], "failed"),
        (first["id"], "succeeded"),
    ]
    assert await listed(status="failed") == [(first["id"], "failed")]
    assert await listed(trigger_kind="schedule") == [(second["id"], "succeeded")]
    since = (now - timedelta(minutes=150)).replace(tzinfo=None).isoformat()  # naive: UTC
    until = (now - timedelta(minutes=90)).isoformat()
    assert await listed(since=since, until=until) == [(first["id"], "failed")]
    foreign = await client.get(f"/api/executions?flow_id={theirs['id']}", headers=account.headers)
    assert foreign.status_code == 404
    bad = await client.get("/api/executions?trigger_kind=email", headers=account.headers)
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "trigger_kind"
    empty = await client.get(
        "/api/executions", params={"since": until, "until": since}, headers=account.headers
    )
    assert empty.status_code == 422 and empty.json()["problems"][0]["path"] == "since"


async def test_expressions_preview_on_a_payload(
    client: httpx.AsyncClient, account: Account
) -> None:
    async def preview(**body: object) -> dict[str, object]:
        response = await client.post("/api/organism/evaluate", json=body, headers=account.headers)
        assert response.status_code == 200, response.text
        result: dict[str, object] = response.json()
        return result

    payload = {"order": {"total": 42, "items": [{"sku": "a"}, {"sku": "b"}]}}
    assert await preview(expression="payload.order.items[].sku", payload=payload) == {
        "value": ["a", "b"],
        "error": None,
    }
    assert (await preview(expression="payload.order.total > `40`", payload=payload))[
        "value"
    ] is True
    templated = await preview(
        expression="Total: {{ payload.order.total }}", payload=payload, template=True
    )
    assert templated["value"] == "Total: 42"
    broken = await preview(expression="payload.order[", payload=payload)
    assert broken["value"] is None and "invalid JMESPath" in str(broken["error"])
    anonymous = await client.post("/api/organism/evaluate", json={"expression": "payload"})
    assert anonymous.status_code == 401


async def test_yaml_written_by_hand_is_kept_as_written(
    app: FastAPI, client: httpx.AsyncClient, account: Account
) -> None:
    await set_tier(app, account.tenant_id, "pro")
    written = (
        "# greets people\nversion: 1\norganism: {name: 'kept', description: \"Greets\"}\n"
        "triggers:\n  - {name: run, kind: manual, target: shout}  # the Run button\n"
        "listeners:\n  - name: shout\n    handler: builtin.transform\n    peers: [done]\n"
        "    config: {set: {greeting: 'Hello {{ payload.name }}'}}\n"
        "  - {name: done, handler: builtin.output}\n"
    )
    flow = await create_flow(client, account, organism_yaml=written)
    assert flow["organism_source"] == written and flow["organism_yaml"] != written
    canvas = flow["canvas_state"]
    canvas["nodes"][0]["position"] = {"x": 5, "y": 5}
    moved = await client.put(
        f"/api/flows/{flow['id']}", json={"canvas_state": canvas}, headers=account.headers
    )
    assert moved.json()["organism_source"] == written  # moving nodes keeps the text
    edited = written.replace("Hello", "Hi")
    saved = await client.put(
        f"/api/flows/{flow['id']}", json={"organism_yaml": edited}, headers=account.headers
    )
    assert saved.json()["version"] == 2 and saved.json()["organism_source"] == edited
    renamed = await client.put(
        f"/api/flows/{flow['id']}", json={"name": "renamed"}, headers=account.headers
    )
    # the text names the old flow: the canonical YAML is shown again
    assert renamed.json()["organism_source"] == renamed.json()["organism_yaml"]
    # a name sent beside the text wins, so that text is not the flow's
    other = await create_flow(client, account, organism_yaml=written, name="other")
    assert other["organism_source"] == other["organism_yaml"]
