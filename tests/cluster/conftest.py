"""A real Redis Cluster for the tests: three masters (`redis-server --cluster-enabled yes`) on
free loopback ports in a temporary directory, joined with `redis-cli --cluster create`, stopped
after the session. Nothing is shared with the machine's Redis on 6379."""

from __future__ import annotations

import random
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis

from control_plane.settings import Settings
from tests.control_plane.pumps.conftest import fast_pump_settings
from tests.control_plane.pumps.conftest import handed as handed  # the pumps' credentials
from tests.services import REQUIRE_SERVICES

MASTERS = 3


@dataclass
class LocalCluster:
    directory: Path
    ports: list[int] = field(default_factory=list)
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.ports[0]}/0"

    def node(self, port: int) -> redis.Redis:
        return redis.Redis(host="127.0.0.1", port=port, decode_responses=True)

    def start(self) -> None:
        for index in range(MASTERS):
            port = _free_cluster_port(taken=self.ports)
            node_dir = self.directory / f"node-{index}"
            node_dir.mkdir(parents=True)
            config = node_dir / "redis.conf"
            config.write_text(
                "\n".join([
                    "bind 127.0.0.1", f"port {port}", f"dir {node_dir}",
                    "cluster-enabled yes", "cluster-config-file nodes.conf",
                    "cluster-node-timeout 2000", "appendonly no", 'save ""',
                    "daemonize no", "loglevel warning", f"logfile {node_dir / 'redis.log'}",
                ]) + "\n"
            )  # fmt: skip
            self.ports.append(port)
            self.processes.append(
                subprocess.Popen(["redis-server", str(config)], start_new_session=True)
            )
        for port in self.ports:
            _wait(lambda port=port: self.node(port).ping(), what=f"redis on {port}")
        subprocess.run(
            ["redis-cli", "--cluster", "create", *(f"127.0.0.1:{port}" for port in self.ports),
             "--cluster-replicas", "0", "--cluster-yes"],
            check=True, capture_output=True, timeout=60,
        )  # fmt: skip
        for port in self.ports:
            _wait(
                lambda port=port: self.node(port).cluster("info")["cluster_state"] == "ok",
                what=f"cluster state ok on {port}",
            )

    def stop(self) -> None:
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()


def _free_cluster_port(taken: list[int]) -> int:
    """A port that is free together with its cluster bus port (port + 10000)."""
    for _ in range(200):
        port = random.randint(20_000, 30_000)
        if port in taken:
            continue
        try:
            with socket.socket() as first, socket.socket() as second:
                first.bind(("127.0.0.1", port))
                second.bind(("127.0.0.1", port + 10_000))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port pair for a cluster node")


def _wait(probe: object, *, what: str, within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while True:
        try:
            if probe():  # type: ignore[operator]
                return
        except redis.RedisError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    if not (shutil.which("redis-server") and shutil.which("redis-cli")):
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but redis-server/redis-cli are missing")
        pytest.skip("redis-server and redis-cli are needed to start a Redis Cluster")
    cluster = LocalCluster(tmp_path_factory.mktemp("redis-cluster"))
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def cluster_settings(settings: Settings, redis_cluster: LocalCluster) -> Settings:
    """Process-backend pumps, the reconciler, recorder and scheduler, all on the cluster."""
    return fast_pump_settings(
        settings,
        redis_url=redis_cluster.url,
        background_tasks=True,
        recorder_refresh_seconds=0.2,
        scheduler_tick_unit="second",
    )
