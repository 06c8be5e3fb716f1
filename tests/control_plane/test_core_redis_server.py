"""The embedded Redis: a maintained Valkey, supervised (restarted with its data, ready only once
loaded), capped with noeviction, and never outliving the process that started it."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import OutOfMemoryError

from control_plane.outages import redis_unavailable
from control_plane.redis import MINIMUM_SERVER_VERSION, RedisConnections
from control_plane.redis_server import EmbeddedRedis, server_binary
from control_plane.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def in_directory(pid: int, directory: Path) -> bool:
    try:
        return Path(os.readlink(f"/proc/{pid}/cwd")) == directory.resolve()
    except OSError:
        return False


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, IndexError):
        return False
    return state not in ("Z", "X")


async def test_a_killed_server_is_restarted_with_its_data_and_ready_only_once_loaded(
    tmp_path: Path,
) -> None:
    connections = RedisConnections(Settings(data_dir=tmp_path, embedded_redis_maxmemory_mb=256))
    await connections.start()
    try:
        health = connections.health()
        assert health["server"] == "valkey"
        version = tuple(int(part) for part in health["version"].split(".")[:2])
        assert version >= (8, 0) and "warning" not in health
        client = connections.client
        config: Any = await client.config_get("maxmemory*")
        assert config["maxmemory-policy"] == "noeviction"
        assert int(config["maxmemory"]) == 256 * 1024 * 1024
        # enough data that reloading it takes a moment
        pipe = client.pipeline(transaction=False)
        for number in range(200_000):
            pipe.set(f"key:{number}", "x" * 32)
        await pipe.execute()
        back = asyncio.Event()
        connections.on_restart.append(back.set)
        server = connections.embedded
        assert server is not None and server.process is not None
        port = server.port
        os.kill(server.process.pid, signal.SIGKILL)
        probe = aioredis.Redis(port=port, password=server.password, socket_timeout=1)
        noticed = False  # the supervisor saw the exit (until then `ready` is from before it)
        checks = 0
        try:
            while not back.is_set() or checks == 0:
                noticed = noticed or not connections.ready
                if noticed and connections.ready:  # ready again: the data must be loaded
                    persistence: Any = await probe.info("persistence")
                    assert int(persistence["loading"]) == 0
                    checks += 1
                await asyncio.sleep(0.005)
        finally:
            await probe.aclose()
        assert connections.ready and server.port == port
        assert await client.get("key:199999") == "x" * 32  # the pooled client reconnects
        assert connections.health()["restarts"] == 1
        assert connections.health()["last_exit"] == "killed by SIGKILL"
    finally:
        await connections.close()


async def test_writes_past_maxmemory_are_refused_not_evicted(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path, maxmemory_mb=2)
    server.start()
    client = aioredis.Redis.from_url(server.url)
    try:
        await client.set("accepted", "kept")
        try:
            for number in range(10_000):
                await client.set(f"filler:{number}", "x" * 1024)
            raise AssertionError("maxmemory never refused a write")
        except OutOfMemoryError as error:
            assert redis_unavailable(error)  # a 503 with Retry-After for whoever meets it
        assert await client.get("accepted") == b"kept"
    finally:
        await client.aclose()
        server.stop()


SERVE = """
import asyncio, sys
from pathlib import Path
from control_plane.redis import RedisConnections
from control_plane.settings import Settings
async def main():
    connections = RedisConnections(Settings(data_dir=Path(sys.argv[1])))
    await connections.start()
    print(connections.embedded.process.pid, flush=True)
    await asyncio.sleep(120)
asyncio.run(main())
"""


def test_the_server_dies_with_the_control_plane_and_a_stale_one_is_stopped(
    tmp_path: Path,
) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    server_pid = int(parent.stdout.readline())
    assert alive(server_pid)
    parent.kill()  # SIGKILL: no shutdown code runs
    parent.wait()
    deadline = time.monotonic() + 10
    while alive(server_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(server_pid), "the embedded Redis outlived its control plane"

    # A server left running by an older control plane (no parent-death signal): the next
    # start on the same directory stops it before starting its own.
    stale = EmbeddedRedis(tmp_path / "redis")
    stale.write_config()
    stale.port = 0
    orphan = subprocess.Popen(
        [str(server_binary()), str(stale.write_config())], start_new_session=True
    )
    stale.pid_path.write_text(f"{orphan.pid}\n")
    # Left running: it has read its configuration. (Just after the fork, /proc shows neither
    # its executable nor its arguments yet: nothing could tell it is a server.)
    deadline = time.monotonic() + 10
    while not in_directory(orphan.pid, stale.directory) and time.monotonic() < deadline:
        time.sleep(0.01)
    fresh = EmbeddedRedis(tmp_path / "redis")
    fresh.start()
    try:
        assert orphan.wait(timeout=10) is not None
        assert fresh.process is not None and fresh.process.pid != orphan.pid
    finally:
        fresh.stop()


def test_older_servers_are_reported_below_the_minimum() -> None:
    connections = RedisConnections(Settings(redis_url="redis://example:6379/0"))
    connections.server = {"server": "redis", "version": "6.2.14"}
    assert "older than the supported minimum 7.2" in connections.health()["warning"]
    connections.server = {"server": "redis", "version": "7.2.4"}
    assert "warning" not in connections.health()
    assert MINIMUM_SERVER_VERSION == (7, 2)
