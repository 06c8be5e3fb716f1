"""Members, single-use invitations, the member limit, workspace switching and the audit log."""

from __future__ import annotations

import httpx
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import set_tier, sign_up
from tests.control_plane.accounts.team_helpers import invite_and_join


async def test_invitations_are_single_use_and_bound_to_their_email(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner, guest, stranger = await sign_up(client), await sign_up(client), await sign_up(client)
    invited = await client.post(
        "/api/members/invitations",
        json={"email": guest.email.upper(), "role": "viewer"},
        headers=owner.headers,
    )
    assert invited.status_code == 201, invited.text
    token = invited.json()["token"]
    assert invited.json()["accept_url"].endswith(f"/invite/{token}")
    pending = (await client.get("/api/members/invitations", headers=owner.headers)).json()
    assert [item["email"] for item in pending] == [guest.email] and "token" not in pending[0]

    wrong = await client.post(f"/api/invitations/{token}/accept", headers=stranger.headers)
    assert wrong.status_code == 403 and guest.email in wrong.json()["detail"]
    joined = await client.post(f"/api/invitations/{token}/accept", headers=guest.headers)
    assert joined.status_code == 200 and joined.json()["role"] == "viewer"
    again = await client.post(f"/api/invitations/{token}/accept", headers=guest.headers)
    assert again.status_code == 404
    members = (await client.get("/api/members", headers=owner.headers)).json()
    assert {(item["email"], item["role"]) for item in members} == {
        (owner.email, "owner"),
        (guest.email, "viewer"),
    }
    # The guest now has two workspaces and switches between them.
    session = joined.json()["token"]
    spaces = (
        await client.get("/api/workspaces", headers={"Authorization": f"Bearer {session}"})
    ).json()
    assert {(space["id"], space["role"], space["current"]) for space in spaces} == {
        (guest.tenant_id, "owner", False),
        (owner.tenant_id, "viewer", True),
    }
    back = await client.post(
        f"/api/workspaces/{guest.tenant_id}/session",
        headers={"Authorization": f"Bearer {session}"},
    )
    assert back.status_code == 200 and back.json()["role"] == "owner"
    foreign = await client.post(
        f"/api/workspaces/{stranger.tenant_id}/session", headers=guest.headers
    )
    assert foreign.status_code == 404

    bad = await client.post(
        "/api/members/invitations",
        json={"email": "x@example.com", "role": "god"},
        headers=owner.headers,
    )
    assert bad.status_code == 422 and bad.json()["problems"][0]["path"] == "role"


async def test_member_limit_roles_rules_and_removal(
    client: httpx.AsyncClient, app: FastAPI
) -> None:
    owner = await sign_up(client)
    await set_tier(app, owner.tenant_id, "pro")  # one member: the owner
    refused = await client.post(
        "/api/members/invitations",
        json={"email": "more@example.com", "role": "editor"},
        headers=owner.headers,
    )
    assert refused.status_code == 402, refused.text
    assert refused.json()["quota"] == "team_members" and refused.json()["used"] == 1
    await set_tier(app, owner.tenant_id, "enterprise")
    admin = await invite_and_join(client, owner, "admin")
    editor = await invite_and_join(client, owner, "editor")

    # An admin manages editors but not owners, and cannot make owners.
    promote = await client.patch(
        f"/api/members/{editor.user_id}", json={"role": "owner"}, headers=admin.headers
    )
    assert promote.status_code == 403
    demote_owner = await client.patch(
        f"/api/members/{owner.user_id}", json={"role": "viewer"}, headers=admin.headers
    )
    assert demote_owner.status_code == 403
    last_owner = await client.patch(
        f"/api/members/{owner.user_id}", json={"role": "admin"}, headers=owner.headers
    )
    assert last_owner.status_code == 409
    changed = await client.patch(
        f"/api/members/{editor.user_id}", json={"role": "viewer"}, headers=admin.headers
    )
    assert changed.status_code == 200 and changed.json()["role"] == "viewer"
    now_viewer = await client.post("/api/flows", json={"name": "x"}, headers=editor.headers)
    assert now_viewer.status_code == 403, "a role change applies to existing sessions at once"

    removed = await client.delete(f"/api/members/{editor.user_id}", headers=admin.headers)
    assert removed.status_code == 204
    assert (await client.get("/api/flows", headers=editor.headers)).status_code == 401


async def test_audit_log_names_who_did_what(client: httpx.AsyncClient, app: FastAPI) -> None:
    owner = await sign_up(client)
    editor = await invite_and_join(client, owner, "editor")
    created = await client.post("/api/flows", json={"name": "audited"}, headers=editor.headers)
    flow_id = created.json()["id"]
    renamed = await client.put(
        f"/api/flows/{flow_id}", json={"name": "audited-2"}, headers=editor.headers
    )
    assert renamed.status_code == 200
    refused = await client.post(f"/api/flows/{flow_id}/start", headers=editor.headers)
    assert refused.status_code == 409  # no listeners: a refused request leaves no entry
    assert (await client.delete(f"/api/flows/{flow_id}", headers=owner.headers)).status_code == 204
    assert (await client.get("/api/audit", headers=editor.headers)).status_code == 403

    events = (await client.get("/api/audit", headers=owner.headers)).json()
    about_flow = [
        (event["action"], event["user_email"]) for event in events if event["target_id"] == flow_id
    ]
    assert about_flow == [
        ("delete", owner.email),
        ("change", editor.email),
        ("create", editor.email),
    ]
    created_entry = next(
        event for event in events if event["action"] == "create" and event["target_type"] == "flow"
    )
    assert "audited" in created_entry["summary"]
    assert any(event["action"] == "join" for event in events)
    only = (
        await client.get(
            "/api/audit", params={"target_id": flow_id, "limit": 1}, headers=owner.headers
        )
    ).json()
    assert [event["action"] for event in only] == ["delete"]
