"""Servers of the fault suite's own, so a test may kill or restart them: a Postgres cluster
(initdb in a temporary directory, a free port) and a Redis 7 server (the system's
`redis-server` when installed, else the embedded Valkey), never the shared ones."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import asyncpg

from control_plane.redis import EmbeddedRedis


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def postgres_bindir() -> Path | None:
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(candidates[-1]).parent if candidates else None


class PostgresCluster:
    """`initdb` + `pg_ctl` as the `postgres` user when run as root (Postgres refuses root)."""

    def __init__(self) -> None:
        bindir = postgres_bindir()
        if bindir is None:
            raise RuntimeError("initdb is not installed (Debian: apt-get install postgresql)")
        self.bindir = bindir
        self.root = Path(tempfile.mkdtemp(prefix="flowplane-faults-pg-"))
        self.data = self.root / "data"
        self.port = free_port()
        self.log = self.root / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> None:
        if not self.data.exists():
            self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust",
                      "-E", "UTF8", "--no-sync")  # fmt: skip
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.root}"
            " -c max_connections=200"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self, down_seconds: float) -> None:
        """Stop (fast: every connection is cut), stay down, start again."""
        self.stop("fast")
        time.sleep(down_seconds)
        self.start()

    async def create_database(self, name: str) -> str:
        connection = await asyncpg.connect(self.admin_url)
        try:
            await connection.execute(f'CREATE DATABASE "{name}"')
        finally:
            await connection.close()
        return self.url(name)

    def remove(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, tool: str, *arguments: str) -> None:
        command = [str(self.bindir / tool), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120, cwd=self.root)


class RedisServer:
    """A Redis 7 server of the test's own with append-only persistence, restartable on the
    same port and password."""

    def __init__(self, directory: Path) -> None:
        system = shutil.which("redis-server")
        self.server = EmbeddedRedis(directory, binary=Path(system) if system else None)

    @property
    def url(self) -> str:
        return self.server.url

    def start(self) -> None:
        self.server.start()

    def restart(self, down_seconds: float) -> None:
        self.server.stop()  # SIGTERM: it writes its append-only file and exits
        time.sleep(down_seconds)
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
