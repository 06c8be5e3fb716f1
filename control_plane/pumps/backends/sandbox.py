"""How the process backend confines a pump: an unprivileged uid, bubblewrap namespaces, a
seccomp filter and resource limits.

Inside bubblewrap the pump sees a read-only view of exactly what it needs to run (the system
libraries, the Python installation and virtual environment, the `pump` package, its own flow's
WASM modules) and nothing else: no control-plane data directory, database file, configuration or
home directory; a private /tmp (size-capped), /proc and /dev; its own PID, IPC and UTS
namespaces and session (`--new-session`: no terminal injection); no capabilities; it dies with
bubblewrap's parent. The network is shared, because Redis is usually on the loopback interface.

A pump never runs as host root. When the control plane runs as root (as `flowplane up` does in
a container or on this kind of machine), bubblewrap sets the sandbox up as root and then the
pump's command starts under `setpriv` as `pump_uid:pump_gid` (default 65534, `nobody`), without
supplementary groups, capabilities or the right to gain privileges again. Under a non-root
control plane bubblewrap runs unprivileged in a user namespace and the pump keeps that uid.

Every pump runs under the seccomp filter of seccomp.py (namespaces, mounts, ptrace, keyring,
kernel modules ...), loaded by bubblewrap from a pipe (`--seccomp FD`).

Without bubblewrap the pump is a bare subprocess with the same rlimits, uid change and seccomp
filter (set between fork and exec), and it dies with the control plane (PR_SET_PDEATHSIG)."""

from __future__ import annotations

import ctypes
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import pump
from control_plane.pumps.backends import seccomp
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
TMP_BYTES = 64 * 1024 * 1024  # the pump's private /tmp is memory: cap it
SECCOMP_FD = "{seccomp-fd}"  # replaced by spawn() with the pipe carrying the filter
NO_SETPRIV = "setpriv (util-linux) is not on the PATH, so bubblewrap cannot drop to the pump uid"


@dataclass(frozen=True)
class Sandbox:
    kind: Literal["bwrap", "none"]
    bwrap_path: str | None = None
    reason: str | None = None  # why bubblewrap is not used although it is installed
    run_as: tuple[int, int] | None = None  # (uid, gid) to drop to: the control plane is root
    setpriv_path: str | None = None

    @property
    def start_problem(self) -> str | None:
        """Why no pump can start here: a bare subprocess dropping to the pump uid must reach
        the interpreter through host paths other users can traverse."""
        if self.kind != "none" or self.run_as is None:
            return None
        for needed in (Path(sys.executable).resolve(), Path(pump.__file__).resolve()):
            blocked = _closed_to_others(needed)
            if blocked is not None:
                return (
                    f"pumps run as uid {self.run_as[0]}, which cannot reach {needed} ({blocked} "
                    "is closed to other users): install bubblewrap, or put Python and the "
                    "virtual environment where other users can read them"
                )
        return None

    @property
    def warning(self) -> str | None:
        if self.kind == "bwrap":
            return None
        return f"{self.reason}: {UNSANDBOXED}" if self.reason else BARE_SUBPROCESS_WARNING


def detect_sandbox(
    mode: Literal["auto", "bwrap", "none"], pump_uid: int = 65534, pump_gid: int = 65534
) -> Sandbox:
    """bubblewrap when it is on the PATH and can create namespaces here (inside a container
    without user namespaces it cannot); `mode="bwrap"` makes its absence an error. As root,
    pumps drop to `pump_uid:pump_gid` whichever way they run."""
    run_as = (pump_uid, pump_gid) if os.geteuid() == 0 else None
    if run_as is not None and run_as[0] == 0:
        raise RuntimeError("FLOWPLANE_PUMP_UID must not be 0: a pump never runs as root")
    if mode == "none":
        return Sandbox("none", run_as=run_as)
    found = shutil.which("bwrap")
    setpriv = shutil.which("setpriv") if run_as else None
    problem = SANDBOX_REQUIRED_ERROR if found is None else _bwrap_problem(found)
    if problem is None and run_as is not None and setpriv is None:
        problem = NO_SETPRIV
    if problem is not None:
        if mode == "bwrap":
            raise RuntimeError(problem)
        return Sandbox("none", reason=problem if found else None, run_as=run_as)
    return Sandbox("bwrap", found, run_as=run_as, setpriv_path=setpriv)


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


# How every pump starts: the interpreter reads its environment (one JSON line on stdin, never
# its process environment, which /proc/<pid>/environ would show), marks itself non-dumpable
# (no other process of its uid may read its memory or environ), then runs exactly what
# `python -m pump` runs. EOF means "not needed": exit. A warm standby also loads, ahead of
# time, what pumps import on first use (aiohttp); not wasmtime, which only a flow with modules
# needs (11 MB per pump, 44 ms more to start such a flow).
BOOTSTRAP = """
import ctypes, json, os, sys
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE 0
import pump.__main__ as entry, pump.server, pump.settings
{preload}line = sys.stdin.readline()
if not line:
    sys.exit(0)
os.environ.update(json.loads(line))
sys.stdin.close()
sys.exit(entry.main([]))
"""
PRELOAD = "import pump.handlers.http, pump.handlers.llm\n"


def pump_command() -> list[str]:
    """A cold pump: `python -m pump` with the control plane's interpreter, isolated from
    PYTHON* variables, the user site directory and the working directory; its environment
    comes on stdin."""
    return [sys.executable, "-I", "-B", "-c", BOOTSTRAP.format(preload="")]


def standby_command() -> list[str]:
    return [sys.executable, "-I", "-B", "-c", BOOTSTRAP.format(preload=PRELOAD)]


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
        "--perms", "1777", "--size", str(TMP_BYTES), "--tmpfs", "/tmp",
        "--perms", "0755", "--dir", "/var",
        "--perms", "1777", "--dir", "/var/tmp",
    ]  # fmt: skip
    for system_path in SYSTEM_PATHS:
        argv += _bind_or_symlink(Path(system_path))
    # Directories bubblewrap creates on the way to a bind are 0700: the pump uid must pass.
    created: set[Path] = {Path("/"), Path("/tmp"), Path("/var"), Path("/var/tmp")}
    for etc_path in ETC_PATHS:
        if Path(etc_path).exists():
            argv += _parents(Path(etc_path), created)
            argv += ["--ro-bind", etc_path, etc_path]
    bound = _outermost(Path(path).resolve() for path in read_only)
    for path in bound:
        if path.exists() and not _under_system_path(path):
            argv += _parents(path, created)
            argv += ["--ro-bind", str(path), str(path)]
    for secret in sorted({Path(path).resolve() for path in hidden}):
        if any(secret == parent or parent in secret.parents for parent in bound):
            argv += ["--tmpfs", str(secret)]
    if modules is not None:
        argv += _parents(modules, created)
        argv += ["--ro-bind", str(modules), str(modules)]
    argv += [
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        "--unshare-cgroup-try",
        "--hostname", "flowplane-pump",
        "--die-with-parent",
        "--new-session",
        "--cap-drop", "ALL",
        "--seccomp", SECCOMP_FD,
        "--chdir", "/tmp",
    ]  # fmt: skip
    if sandbox.run_as is None or sandbox.setpriv_path is None:
        return [*argv, "--", *command]
    uid, gid = sandbox.run_as
    # bubblewrap (root) keeps only the rights to change uid and to empty the bounding set;
    # setpriv uses them, and the uid change drops them.
    argv += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--cap-add", "CAP_SETPCAP"]
    drop = [
        sandbox.setpriv_path, f"--reuid={uid}", f"--regid={gid}", "--clear-groups",
        "--inh-caps=-all", "--bounding-set=-all", "--no-new-privs", "--",
    ]  # fmt: skip
    return [*argv, "--", *drop, *command]


def limits_preexec(
    resources: PumpResources, *, die_with_parent: bool, sandbox: Sandbox | None = None
) -> Callable[[], None]:
    """The function the child runs between fork and exec: rlimits, and for a bare subprocess
    the uid change, the seccomp filter and SIGKILL when the control plane dies. Everything is
    resolved before the fork so the child only makes system calls."""
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
    bare = sandbox is not None and sandbox.kind == "none"
    run_as = sandbox.run_as if bare and sandbox is not None else None
    filter_ = seccomp.installer() if bare else None
    prctl = ctypes.CDLL(None, use_errno=True).prctl if die_with_parent else None
    kill_signal = int(signal.SIGKILL)

    def apply_limits() -> None:
        for kind, values in limits:
            resource.setrlimit(kind, values)
        if run_as is not None:
            uid, gid = run_as
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        if filter_ is not None:
            seccomp.install(filter_)
        if prctl is not None:  # after the uid change, which clears it
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
    sandbox: Sandbox | None = None,
) -> subprocess.Popen[bytes]:
    """Fork and exec in the calling thread, which must be the event loop's on purpose: the
    parent-death signal fires when the *thread* that forked exits, and that one lives as long
    as the app. Output goes to `log_path` (created 0600); nothing of the control plane's
    environment passes. A `SECCOMP_FD` argument becomes a pipe holding the filter."""
    preexec = limits_preexec(resources, die_with_parent=die_with_parent, sandbox=sandbox)
    filter_read = None
    if SECCOMP_FD in argv:
        filter_read, filter_write = os.pipe()
        try:
            os.write(filter_write, seccomp.program())
        finally:
            os.close(filter_write)
        argv = [str(filter_read) if part == SECCOMP_FD else part for part in argv]
    try:
        descriptor = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with open(descriptor, "ab", buffering=0) as output:
            return subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                env=env,
                cwd="/tmp",
                start_new_session=True,
                close_fds=True,
                pass_fds=(filter_read,) if filter_read is not None else (),
                preexec_fn=preexec,
            )
    finally:
        if filter_read is not None:
            os.close(filter_read)


def _capped(kind: int, wanted: int) -> tuple[int, int]:
    """(wanted, wanted), lowered to the current hard limit (raising it needs privileges)."""
    _, hard = resource.getrlimit(kind)
    value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    return (value, value)


def _closed_to_others(path: Path) -> Path | None:
    """The first directory on the way to `path` (or `path`) other users cannot pass."""
    for step in [*reversed(path.parents), path]:
        mode = step.stat().st_mode
        needed = stat.S_IROTH if step == path else stat.S_IXOTH
        if not mode & needed:
            return step
    return None


def _parents(path: Path, created: set[Path]) -> list[str]:
    """`--dir` (mode 0755) for each directory above `path` not made yet."""
    argv: list[str] = []
    for ancestor in reversed(path.parents):
        if ancestor not in created:
            created.add(ancestor)
            argv += ["--perms", "0755", "--dir", str(ancestor)]
    return argv


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
