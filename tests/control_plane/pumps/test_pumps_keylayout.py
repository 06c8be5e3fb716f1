"""Key layout 1 -> 2 on a standalone Redis: a flow's old keys (streams with their consumer
groups, hashes, TTLs) move under the hash-tagged prefix at start-up; keys of flows this control
plane does not know are left alone."""

from __future__ import annotations

import uuid

from control_plane.pumps.keylayout import layout_marker_key, migrate_key_layout
from control_plane.settings import Settings
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.triggers.triggers_helpers import make_flow, running_app


async def test_a_flows_layout_1_keys_move_and_strangers_keys_stay(settings: Settings) -> None:
    async with running_app(settings) as (app, client):
        flow = await make_flow(client, start=False)
        keys = FlowKeys(flow.account.tenant_id, flow.flow_id)
        stranger = FlowKeys(uuid.uuid4().hex, uuid.uuid4().hex)  # not in this database
        admin = app.state.redis.client
        old = keys.legacy_prefix
        try:
            await admin.xadd(old + "triggers", {"execution_id": "x1"})
            await admin.xgroup_create(old + "triggers", "pump", id="0")
            await admin.xreadgroup("pump", "c1", {old + "triggers": ">"})  # one pending entry
            await admin.xadd(old + "logs", {"message": "hello"})
            await admin.set(old + "memory:bytes", "12")
            await admin.set(old + "done:x0", "completed", ex=600)
            await admin.set(stranger.legacy_prefix + "logs", "theirs")

            database_url = settings.resolved_database_url
            await admin.delete(layout_marker_key(database_url))  # the app ran it at start-up
            assert await migrate_key_layout(admin, sessions(app), database_url, cluster=False) == 4
            assert await admin.exists(old + "triggers", old + "logs", old + "memory:bytes") == 0
            [group] = await admin.xinfo_groups(keys.triggers)
            assert (group["name"], group["pending"]) == ("pump", 1)
            assert (await admin.xrange(keys.logs))[0][1] == {"message": "hello"}
            assert await admin.get(keys.memory_bytes) == "12"
            assert 0 < await admin.ttl(keys.execution_state("x0")) <= 600
            assert await admin.get(stranger.legacy_prefix + "logs") == "theirs"
            again = await migrate_key_layout(admin, sessions(app), database_url, cluster=False)
            assert again == 0  # once per database (the marker)
        finally:
            await admin.delete(
                *(keys.prefix + name for name in ("triggers", "logs", "memory:bytes", "done:x0")),
                stranger.legacy_prefix + "logs",
            )
