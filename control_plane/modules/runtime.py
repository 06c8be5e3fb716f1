"""What the modules domain keeps on `app.state.modules`: the builder, the test-run sandbox, the
blob store and the per-workspace rate limits; and its part of `/health`."""

from __future__ import annotations

import secrets
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import redis.asyncio as aioredis
from fastapi import FastAPI, Request

from control_plane.blobs import BlobStore
from control_plane.errors import TooManyRequests
from control_plane.health.endpoints import HEALTH_CHECKS
from control_plane.modules.builder import ModuleBuilder
from control_plane.modules.trial import ModuleTrials
from control_plane.settings import Settings

WINDOW_SECONDS = 60


@dataclass
class ModuleRuntime:
    settings: Settings
    blobs: BlobStore
    builder: ModuleBuilder
    trials: ModuleTrials
    redis: aioredis.Redis

    async def check_rate(self, tenant_id: str, kind: str, per_minute: int) -> None:
        """At most `per_minute` per workspace and kind (`builds`, `test_runs`) within any 60 s
        (a sliding window in Redis, shared by every replica); beyond: 429 with Retry-After.
        Refused attempts do not count."""
        now = time.time()
        key = f"flowplane:modules:{kind}:{tenant_id}"
        member = f"{now:.6f}:{secrets.token_hex(4)}"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.zremrangebyscore(key, 0, now - WINDOW_SECONDS)
            pipe.zadd(key, {member: now})
            pipe.zrange(key, 0, 0, withscores=True)
            pipe.zcard(key)
            pipe.expire(key, WINDOW_SECONDS + 1)
            _, _, oldest, count, _ = await pipe.execute()
        if int(count) <= per_minute:
            return
        await self.redis.zrem(key, member)
        first = float(oldest[0][1]) if oldest else now
        retry_after = max(1, int(first + WINDOW_SECONDS - now) + 1)
        noun = kind.replace("_", " ")
        raise TooManyRequests(
            f"this workspace may start {per_minute} {noun} per minute; "
            f"try again in {retry_after} s",
            retry_after=retry_after,
        )


def module_runtime(app: FastAPI) -> ModuleRuntime:
    runtime: ModuleRuntime = app.state.modules
    return runtime


@asynccontextmanager
async def modules_service(app: FastAPI) -> AsyncIterator[None]:
    settings: Settings = app.state.settings
    blobs: BlobStore = app.state.blobs
    app.state.modules = ModuleRuntime(
        settings=settings,
        blobs=blobs,
        builder=ModuleBuilder(settings),
        trials=ModuleTrials(settings, blobs),
        redis=app.state.redis.client,
    )
    yield


async def modules_health(request: Request) -> tuple[str, dict[str, Any]]:
    runtime: ModuleRuntime | None = getattr(request.app.state, "modules", None)
    if runtime is None:
        return "modules", {"ok": False, "error": "the modules service is not started"}
    body = runtime.builder.health()
    body["blobs"] = runtime.blobs.describe()
    return "modules", body


if modules_health not in HEALTH_CHECKS:
    HEALTH_CHECKS.append(modules_health)
