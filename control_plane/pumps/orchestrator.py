"""The orchestrator (`app.state.pumps`): starts and stops pumps through the configured backend
with a fresh Redis ACL credential each time, and reads what a pump reports (its heartbeat).
It keeps no database state: the service and the reconciler decide *when*; this decides *how*."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any

import redis.asyncio as aioredis
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.blobs import BlobStore, blob_store_from_settings
from control_plane.pumps.acl import PumpCredentials
from control_plane.pumps.backends import (
    PumpBackend,
    PumpRef,
    PumpSpec,
    PumpState,
    create_backend,
)
from control_plane.pumps.backends.base import pump_resources
from control_plane.pumps.locks import flow_lock
from control_plane.pumps.module_files import TOKEN_PURPOSE, ModuleFiles
from control_plane.pumps.queue import QueueDepth, queue_depth
from control_plane.pumps.secrets import SecretBox
from control_plane.redis import RedisConnections
from control_plane.settings import Settings
from pump.keys import FlowKeys, PumpEnv

LIVE_HEARTBEAT_STATUSES = frozenset({"running", "draining"})


@dataclass(frozen=True)
class ResolvedModules:
    """`FLOWPLANE_MODULES` (`<id>@<version>` -> sha256), `FLOWPLANE_MODULE_GRANTS` and
    `FLOWPLANE_MODULE_HOSTS` (the hosts each module's http_fetch may reach)."""

    hashes: dict[str, str] = field(default_factory=dict)
    grants: dict[str, list[str]] = field(default_factory=dict)
    hosts: dict[str, list[str]] = field(default_factory=dict)
    # `tool:` modules: {"<listing>@<version>": {signature, capabilities}} (marketplace)
    signatures: dict[str, dict[str, Any]] = field(default_factory=dict)

    def merged(self, other: ResolvedModules) -> ResolvedModules:
        return ResolvedModules(
            {**self.hashes, **other.hashes},
            {**self.grants, **other.grants},
            {**self.hosts, **other.hosts},
            {**self.signatures, **other.signatures},
        )


# The modules domain registers how `wasm:`/`tool:` references of a tenant resolve to content
# hashes: `async (session, tenant_id, references) -> ResolvedModules` (each resolver answers the
# references it knows and ignores the others). A reference nobody resolves reaches the pump
# unresolved, which fails that step with "module ... is not installed".
ModuleResolver = Callable[[AsyncSession, str, list[str]], Awaitable[ResolvedModules]]
MODULE_RESOLVERS: list[ModuleResolver] = []


@dataclass(frozen=True)
class LaunchRequest:
    ref: PumpRef
    organism_yaml: str
    secrets: dict[str, str]
    memory_quota_bytes: int
    modules: ResolvedModules


@dataclass(frozen=True)
class Observation:
    state: PumpState
    heartbeat: dict[str, str] | None

    @property
    def ready(self) -> bool:
        """The pump runs and says it is serving."""
        return (
            self.state.alive
            and self.heartbeat is not None
            and self.heartbeat.get("status") in LIVE_HEARTBEAT_STATUSES
        )


class Orchestrator:
    def __init__(
        self,
        settings: Settings,
        redis: RedisConnections,
        backend: PumpBackend | None = None,
        blobs: BlobStore | None = None,
    ) -> None:
        self.settings = settings
        self.redis: aioredis.Redis = redis.client
        self.credentials = PumpCredentials(
            redis.client, settings.pump_redis_url or redis.url, cluster=redis.cluster
        )
        self.backend = backend or create_backend(settings)
        self.secret_box = SecretBox.from_settings(settings)
        # set by the marketplace at start: the key pumps verify `tool:` modules with
        self.marketplace_public_key = ""
        self.module_files = ModuleFiles(
            settings,
            blobs or blob_store_from_settings(settings),
            self.secret_box.derive_key(TOKEN_PURPOSE),
        )

    def flow_lock(
        self, flow_id: str, *, wait: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Serializes starting and stopping one flow across every replica (a stop may drain)."""
        longest = self.settings.pump_stop_timeout_seconds + 60.0  # a stop drains this long
        return flow_lock(self.redis, flow_id, wait=longest if wait is None else wait)

    def pump_env(
        self, request: LaunchRequest, redis_url: str, module_source: str | None = None
    ) -> dict[str, str]:
        env = {
            PumpEnv.TENANT_ID: request.ref.tenant_id,
            PumpEnv.FLOW_ID: request.ref.flow_id,
            PumpEnv.ORGANISM: _b64(request.organism_yaml),
            PumpEnv.REDIS_URL: redis_url,
            PumpEnv.SECRETS: _b64(json.dumps(request.secrets)),
            PumpEnv.MODULES: json.dumps(request.modules.hashes),
            PumpEnv.MODULE_GRANTS: json.dumps(request.modules.grants),
            PumpEnv.MODULE_HOSTS: json.dumps(request.modules.hosts),
            PumpEnv.CONCURRENCY: str(self.settings.pump_concurrency),
            PumpEnv.DELIVERY_LIMIT: str(self.settings.pump_delivery_limit),
            PumpEnv.MEMORY_QUOTA_BYTES: str(request.memory_quota_bytes),
            PumpEnv.CONSUMER: request.ref.name,
        }
        if module_source:
            env[PumpEnv.MODULE_SOURCE] = module_source
        if request.modules.signatures:
            env[PumpEnv.MODULE_SIGNATURES] = json.dumps(request.modules.signatures)
        if self.marketplace_public_key:
            env[PumpEnv.MARKETPLACE_PUBLIC_KEY] = self.marketplace_public_key
        if self.settings.pump_http_allowlist:
            env[PumpEnv.HTTP_ALLOWLIST] = self.settings.pump_http_allowlist
        return env

    async def launch(self, request: LaunchRequest) -> None:
        """Issue a fresh credential and (re)start the pump with it."""
        ref = request.ref
        await self.redis.delete(FlowKeys(ref.tenant_id, ref.flow_id).heartbeat)  # a predecessor's
        hashes = request.modules.hashes
        module_dir = await self.module_files.stage(ref, hashes)
        source = self.module_files.source(ref, hashes, module_dir)
        try:
            redis_url = await self.credentials.issue(ref.tenant_id, ref.flow_id)
            env = self.pump_env(request, redis_url, source)
            spec = PumpSpec(ref, env, pump_resources(self.settings), module_dir)
            try:
                await self.backend.start(spec)
            except BaseException:
                await self.credentials.revoke(ref.tenant_id, ref.flow_id)
                raise
        except BaseException:
            if module_dir is not None:
                self.module_files.discard(ref, only=module_dir)
            raise
        await self.module_files.adiscard(ref, keep=module_dir)  # the predecessor's, if any

    async def halt(self, ref: PumpRef, *, drain: bool = True) -> None:
        """Stop the pump (SIGTERM and drain, unless `drain` is false), then delete its Redis
        user, which also closes any connection it still has."""
        timeout = self.settings.pump_stop_timeout_seconds if drain else 0.0
        await self.backend.stop(ref, grace_seconds=timeout)
        await self.credentials.revoke(ref.tenant_id, ref.flow_id)
        await self.redis.delete(FlowKeys(ref.tenant_id, ref.flow_id).heartbeat)
        await self.module_files.adiscard(ref)

    async def heartbeat(self, ref: PumpRef) -> dict[str, str] | None:
        fields: Any = await self.redis.hgetall(FlowKeys(ref.tenant_id, ref.flow_id).heartbeat)
        return fields or None

    async def observe(self, ref: PumpRef) -> Observation:
        state, heartbeat = await asyncio.gather(self.backend.observe(ref), self.heartbeat(ref))
        return Observation(state, heartbeat)

    async def triggers_waiting(self, ref: PumpRef) -> bool:
        """Whether the flow's trigger stream holds entries no pump has finished: undelivered
        to the consumer group, or delivered and not yet acknowledged."""
        return (await self.queue(ref)).depth > 0

    async def queue(self, ref: PumpRef) -> QueueDepth:
        return await queue_depth(self.redis, FlowKeys(ref.tenant_id, ref.flow_id).triggers)

    async def memory_used(self, ref: PumpRef) -> int:
        """Bytes of project memory the flow holds: the counter its pump keeps (pump/memory.py),
        read as untrusted (anything but a plain count reads as 0)."""
        raw = await self.redis.get(FlowKeys(ref.tenant_id, ref.flow_id).memory_bytes)
        text = raw.decode("ascii", "replace") if isinstance(raw, bytes) else str(raw or "")
        return int(text) if text.isascii() and text.isdigit() and len(text) <= 15 else 0

    def health(self) -> dict[str, Any]:
        return self.backend.health()

    async def close(self) -> None:
        await self.backend.close()


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")
