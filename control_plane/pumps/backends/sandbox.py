"""How the process backend confines a pump: bubblewrap namespaces and resource limits.

Inside bubblewrap the pump sees a read-only view of exactly what it needs to run (the system
libraries, the Python installation and virtual environment, the `pump` package, its own flow's
WASM modules) and nothing else: no control-plane data directory, database file, configuration or
home directory; a private /tmp, /proc and /dev; its own PID, IPC and UTS namespaces; no
capabilities. The network is shared, because Redis is usually on the loopback interface.
Without bubblewrap the pump is a bare subprocess with the same rlimits and environment."""

from __future__ import annotations

import ctypes
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pump
from control_plane.pumps.backends.base import PumpResources

NO_BWRAP = "bubblewrap (bwrap) is not on the PATH"
UNSANDBOXED = (
    "pumps run as bare subprocesses with rlimits only, and can read whatever the control "
    "plane's user can read. Install bubblewrap (and let it create user namespaces), or use the "
    "docker or kubernetes backend, before running untrusted flows."
)
BARE_SUBPROCESS_WARNING = f"{NO_BWRAP}: {UNSANDBOXED}"
SANDBOX_REQUIRED_ERROR = f"FLOWPLANE_PUMP_SANDBOX=bwrap but {NO_BWRAP}"
# System directories a Python process needs (read-only); symlinks (merged /usr) are recreated.
SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# Files under /etc for name resolution, TLS roots and time zones; nothing else of /etc.
ETC_PATHS = (
    "/etc/resolv.conf",
    "/etc/hosts",
    "/etc/nsswitch.conf",
    "/etc/host.conf",
    "/etc/gai.conf",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/pki",
    "/etc/localtime",
    "/etc/alternatives",
    "/etc/ld.so.cache",
)
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Sandbox:
    kind: Literal["bwrap", "none"]
    bwrap_path: str | None = None
    reason: str | None = None  # why bubblewrap is not used although it is installed

    @property
    def warning(self) -> str | None:
        if self.kind == "bwrap":
            return None
        return f"{self.reason}: {UNSANDBOXED}" if self.reason else BARE_SUBPROCESS_WARNING


def detect_sandbox(mode: Literal["auto", "bwrap", "none"]) -> Sandbox:
    """bubblewrap when it is on the PATH and can create namespaces here (inside a container
    without user namespaces it cannot); `mode="bwrap"` makes its absence an error."""
    if mode == "none":
        return Sandbox("none")
    found = shutil.which("bwrap")
    problem = SANDBOX_REQUIRED_ERROR if found is None else _bwrap_problem(found)
    if problem is not None:
        if mode == "bwrap":
            raise RuntimeError(problem)
        return Sandbox("none", reason=problem if found else None)
    return Sandbox("bwrap", found)


def _bwrap_problem(bwrap: str) -> str | None:
    probe = [
        bwrap,
        "--ro-bind",
        "/",
        "/",
        "--unshare-pid",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "true",
    ]
    try:
        result = subprocess.run(probe, capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        return f"bwrap is installed but cannot run here ({error})"
    if result.returncode != 0:
        detail = result.stderr.strip() or f"exit code {result.returncode}"
        return f"bwrap is installed but cannot create namespaces here ({detail})"
    return None


def pump_command() -> list[str]:
    """`python -m pump` with the control plane's interpreter, isolated from PYTHON* variables,
    the user site directory and the working directory."""
    return [sys.executable, "-I", "-B", "-m", "pump"]


# A warm standby: the interpreter imports the pump, then waits for its environment (one JSON
# line on stdin) and runs exactly what `python -m pump` runs. EOF means "not needed": exit.
STANDBY_BOOTSTRAP = """
import json, os, sys
import pump.__main__ as entry, pump.server, pump.settings
# a standby has time to spare: also load what pumps import on first use (aiohttp, wasmtime)
import pump.handlers.http, pump.handlers.llm, pump.handlers.wasm, pump.wasm.runtime
line = sys.stdin.readline()
if not line:
    sys.exit(0)
os.environ.update(json.loads(line))
sys.stdin.close()
sys.exit(entry.main([]))
"""


def standby_command() -> list[str]:
    return [sys.executable, "-I", "-B", "-c", STANDBY_BOOTSTRAP]


def pump_package_dir() -> Path:
    return Path(pump.__file__).resolve().parent


def python_paths() -> list[Path]:
    """The interpreter, its standard library and the environment's site-packages."""
    paths = {Path(sys.prefix), Path(sys.base_prefix), Path(sys.executable).resolve().parent.parent}
    return sorted(paths)


def sandboxed_command(
    sandbox: Sandbox,
    command: list[str],
    *,
    read_only: Iterable[Path],
    hidden: Iterable[Path],
    modules: Path | None = None,
) -> list[str]:
    """`command` wrapped in bubblewrap (or unchanged without it). `read_only` paths are bound
    at the same place; any `hidden` path inside one of them is covered by an empty tmpfs.
    `modules` (this pump's own module files, which live in the data directory) is bound
    read-only last, so it stays visible even inside a hidden path."""
    if sandbox.kind == "none" or sandbox.bwrap_path is None:
        return list(command)
    # Private /proc, /dev and /tmp first: later binds may lie inside /tmp and must stay visible.
    argv = [
        sandbox.bwrap_path,
        "--proc", "/proc",
        "--dev", "/dev",
        "--tmpfs", "/tmp",
        "--dir", "/var/tmp",
    ]  # fmt: skip
    for system_path in SYSTEM_PATHS:
        argv += _bind_or_symlink(Path(system_path))
    for etc_path in ETC_PATHS:
        if Path(etc_path).exists():
            argv += ["--ro-bind", etc_path, etc_path]
    bound = _outermost(Path(path).resolve() for path in read_only)
    for path in bound:
        if path.exists() and not _under_system_path(path):
            argv += ["--ro-bind", str(path), str(path)]
    for secret in sorted({Path(path).resolve() for path in hidden}):
        if any(secret == parent or parent in secret.parents for parent in bound):
            argv += ["--tmpfs", str(secret)]
    if modules is not None:
        argv += ["--ro-bind", str(modules), str(modules)]
    argv += [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname", "flowplane-pump",
        "--die-with-parent",
        "--cap-drop", "ALL",
        "--chdir", "/tmp",
        "--",
    ]  # fmt: skip
    return argv + list(command)


def limits_preexec(resources: PumpResources, *, die_with_parent: bool) -> Callable[[], None]:
    """The function the child runs between fork and exec: rlimits, and (for a bare subprocess)
    SIGKILL when the control plane dies. Everything is resolved before the fork so the child
    only makes system calls."""
    limits: list[tuple[int, tuple[int, int]]] = [(resource.RLIMIT_CORE, (0, 0))]
    if resources.address_space_bytes > 0:
        size = resources.address_space_bytes
        limits.append((resource.RLIMIT_AS, (size, size)))
    if resources.cpu_seconds > 0:
        # The soft limit sends SIGXCPU; the hard one, a little later, SIGKILL.
        limits.append((resource.RLIMIT_CPU, (resources.cpu_seconds, resources.cpu_seconds + 5)))
    if resources.open_files > 0:
        limits.append(
            (resource.RLIMIT_NOFILE, _capped(resource.RLIMIT_NOFILE, resources.open_files))
        )
    if resources.user_processes > 0:
        limits.append(
            (resource.RLIMIT_NPROC, _capped(resource.RLIMIT_NPROC, resources.user_processes))
        )
    prctl = ctypes.CDLL(None, use_errno=True).prctl if die_with_parent else None
    kill_signal = int(signal.SIGKILL)

    def apply_limits() -> None:
        for kind, values in limits:
            resource.setrlimit(kind, values)
        if prctl is not None:
            prctl(PR_SET_PDEATHSIG, kill_signal, 0, 0, 0)

    return apply_limits


def spawn(
    argv: list[str],
    *,
    env: dict[str, str],
    resources: PumpResources,
    log_path: Path,
    die_with_parent: bool,
    stdin_pipe: bool = False,
) -> subprocess.Popen[bytes]:
    """Fork and exec in the calling thread, which must be the event loop's on purpose: the
    parent-death signal fires when the *thread* that forked exits, and that one lives as long
    as the app. Output goes to `log_path`; nothing of the control plane's environment passes."""
    preexec = limits_preexec(resources, die_with_parent=die_with_parent)
    with open(log_path, "ab", buffering=0) as output:
        return subprocess.Popen(
            argv,
            stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=env,
            cwd="/tmp",
            start_new_session=True,
            close_fds=True,
            preexec_fn=preexec,
        )


def _capped(kind: int, wanted: int) -> tuple[int, int]:
    """(wanted, wanted), lowered to the current hard limit (raising it needs privileges)."""
    _, hard = resource.getrlimit(kind)
    value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    return (value, value)


def _bind_or_symlink(path: Path) -> list[str]:
    if path.is_symlink():
        return ["--symlink", str(path.readlink()), str(path)]
    if path.is_dir():
        return ["--ro-bind", str(path), str(path)]
    return []


def _under_system_path(path: Path) -> bool:
    return any(path == Path(root) or Path(root) in path.parents for root in SYSTEM_PATHS)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    """Drop paths inside another one of the list (binding the parent covers them)."""
    unique = sorted(set(paths), key=lambda item: len(item.parts))
    kept: list[Path] = []
    for path in unique:
        if not any(parent == path or parent in path.parents for parent in kept):
            kept.append(path)
    return kept
