"""Running one untrusted job to completion in a child process: rlimits set between fork and
exec, its own session (so a timeout kills the whole process group), stdin in, stdout out, a
wall-time limit. What the child can see is decided by the argv (bubblewrap) its caller builds."""

from __future__ import annotations

import asyncio
import ctypes
import os
import resource
import signal
import time
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass

PR_SET_PDEATHSIG = 1
Limits = list[tuple[int, tuple[int, int]]]


@dataclass(frozen=True)
class Finished:
    returncode: int | None  # None: killed at the time limit
    stdout: bytes
    stderr: bytes
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.returncode is None


def capped(kind: int, wanted: int) -> tuple[int, int]:
    """(wanted, wanted), lowered to the current hard limit (raising it needs privileges)."""
    _, hard = resource.getrlimit(kind)
    value = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    return (value, value)


def _preexec(
    limits: Limits, die_with_parent: bool, run_as: tuple[int, int] | None
) -> Callable[[], None]:
    prctl = ctypes.CDLL(None, use_errno=True).prctl if die_with_parent else None
    kill_signal = int(signal.SIGKILL)

    def apply() -> None:
        for kind, values in limits:
            resource.setrlimit(kind, values)
        if run_as is not None:
            uid, gid = run_as
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
        if prctl is not None:  # after the uid change, which clears it
            prctl(PR_SET_PDEATHSIG, kill_signal, 0, 0, 0)

    return apply


async def run_confined(
    argv: list[str],
    *,
    env: dict[str, str],
    stdin: bytes | None,
    timeout_seconds: float,
    limits: Limits | None = None,
    die_with_parent: bool = True,
    run_as: tuple[int, int] | None = None,
    preexec: Callable[[], None] | None = None,
    pass_fds: tuple[int, ...] = (),
    cwd: str = "/",
) -> Finished:
    """Run `argv` to completion. The child runs `preexec` between fork and exec, or, without
    one, sets `limits`, drops to `run_as` (uid, gid) and, when `die_with_parent`, asks for
    SIGKILL when this process dies."""
    started = time.monotonic()
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env,
        cwd=cwd,
        start_new_session=True,
        close_fds=True,
        pass_fds=pass_fds,
        preexec_fn=preexec or _preexec(limits or [], die_with_parent, run_as),
    )
    try:
        async with asyncio.timeout(timeout_seconds):
            stdout, stderr = await process.communicate(stdin)
    except TimeoutError:
        _kill_group(process.pid)
        await process.wait()
        return Finished(None, b"", b"", time.monotonic() - started)
    except BaseException:
        _kill_group(process.pid)
        await process.wait()
        raise
    return Finished(process.returncode, stdout, stderr, time.monotonic() - started)


def _kill_group(pid: int) -> None:
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
