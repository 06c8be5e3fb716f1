"""Per-flow Redis ACL users: confined to the flow's keys, rotated per start, gone after stop."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from redis.exceptions import ResponseError

from control_plane.pumps.acl import PumpCredentials, with_credentials
from control_plane.redis import EmbeddedRedis
from pump.keys import PUMP_REDIS_COMMANDS, FlowKeys, acl_username
from tests.control_plane.pumps.pumps_helpers import as_pump, assert_confined, assert_rejected


def fresh_id() -> str:
    return uuid.uuid4().hex


@pytest.fixture
async def admin(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


async def test_a_credential_reaches_only_its_own_flow(
    admin: aioredis.Redis, redis_url: str
) -> None:
    tenant, other_tenant = fresh_id(), fresh_id()
    own, sibling, stranger = fresh_id(), fresh_id(), fresh_id()
    credentials = PumpCredentials(admin, redis_url)
    url = await credentials.issue(tenant, own)
    await credentials.issue(tenant, sibling)  # another flow of the same tenant has a user too
    try:
        await assert_confined(
            url,
            FlowKeys(tenant, own),
            [FlowKeys(tenant, sibling), FlowKeys(other_tenant, stranger)],
        )
    finally:
        for flow in (own, sibling):
            await credentials.revoke(tenant, flow)


async def test_rules_list_exactly_the_pumps_commands(admin: aioredis.Redis, redis_url: str) -> None:
    tenant, flow = fresh_id(), fresh_id()
    credentials = PumpCredentials(admin, redis_url)
    await credentials.issue(tenant, flow)
    try:
        user: Any = await admin.acl_getuser(acl_username(tenant, flow))
        # Redis 7 prefixes patterns with ~ and &; Redis 6.2 listed them bare
        keys = [pattern if pattern.startswith("~") else f"~{pattern}" for pattern in user["keys"]]
        channels = [
            pattern if pattern.startswith("&") else f"&{pattern}" for pattern in user["channels"]
        ]
        assert channels == [f"&tenant:{tenant}:flow:{{{flow}}}:*"]
        allowed = {rule.removeprefix("+") for rule in user["commands"]}
        # Redis lists WATCH, UNWATCH, MULTI, EXEC and DISCARD together as +@transaction
        if "+@transaction" in user["categories"]:
            allowed |= {"watch", "unwatch", "multi", "exec", "discard"}
        assert set(PUMP_REDIS_COMMANDS) <= allowed
        assert allowed <= {*PUMP_REDIS_COMMANDS, "client|setinfo"}
        assert set(user["categories"]) <= {"-@all", "+@transaction"}
        assert keys == [f"~tenant:{tenant}:flow:{{{flow}}}:*"]  # the flow is the hash tag
        assert user["enabled"] is True
        assert len(user["passwords"]) == 1
    finally:
        await credentials.revoke(tenant, flow)


async def test_revoking_rejects_the_password_and_closes_connections(
    admin: aioredis.Redis, redis_url: str
) -> None:
    tenant, flow = fresh_id(), fresh_id()
    credentials = PumpCredentials(admin, redis_url)
    url = await credentials.issue(tenant, flow)
    pump = as_pump(url)
    await pump.set(FlowKeys(tenant, flow).prefix + "x", "1")
    await credentials.revoke(tenant, flow)
    assert not await credentials.exists(tenant, flow)
    clients = await admin.client_list()
    assert not [item for item in clients if item.get("user") == acl_username(tenant, flow)]
    await pump.aclose()
    await assert_rejected(url)
    await credentials.revoke(tenant, flow)  # twice is harmless


async def test_a_new_start_rotates_the_password_and_cuts_off_the_old_pump(
    admin: aioredis.Redis, redis_url: str
) -> None:
    tenant, flow = fresh_id(), fresh_id()
    credentials = PumpCredentials(admin, redis_url)
    first = await credentials.issue(tenant, flow)
    old_pump = as_pump(first)
    await old_pump.ping()
    second = await credentials.issue(tenant, flow)
    try:
        assert first != second
        await old_pump.aclose()
        await assert_rejected(first)
        fresh = as_pump(second)
        assert await fresh.ping()
        await fresh.aclose()
    finally:
        await credentials.revoke(tenant, flow)


async def test_ids_that_would_widen_the_key_pattern_are_refused(
    admin: aioredis.Redis, redis_url: str
) -> None:
    credentials = PumpCredentials(admin, redis_url)
    for tenant, flow in (("*", fresh_id()), (fresh_id(), "a:b"), (fresh_id(), "x?"), ("", "y")):
        with pytest.raises(ValueError, match="ACL key pattern"):
            await credentials.issue(tenant, flow)


async def test_the_embedded_valkey_accepts_the_same_rules(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path / "redis")
    server.start()
    admin = aioredis.Redis.from_url(server.url, decode_responses=True)
    try:
        tenant, flow, other = fresh_id(), fresh_id(), fresh_id()
        credentials = PumpCredentials(admin, server.url)
        url = await credentials.issue(tenant, flow)
        assert url.startswith(f"redis://pump-{tenant}-{flow}:")
        assert "default" not in url and server.password not in url
        await assert_confined(url, FlowKeys(tenant, flow), [FlowKeys(tenant, other)])
        await credentials.revoke(tenant, flow)
        await assert_rejected(url)
    finally:
        await admin.aclose()
        server.stop()


def test_credentials_replace_whatever_the_url_carried() -> None:
    assert (
        with_credentials("redis://default:admin-secret@127.0.0.1:6379/0", "pump-a-b", "p/w:d")
        == "redis://pump-a-b:p%2Fw%3Ad@127.0.0.1:6379/0"
    )
    assert (
        with_credentials("rediss://redis.internal:6380/2", "u", "p")
        == "rediss://u:p@redis.internal:6380/2"
    )
    assert with_credentials("redis://[::1]:6379", "u", "p") == "redis://u:p@[::1]:6379"
    unix = with_credentials("unix:///run/redis.sock?db=1&password=admin", "u", "p")
    assert unix == "unix:///run/redis.sock?db=1&username=u&password=p"


async def test_unknown_rules_are_an_error_not_a_silent_grant(admin: aioredis.Redis) -> None:
    with pytest.raises(ResponseError):
        await admin.execute_command(  # type: ignore[no-untyped-call]
            "ACL", "SETUSER", f"probe-{fresh_id()}", "+no-such-command"
        )
