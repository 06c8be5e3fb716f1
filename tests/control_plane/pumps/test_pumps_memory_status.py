"""A flow's status shows the project memory it holds against its plan's quota (the editor's
usage bar); a counter a hostile pump garbled reads as 0, never as a 500."""

from __future__ import annotations

import json

from control_plane.billing.tiers import tier_limits
from control_plane.settings import Settings
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import set_tier, sign_up
from tests.control_plane.pumps.pumps_helpers import echo_yaml
from tests.control_plane.triggers.triggers_helpers import app_settings, make_flow, running_app

REMEMBERING = """version: 1
organism: {name: remembering}
triggers: [{name: run, kind: manual, target: save}]
listeners:
  - {name: save, handler: builtin.memory, peers: [done],
     config: {op: set, key: "note:{{ payload.id }}", value: "{{ payload.note }}"}}
  - {name: done, handler: builtin.output}
memory: {project: true}
"""


async def test_status_shows_project_memory_used_and_the_plans_quota(settings: Settings) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        account = await sign_up(client)
        await set_tier(app, account.tenant_id, "pro")
        flow = await make_flow(client, REMEMBERING, account=account)
        status = f"/api/flows/{flow.flow_id}/status"
        fresh = (await client.get(status, headers=account.headers)).json()
        quota = tier_limits("pro").project_memory_bytes
        assert fresh["memory"] == {"used_bytes": 0, "quota_bytes": quota}

        ran = await client.post(
            f"/api/triggers/{flow.flow_id}/inject?wait=true",
            json={"payload": {"id": 1, "note": "hello"}},
            headers=account.headers,
        )
        assert ran.json()["status"] == "succeeded", ran.text
        used = (await client.get(status, headers=account.headers)).json()["memory"]
        stored = len(b"note:1") + len(json.dumps("hello").encode())
        assert used == {"used_bytes": stored, "quota_bytes": quota}

        # the counter is the pump's to write: garbage in it reads as 0
        keys = FlowKeys(account.tenant_id, flow.flow_id)
        await app.state.redis.client.set(keys.memory_bytes, "-1e9; DROP")
        garbled = await client.get(status, headers=account.headers)
        assert garbled.status_code == 200 and garbled.json()["memory"]["used_bytes"] == 0

        # a flow that does not use project memory has none to show; unlimited plans no cap
        plain = await make_flow(client, echo_yaml("plain"), account=account)
        body = await client.get(f"/api/flows/{plain.flow_id}/status", headers=account.headers)
        assert body.json()["memory"] is None
        await set_tier(app, account.tenant_id, "self-hosted")
        unlimited = (await client.get(status, headers=account.headers)).json()["memory"]
        assert unlimited == {"used_bytes": 0, "quota_bytes": None}
