"""The control plane's Redis: `REDIS_URL` in production, otherwise the embedded server.

`RedisConnections` owns the admin client and knows whether Redis can take work right now
(`ready`): the embedded server is supervised (redis_server.py); an external one is probed
every second. Triggers check `ready` before doing any work and answer 503 with Retry-After
while it is false; `on_restart` callbacks run when Redis is back after an outage (the
reconciler re-issues the pumps' ACL users, which a restart loses).

Whether the server is a Redis Cluster is asked of the server itself (`INFO cluster`), not
configured: on a cluster the client is redis-py's `RedisCluster` (it follows the slot map;
every key of a flow is in one slot, see pump/keys.py) and `cluster` is true."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from typing import Any, cast

import redis.asyncio as aioredis
import structlog
from redis.asyncio.cluster import RedisCluster
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialBackoff
from redis.exceptions import RedisError

from control_plane.redis_server import EmbeddedRedis, RedisSupervisor
from control_plane.settings import Settings
from control_plane.tasks import stop_task

__all__ = ["MINIMUM_SERVER_VERSION", "EmbeddedRedis", "RedisConnections"]

BLOCKING_READ_TIMEOUT_SECONDS = 60.0
PROBE_SECONDS = 1.0
MINIMUM_SERVER_VERSION = (7, 2)  # Redis >= 7.2 (or Valkey, which reports 7.2.x) with fixes
log = structlog.get_logger("control_plane.redis")


class RedisConnections:
    """Owns the admin client of the control plane and, when embedded, the server."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.supervisor: RedisSupervisor | None = None
        self.url = settings.redis_url
        self.cluster = False
        self.server: dict[str, str] = {}  # name and version, read at start and on recovery
        self.on_restart: list[Callable[[], None]] = []
        self._client: aioredis.Redis | None = None
        self._reachable = True
        self._probe: asyncio.Task[None] | None = None

    async def start(self) -> None:
        if self.settings.embedded_redis:
            server = EmbeddedRedis(
                self.settings.data_dir / "redis",
                maxmemory_mb=self.settings.embedded_redis_maxmemory_mb,
            )
            self.supervisor = RedisSupervisor(server)
            self.supervisor.on_restart.append(self._back)
            await self.supervisor.start()
            self.url = server.url
        options: dict[str, Any] = {
            "decode_responses": True,
            "encoding_errors": "replace",  # pumps write what they like: never fail to decode it
            "max_connections": 200,
            "socket_connect_timeout": 5,
            # above the longest blocking read (XREAD BLOCK of the log stream and recorder)
            "socket_timeout": BLOCKING_READ_TIMEOUT_SECONDS,
            # After a Redis restart pooled connections are dead: a command that meets a broken
            # connection is sent again on a new one (at-least-once, like the whole trigger
            # path). (No health_check_interval: its PING interleaves with the CLIENT SETINFO
            # replies of a new connection, which Redis < 7.2 answers with an error.)
            "retry": Retry(ExponentialBackoff(cap=0.25, base=0.05), 2),
        }
        self.cluster = await cluster_enabled(self.url)
        if self.cluster:
            cluster = RedisCluster.from_url(self.url, **options)
            await cluster.initialize()
            # RedisCluster serves the same commands; the control plane sends multi-key commands
            # only within one flow's slot (per-node commands: see pumps/acl.py).
            self._client = cast(aioredis.Redis, cluster)
        else:
            self._client = aioredis.Redis.from_url(self.url, **options)
        with contextlib.suppress(RedisError, OSError):
            await self._read_server()
        if self.supervisor is None:
            self._probe = asyncio.get_running_loop().create_task(self._watch(), name="redis-probe")

    @property
    def embedded(self) -> EmbeddedRedis | None:
        return self.supervisor.server if self.supervisor is not None else None

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("Redis is not started")
        return self._client

    @property
    def ready(self) -> bool:
        """Redis answers and has its dataset loaded: triggers may be accepted."""
        if self.supervisor is not None:
            return self.supervisor.ready
        return self._reachable

    def report_unreachable(self) -> None:
        """A command failed for want of Redis: refuse work until the probe sees it back."""
        if self.supervisor is None:
            self._reachable = False

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {"embedded": self.supervisor is not None, **self.server}
        version = self.server.get("version")
        if version and _version_tuple(version) < MINIMUM_SERVER_VERSION:
            minimum = ".".join(map(str, MINIMUM_SERVER_VERSION))
            body["warning"] = (
                f"Redis {version} is older than the supported minimum {minimum}; upgrade it "
                "(later releases fix security issues pumps could reach)"
            )
        if self.supervisor is not None:
            body.update(self.supervisor.health())
        return body

    async def close(self) -> None:
        if self._probe is not None:
            await stop_task(self._probe)
            self._probe = None
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.supervisor is not None:
            await self.supervisor.stop()
            self.supervisor = None

    async def _info(self, section: str) -> Any:
        """INFO of one server (any node of a cluster: they run the same version)."""
        if self.cluster:
            cluster = cast(RedisCluster, self.client)
            return await cluster.info(section, target_nodes=RedisCluster.RANDOM)
        return await self.client.info(section)

    async def _read_server(self) -> None:
        info: Any = await self._info("server")
        if info.get("valkey_version"):
            self.server = {"server": "valkey", "version": str(info["valkey_version"])}
        else:
            self.server = {"server": "redis", "version": str(info.get("redis_version", ""))}

    async def _watch(self) -> None:
        """External Redis: probe every second; back from an outage runs `on_restart`."""
        while True:
            await asyncio.sleep(PROBE_SECONDS)
            try:
                persistence: Any = await self._info("persistence")
                loaded = not int(persistence.get("loading", 0))
            except (RedisError, OSError):
                loaded = False
            if loaded and not self._reachable:
                log.warning("redis.reachable_again")
                with contextlib.suppress(RedisError, OSError):
                    await self._read_server()
                self._reachable = True
                self._back()
            elif not loaded and self._reachable:
                log.error("redis.unreachable")
                self._reachable = False

    def _back(self) -> None:
        for callback in self.on_restart:
            callback()


async def cluster_enabled(url: str) -> bool:
    """`INFO cluster` says `cluster_enabled:1` on a Redis Cluster node. A Redis that does not
    answer at start-up (the app still starts and answers 503 until it does) is taken for a
    single server; a cluster is then used once the control plane restarts."""
    probe = aioredis.Redis.from_url(url, socket_connect_timeout=5, decode_responses=True)
    try:
        info: Any = await probe.info("cluster")
        return bool(int(info.get("cluster_enabled", 0)))
    except (RedisError, OSError) as error:
        log.warning("redis.cluster_probe_failed", error=str(error))
        return False
    finally:
        await probe.aclose()


def _version_tuple(version: str) -> tuple[int, ...]:
    parts: list[int] = []
    for part in version.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)
