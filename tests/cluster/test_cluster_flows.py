"""Flowplane on a real 3-master Redis Cluster: flows whose slots live on different nodes run
from webhooks to recorded executions, their logs stream, schedules fire, every pump's ACL user
exists on every node, and layout-1 keys move to the hash-tagged layout."""

from __future__ import annotations

import asyncio
from typing import Any

import redis
from redis.crc import key_slot

from control_plane.pumps.keylayout import layout_marker_key, migrate_key_layout
from control_plane.settings import Settings
from pump.keys import PUMP_REDIS_COMMANDS, FlowKeys, PumpEnv, acl_username
from tests.cluster.conftest import LocalCluster
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.pumps.pumps_helpers import sign_up_on
from tests.control_plane.triggers.test_triggers_schedules import scheduled_yaml
from tests.control_plane.triggers.triggers_helpers import (
    FlowUnderTest,
    make_flow,
    running_app,
    status_counts,
    wait_for,
    wait_for_statuses,
)


def owner_port(cluster: LocalCluster, key: str) -> int:
    """The port of the master serving `key`'s slot."""
    slot = key_slot(key.encode())
    for start, end, master, *_ in cluster.node(cluster.ports[0]).execute_command("CLUSTER SLOTS"):
        if int(start) <= slot <= int(end):
            return int(master[1])
    raise AssertionError(f"no node serves slot {slot}")


async def test_flows_on_every_node_run_webhooks_to_recorded_executions_and_logs(
    cluster_settings: Settings, redis_cluster: LocalCluster
) -> None:
    async with running_app(cluster_settings) as (app, client):
        assert app.state.redis.cluster is True  # detected from INFO cluster, not configured
        account = await sign_up_on(client, app)  # pro: several flows
        by_node: dict[int, FlowUnderTest] = {}
        for _ in range(30):  # one flow per master: their keys live on three different nodes
            flow = await make_flow(client, account=account, start=False)
            port = owner_port(redis_cluster, FlowKeys(account.tenant_id, flow.flow_id).triggers)
            by_node.setdefault(port, flow)
            if len(by_node) == len(redis_cluster.ports):
                break
        assert set(by_node) == set(redis_cluster.ports)
        for flow in by_node.values():
            started = await client.post(f"/api/flows/{flow.flow_id}/start", headers=account.headers)
            assert started.status_code == 202, started.text

        for flow in by_node.values():
            await wait_for(
                lambda flow=flow: _status(client, account.headers, flow.flow_id),
                lambda status: status == "running",
                what=f"flow {flow.flow_id} running",
            )
        responses = await asyncio.gather(
            *(
                client.post(flow.webhook_url, json={"n": n})
                for flow in by_node.values()
                for n in range(10)
            )
        )
        assert {response.status_code for response in responses} == {202}
        for flow in by_node.values():
            await wait_for_statuses(app, flow.flow_id, {"succeeded": 10})
            keys = FlowKeys(account.tenant_id, flow.flow_id)
            assert {key_slot(key.encode()) for key in (keys.triggers, keys.events, keys.logs)} == {
                key_slot(keys.heartbeat.encode())
            }
            logs = await client.get(
                f"/api/flows/{flow.flow_id}/logs?follow=false&history=50", headers=account.headers
            )
            assert logs.status_code == 200
            assert "serving as consumer" in logs.text


async def test_a_pumps_acl_user_holds_on_every_node(
    cluster_settings: Settings, redis_cluster: LocalCluster, handed: dict[str, dict[str, str]]
) -> None:
    async with running_app(cluster_settings) as (_, client):
        flow = await make_flow(client)
        tenant_id = flow.account.tenant_id
        keys = FlowKeys(tenant_id, flow.flow_id)
        username = acl_username(tenant_id, flow.flow_id)
        for port in redis_cluster.ports:
            user: Any = redis_cluster.node(port).acl_getuser(username)
            assert user is not None, f"no ACL user on node {port}"
            allowed = {rule.removeprefix("+") for rule in user["commands"]}
            if "+@transaction" in user["categories"]:  # how Redis lists WATCH ... EXEC
                allowed |= {"watch", "unwatch", "multi", "exec", "discard"}
            assert set(PUMP_REDIS_COMMANDS) <= allowed
            assert user["keys"] in ([f"~{keys.pattern}"], [keys.pattern])

        url = handed[flow.flow_id][PumpEnv.REDIS_URL]  # what the pump was given
        other = FlowKeys(tenant_id, "another-flow")
        owner = owner_port(redis_cluster, keys.triggers)
        for port in redis_cluster.ports:
            pump = redis.Redis.from_url(
                url.replace(f":{redis_cluster.ports[0]}/", f":{port}/"), driver_info=None
            )
            try:
                if port == owner:
                    assert pump.exists(keys.triggers) == 1
                else:  # authenticated here too; the slot is simply served elsewhere
                    try:
                        pump.exists(keys.triggers)
                        raise AssertionError("expected a MOVED redirect")
                    except redis.exceptions.ResponseError as error:
                        assert str(error).startswith(f"{key_slot(keys.triggers.encode())} ")
                for command in (("GET", other.triggers), ("SCAN", "0"), ("KEYS", "*")):
                    try:
                        pump.execute_command(*command)
                        raise AssertionError(f"{command} was allowed on {port}")
                    except redis.exceptions.NoPermissionError:
                        pass
            finally:
                pump.close()

        stopped = await client.post(f"/api/flows/{flow.flow_id}/stop", headers=flow.account.headers)
        assert stopped.status_code == 200
        for port in redis_cluster.ports:
            assert redis_cluster.node(port).acl_getuser(username) is None


async def test_schedules_fire_on_the_cluster(
    cluster_settings: Settings, redis_cluster: LocalCluster
) -> None:
    async with running_app(cluster_settings) as (app, client):
        flow = await make_flow(client, scheduled_yaml("* * * * *"))
        counts = await wait_for(
            lambda: status_counts(app, flow.flow_id),
            lambda counts: counts.get("succeeded", 0) >= 3,
            within=60,
            what="three scheduled executions",
        )
        assert counts["succeeded"] >= 3


async def test_layout_1_keys_move_to_the_hash_tagged_layout(
    cluster_settings: Settings, redis_cluster: LocalCluster
) -> None:
    async with running_app(cluster_settings) as (app, client):
        flow = await make_flow(client, start=False)
        keys = FlowKeys(flow.account.tenant_id, flow.flow_id)
        admin = app.state.redis.client
        old = keys.legacy_prefix
        await admin.xadd(old + "triggers", {"execution_id": "x1"})
        await admin.xgroup_create(old + "triggers", "pump", id="0")
        await admin.hset(old + "memory:data", "k", '"v"')
        await admin.set(old + "done:x0", "completed", ex=3600)
        database_url = cluster_settings.resolved_database_url
        await admin.delete(layout_marker_key(database_url))
        moved = await migrate_key_layout(admin, sessions(app), database_url, cluster=True)
        assert moved == 3
        assert await admin.exists(old + "triggers", old + "memory:data", old + "done:x0") == 0
        assert await admin.xlen(keys.triggers) == 1
        [group] = await admin.xinfo_groups(keys.triggers)
        assert group["name"] == "pump"
        assert await admin.hget(keys.memory_data, "k") == '"v"'
        assert 0 < await admin.ttl(keys.execution_state("x0")) <= 3600
        assert await migrate_key_layout(admin, sessions(app), database_url, cluster=True) == 0


async def _status(client: Any, headers: dict[str, str], flow_id: str) -> str:
    response = await client.get(f"/api/flows/{flow_id}/status", headers=headers)
    return str(response.json()["status"])
