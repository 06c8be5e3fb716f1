"""What the modules domain keeps on `app.state.modules`: the builder, the test-run sandbox, the
blob store and the per-workspace rate limits; and its part of `/health`."""

from __future__ import annotations

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
        """A fixed one-minute window per workspace and kind (`builds`, `test_runs`), shared by
        every replica through Redis; over the limit: 429 with Retry-After."""
        now = time.time()
        window = int(now // WINDOW_SECONDS)
        key = f"flowplane:modules:{kind}:{tenant_id}:{window}"
        count = int(await self.redis.incr(key))
        if count == 1:
            await self.redis.expire(key, WINDOW_SECONDS * 2)
        if count > per_minute:
            retry_after = max(1, int((window + 1) * WINDOW_SECONDS - now) + 1)
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
