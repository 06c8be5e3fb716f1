"""The Redis key layout migration: keys of layout 1 (`tenant:T:flow:F:<name>`) move to layout 2
(`tenant:T:flow:{F}:<name>`, `pump.keys.KEY_LAYOUT_VERSION`), where the flow id is the Redis
Cluster hash tag. Runs at start-up, before the reconciler, recorder and triggers, once per
database (a marker key records it).

Only keys of flows in this control plane's database move: a Redis shared with anything else
keeps that one's keys. One SCAN over `tenant:*:flow:*` finds them. On a standalone server each
is RENAMENX'd (a stream keeps its consumer groups and pending entries); on Redis Cluster the old
and new names live in different slots, so each is DUMPed, RESTOREd with its TTL and deleted. A
key whose new name exists already (a pump of the new version wrote it) is left where it is and
logged. Pumps of the old version still running (docker, kubernetes) have no heartbeat under the
new names, so the reconciler's first pass replaces them with pumps that use the new layout."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from control_plane.flows.models import Flow
from pump.keys import KEY_LAYOUT_VERSION, parse_flow_key

log = structlog.get_logger("control_plane.pumps.keylayout")
SCAN_COUNT = 1000
RETRY_SECONDS = 5.0


def layout_marker_key(database_url: str) -> str:
    digest = hashlib.sha256(database_url.encode()).hexdigest()[:16]
    return f"flowplane:keys:layout:{digest}"


async def migrate_key_layout(
    redis: aioredis.Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    *,
    cluster: bool,
) -> int:
    """Move this database's flows' layout-1 keys; returns how many moved."""
    marker = layout_marker_key(database_url)
    if await redis.get(marker) == str(KEY_LAYOUT_VERSION):
        return 0
    async with sessionmaker() as session:
        flows = {
            (tenant, flow)
            for tenant, flow in await session.execute(select(Flow.tenant_id, Flow.id))
        }
    moved = 0
    if flows:
        async for key in redis.scan_iter(match="tenant:*:flow:*", count=SCAN_COUNT):
            name = key if isinstance(key, str) else key.decode()
            parsed = parse_flow_key(name, legacy=True)
            if parsed is None:
                continue
            keys, rest = parsed
            if (keys.tenant_id, keys.flow_id) not in flows:
                continue
            target = keys.prefix + rest
            if await _move(redis, name, target, cluster=cluster):
                moved += 1
    await redis.set(marker, str(KEY_LAYOUT_VERSION))
    if moved:
        log.info("keys.layout_migrated", keys=moved, version=KEY_LAYOUT_VERSION)
    return moved


async def migrate_when_possible(
    redis: aioredis.Redis,
    sessionmaker: async_sessionmaker[AsyncSession],
    database_url: str,
    *,
    cluster: bool,
) -> asyncio.Task[None] | None:
    """Migrate now; if the database or Redis is down at start-up (the app still starts and
    answers 503 meanwhile), keep trying in the background. Returns that task, if any."""
    try:
        await migrate_key_layout(redis, sessionmaker, database_url, cluster=cluster)
        return None
    except (SQLAlchemyError, RedisError, OSError) as error:
        log.warning("keys.layout_migration_postponed", error=str(error))

    async def retry() -> None:
        while True:
            await asyncio.sleep(RETRY_SECONDS)
            try:
                await migrate_key_layout(redis, sessionmaker, database_url, cluster=cluster)
                return
            except (SQLAlchemyError, RedisError, OSError) as error:
                log.debug("keys.layout_migration_postponed", error=str(error))

    return asyncio.get_running_loop().create_task(retry(), name="key-layout-migration")


async def _move(redis: aioredis.Redis, source: str, target: str, *, cluster: bool) -> bool:
    try:
        if not cluster:
            moved: Any = await redis.renamenx(source, target)
            if not moved:
                log.warning("keys.layout_target_exists", key=source, target=target)
            return bool(moved)
        if await redis.exists(target):
            log.warning("keys.layout_target_exists", key=source, target=target)
            return False
        dumped: Any = await redis.dump(source)
        if dumped is None:
            return False
        ttl = int(await redis.pttl(source))
        await redis.restore(target, max(ttl, 0), dumped)
        await redis.delete(source)
        return True
    except ResponseError as error:  # moved by another replica meanwhile
        if "no such key" in str(error).lower():
            return False
        raise
