"""Each role against each endpoint (table-driven, in-process): below the endpoint's role is
403 Forbidden, at or above it is anything but 401/403/500. The table must name every /api
endpoint, so a new endpoint without `require_role` fails here."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from control_plane.accounts.roles import RANK, ROLES, required_role
from control_plane.app import API_ROUTERS
from tests.control_plane.accounts.accounts_helpers import Account
from tests.control_plane.accounts.team_helpers import team_of

PUBLIC = "public"  # no principal: sign-up, log-in, webhooks (token in the path), pump downloads
ROLE_TABLE: dict[tuple[str, str], str] = {
    ("POST", "/api/auth/signup"): PUBLIC,
    ("POST", "/api/auth/login"): PUBLIC,
    ("GET", "/api/auth/me"): "viewer",
    ("POST", "/api/auth/logout"): "viewer",
    ("POST", "/api/auth/password"): "viewer",
    ("DELETE", "/api/auth/sessions"): "viewer",
    ("GET", "/api/keys"): "viewer",  # your own keys: a key carries your role, no more
    ("POST", "/api/keys"): "viewer",
    ("DELETE", "/api/keys/{key_id}"): "viewer",
    ("GET", "/api/members"): "viewer",
    ("PATCH", "/api/members/{user_id}"): "admin",
    ("DELETE", "/api/members/{user_id}"): "admin",
    ("GET", "/api/members/invitations"): "admin",
    ("POST", "/api/members/invitations"): "admin",
    ("DELETE", "/api/members/invitations/{invitation_id}"): "admin",
    ("POST", "/api/invitations/{token}/accept"): "viewer",
    ("GET", "/api/workspaces"): "viewer",
    ("POST", "/api/workspaces/{tenant_id}/session"): "viewer",
    ("GET", "/api/audit"): "admin",
    ("GET", "/api/flows"): "viewer",
    ("POST", "/api/flows"): "editor",
    ("GET", "/api/flows/{flow_id}"): "viewer",
    ("PUT", "/api/flows/{flow_id}"): "editor",
    ("DELETE", "/api/flows/{flow_id}"): "editor",
    ("GET", "/api/flows/{flow_id}/versions"): "viewer",
    ("GET", "/api/flows/{flow_id}/versions/{number}"): "viewer",
    ("POST", "/api/organism/compile"): "viewer",
    ("POST", "/api/organism/parse"): "viewer",
    ("POST", "/api/organism/evaluate"): "viewer",
    ("GET", "/api/executions"): "viewer",
    ("GET", "/api/flows/{flow_id}/samples"): "viewer",
    ("PUT", "/api/flows/{flow_id}/samples/{name}"): "editor",
    ("DELETE", "/api/flows/{flow_id}/samples/{name}"): "editor",
    ("GET", "/api/flows/{flow_id}/export"): "viewer",
    ("POST", "/api/flows/import"): "editor",
    ("GET", "/api/starters"): "viewer",
    ("POST", "/api/flows/{flow_id}/versions/{number}/restore"): "editor",
    ("POST", "/api/flows/{flow_id}/start"): "editor",
    ("POST", "/api/flows/{flow_id}/stop"): "editor",
    ("GET", "/api/flows/{flow_id}/status"): "viewer",
    ("GET", "/api/flows/{flow_id}/logs"): "viewer",
    ("GET", "/api/flows/{flow_id}/secrets"): "viewer",
    ("PUT", "/api/flows/{flow_id}/secrets"): "editor",
    ("POST", "/api/triggers/{flow_id}/webhook/{token}"): PUBLIC,
    ("POST", "/api/triggers/{flow_id}/inject"): "editor",
    ("POST", "/api/flows/{flow_id}/webhook/rotate"): "editor",
    ("GET", "/api/flows/{flow_id}/executions"): "viewer",
    ("GET", "/api/executions/{execution_id}"): "viewer",
    ("POST", "/api/executions/{execution_id}/retry"): "editor",
    ("POST", "/api/executions/{execution_id}/cancel"): "editor",
    ("POST", "/api/executions/{execution_id}/rerun"): "editor",
    ("POST", "/api/executions/{execution_id}/approve"): "editor",
    ("POST", "/api/executions/{execution_id}/reject"): "editor",
    (
        "POST",
        "/api/flows/{flow_id}/events/{topic}",
    ): PUBLIC,  # an API key (editor) or the event token
    ("POST", "/api/flows/{flow_id}/event-token"): "editor",
    ("POST", "/api/flows/{flow_id}/schedules"): "editor",
    ("GET", "/api/flows/{flow_id}/schedules"): "viewer",
    ("GET", "/api/flows/{flow_id}/schedules/{job_id}"): "viewer",
    ("DELETE", "/api/flows/{flow_id}/schedules/{job_id}"): "editor",
    ("GET", "/api/flows/{flow_id}/callback-settings"): "editor",  # it shows the signing secret
    ("PUT", "/api/flows/{flow_id}/callback-settings"): "editor",
    ("POST", "/api/flows/{flow_id}/callback-settings/rotate"): "editor",
    ("GET", "/api/modules"): "viewer",
    ("POST", "/api/modules"): "editor",
    ("GET", "/api/modules/templates"): "viewer",
    ("GET", "/api/modules/sdk"): "viewer",
    ("GET", "/api/modules/{module_id}"): "viewer",
    ("PATCH", "/api/modules/{module_id}"): "editor",
    ("DELETE", "/api/modules/{module_id}"): "editor",
    ("POST", "/api/modules/{module_id}/versions"): "editor",
    ("GET", "/api/modules/{module_id}/versions/{number}"): "viewer",
    ("GET", "/api/modules/{module_id}/versions/{number}/wasm"): "viewer",
    ("POST", "/api/modules/{module_id}/test"): "editor",
    ("GET", "/api/pump-modules/{token}/{filename}"): PUBLIC,
    ("GET", "/api/marketplace/tools"): "viewer",
    ("GET", "/api/marketplace/flows"): "viewer",
    ("GET", "/api/marketplace/installed"): "viewer",
    ("GET", "/api/marketplace/public-key"): "viewer",
    ("GET", "/api/marketplace/listings/{slug}"): "viewer",
    ("POST", "/api/marketplace/publish"): "editor",
    ("POST", "/api/marketplace/listings/{slug}/install"): "editor",
    ("DELETE", "/api/marketplace/listings/{slug}/install"): "editor",
    ("POST", "/api/marketplace/listings/{slug}/use"): "editor",
    ("POST", "/api/marketplace/listings/{slug}/reviews"): "editor",
    ("POST", "/api/marketplace/listings/{slug}/reports"): "editor",
    ("POST", "/api/marketplace/listings/{slug}/versions/{version}/yank"): "editor",
    # platform operators (FLOWPLANE_ADMIN_EMAILS) only; 404 to everyone else
    ("GET", "/api/marketplace/reports"): "viewer",
    ("PUT", "/api/marketplace/listings/{slug}/moderation"): "viewer",
    ("GET", "/api/billing"): "viewer",
    ("POST", "/api/billing/checkout"): "admin",
    ("POST", "/api/billing/portal"): "admin",
    ("GET", "/api/billing/invoices"): "admin",
}
# they would end the session the table runs on (tests/security covers them)
NOT_SENT = {("POST", "/api/auth/logout"), ("DELETE", "/api/auth/sessions")}


def api_routes() -> dict[tuple[str, str], str]:
    """Every /api endpoint with the role its dependencies require (PUBLIC: none)."""
    found: dict[tuple[str, str], str] = {}
    for router in API_ROUTERS:
        for route in router.routes:
            if isinstance(route, APIRoute):
                role = _required(route.dependant) or PUBLIC
                for method in route.methods:
                    found[(method, f"/api{route.path}")] = role
    return found


def _required(dependant: Dependant) -> str | None:
    role = required_role(dependant.call)
    if role is not None:
        return role
    return next(
        (found for item in dependant.dependencies if (found := _required(item)) is not None),
        None,
    )


def test_every_endpoint_requires_the_role_in_the_table() -> None:
    found = api_routes()
    missing = sorted(set(found) - set(ROLE_TABLE))
    assert not missing, f"endpoints without an entry in ROLE_TABLE (add require_role): {missing}"
    assert {key: found[key] for key in ROLE_TABLE if key in found} == {
        key: role for key, role in ROLE_TABLE.items() if key in found
    }


def _fill(path: str) -> str:
    values = {"number": "1", "filename": "x.wasm", "token": "fpi_unknown"}
    for part in path.split("/"):
        if part.startswith("{"):
            name = part.strip("{}")
            path = path.replace(part, values.get(name, "0" * 32))
    return path


async def test_each_role_against_each_endpoint(app: FastAPI, client: httpx.AsyncClient) -> None:
    team = await team_of(client, app)
    routes = api_routes()
    outcomes: list[tuple[str, str, str, int]] = []
    for (method, path), required in sorted(ROLE_TABLE.items()):
        if required == PUBLIC or (method, path) in NOT_SENT or (method, path) not in routes:
            continue
        for role in ROLES:
            account: Account = team[role]
            kwargs: dict[str, Any] = {"headers": account.headers}
            if method in ("POST", "PUT", "PATCH"):
                kwargs["json"] = {}
            response = await client.request(method, _fill(path), **kwargs)
            outcomes.append((method, path, role, response.status_code))
            allowed = RANK[role] >= RANK[required]
            if allowed:
                assert response.status_code not in (401, 403, 500), (
                    f"{role} {method} {path}: {response.status_code} {response.text}"
                )
            else:
                assert response.status_code == 403, (
                    f"{role} {method} {path}: {response.status_code} {response.text}"
                )
                body = response.json()
                assert body["error"] == "Forbidden" and body["required_role"] == required
    assert len(outcomes) >= 4 * 40


@pytest.mark.parametrize("role", ["viewer"])
async def test_a_viewer_cannot_save_start_or_run(
    app: FastAPI, client: httpx.AsyncClient, role: str
) -> None:
    team = await team_of(client, app)
    owner, viewer = team["owner"], team[role]
    created = await client.post("/api/flows", json={"name": "shared"}, headers=owner.headers)
    assert created.status_code == 201
    flow_id = created.json()["id"]
    # Readable ...
    assert (await client.get(f"/api/flows/{flow_id}", headers=viewer.headers)).status_code == 200
    # ... but not changeable, startable or runnable.
    for method, path in [
        ("PUT", f"/api/flows/{flow_id}"),
        ("POST", f"/api/flows/{flow_id}/start"),
        ("POST", f"/api/triggers/{flow_id}/inject"),
    ]:
        refused = await client.request(method, path, json={}, headers=viewer.headers)
        assert refused.status_code == 403, refused.text
        assert "needs the editor role" in refused.json()["detail"]
