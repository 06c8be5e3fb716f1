"""Hole 1: a pump never runs as host root, and its sandbox refuses what an escape needs. The
attack runs with the process backend's own command line (bubblewrap, setpriv, the seccomp
filter, rlimits) and tries what was done from inside a pump before: writing /proc/sys."""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from control_plane.pumps.backends import seccomp
from control_plane.pumps.backends.base import pump_resources
from control_plane.pumps.backends.process import ProcessBackend
from control_plane.pumps.backends.sandbox import sandboxed_command, spawn
from control_plane.settings import Settings
from pump.keys import PumpEnv
from tests.control_plane.pumps.pumps_helpers import (
    create_flow,
    echo_yaml,
    process_backend,
    pump_environment,
    pump_pids,
    sign_up_on,
    wait_for_status,
)

ATTACK = r"""
import ctypes, json, os
libc = ctypes.CDLL(None, use_errno=True)
def call(result):
    return "allowed" if result == 0 else os.strerror(ctypes.get_errno())
def write(path, text):
    try:
        with open(path, "w") as handle:
            handle.write(text)
        return "WRITTEN"
    except OSError as error:
        return type(error).__name__
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
print(json.dumps({
    "uids": status["Uid"].split(), "gids": status["Gid"].split(), "groups": os.getgroups(),
    "cap_eff": status["CapEff"].strip(), "cap_bnd": status["CapBnd"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(), "seccomp": status["Seccomp"].strip(),
    "core_pattern": write("/proc/sys/kernel/core_pattern", "|/tmp/pwn %p"),
    "swappiness": write("/proc/sys/vm/swappiness", "1"),
    "unshare_user": call(libc.unshare(0x10000000)),
    "unshare_mount": call(libc.unshare(0x00020000)),
    "clone_newuser": call(libc.syscall(56 if os.uname().machine == "x86_64" else 220, 0x10000000 | 17, 0, 0, 0, 0)),
    "ptrace": call(libc.ptrace(0, 0, 0, 0)),
    "mount": call(libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    "keyctl": call(libc.syscall(250 if os.uname().machine == "x86_64" else 219, 0, 0, 0, 0)),
    "init_module": call(libc.syscall(175 if os.uname().machine == "x86_64" else 105, 0, 0, b"")),
    "own_session": os.getsid(0) != 0,  # its session leader is inside the sandbox (0: outside)
}))
"""


def run_attack(backend: ProcessBackend, tmp_path: Path, python: str) -> dict[str, Any]:
    argv = sandboxed_command(
        backend.sandbox, [python, "-I", "-c", ATTACK], read_only=backend._read_only(),
        hidden=backend.hidden,
    )  # fmt: skip
    log_path = tmp_path / "attack.log"
    child = spawn(
        argv, env={"PATH": "/usr/bin:/bin"}, resources=backend.standby_resources or RESOURCES,
        log_path=log_path, die_with_parent=backend.sandbox.kind == "none", sandbox=backend.sandbox,
    )  # fmt: skip
    assert child.wait(timeout=60) == 0, log_path.read_text()
    result: dict[str, Any] = json.loads(log_path.read_text().strip().splitlines()[-1])
    return result


RESOURCES = pump_resources(Settings())


def process_view(pid: int) -> tuple[dict[str, str], bytes]:
    """/proc/<pid>/status as a dict, and its environ and command line as another process of
    the host sees them."""
    proc = Path(f"/proc/{pid}")
    status = dict(line.split(":", 1) for line in (proc / "status").read_text().splitlines())
    return status, (proc / "environ").read_bytes() + (proc / "cmdline").read_bytes()


def assert_confined(seen: dict[str, Any], settings: Settings) -> None:
    expected_uid = str(settings.pump_uid) if os.geteuid() == 0 else str(os.geteuid())
    assert seen["uids"] == [expected_uid] * 4, seen  # real, effective, saved, filesystem
    assert "0" not in seen["uids"] and "0" not in seen["gids"] and seen["groups"] == []
    assert int(seen["cap_eff"], 16) == 0
    assert (seen["no_new_privs"], seen["seccomp"], seen["own_session"]) == ("1", "2", True)
    assert (
        seen["core_pattern"] in ("PermissionError", "OSError") and seen["swappiness"] != "WRITTEN"
    )
    refused = "Operation not permitted"
    for attempt in (
        "unshare_user",
        "unshare_mount",
        "clone_newuser",
        "ptrace",
        "mount",
        "keyctl",
        "init_module",
    ):
        assert seen[attempt] == refused, (attempt, seen)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
def test_the_sandboxed_command_line_cannot_touch_the_host(
    settings: Settings, tmp_path: Path
) -> None:
    backend = ProcessBackend(settings.model_copy(update={"pump_sandbox": "bwrap"}), RESOURCES)
    seen = run_attack(backend, tmp_path, sys.executable)
    assert_confined(seen, settings)
    assert int(seen["cap_bnd"], 16) == 0


def test_a_bare_subprocess_pump_gets_the_same_uid_and_filter(
    settings: Settings, tmp_path: Path
) -> None:
    backend = ProcessBackend(settings.model_copy(update={"pump_sandbox": "none"}), RESOURCES)
    python = sys.executable
    if backend.sandbox.start_problem:  # the venv is closed to the pump uid here: system Python
        python = "/usr/bin/python3"
        if not Path(python).exists():
            pytest.skip(backend.sandbox.start_problem)
    seen = run_attack(backend, tmp_path, python)
    assert_confined(seen, settings)


@pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")
async def test_a_started_pump_is_unprivileged_and_keeps_no_credential_in_its_environ(
    pump_app: FastAPI, pump_client: httpx.AsyncClient
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("walls"))
    await pump_client.put(
        f"/api/flows/{flow_id}/secrets", json={"TOKEN": "t0ps3cret"}, headers=owner.headers
    )
    assert (
        await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    ).status_code == 202
    await wait_for_status(pump_client, owner, flow_id, status="running", observed="running")
    assert process_backend(pump_app).standby_pids() == []  # a cold start (no warm standby)
    [pid] = pump_pids(pump_app, owner, flow_id)
    status, raw = process_view(pid)
    assert "0" not in status["Uid"].split() and status["Seccomp"].strip() == "2"
    environment = pump_environment(pid)
    assert not {PumpEnv.REDIS_URL, PumpEnv.SECRETS, PumpEnv.ORGANISM} & set(environment)
    assert b"t0ps3cret" not in raw and b"redis://" not in raw
    health = (await pump_client.get("/health")).json()["checks"]["pumps"]
    assert health["pump_uid"] != 0


def test_the_filter_uses_the_system_call_numbers_libseccomp_knows() -> None:
    """The filter's tables are written by hand; libseccomp (when installed) must agree."""
    found = ctypes.util.find_library("seccomp")
    if found is None:
        pytest.skip("libseccomp is not installed")
    resolve = ctypes.CDLL(found).seccomp_syscall_resolve_name_arch
    resolve.argtypes, resolve.restype = (ctypes.c_uint32, ctypes.c_char_p), ctypes.c_int
    tables = {**seccomp.DENIED, "clone": seccomp.CLONE, "clone3": seccomp.CLONE3}
    for column, machine in enumerate(("x86_64", "aarch64")):
        arch = seccomp.AUDIT_ARCH[machine]
        for name, numbers in tables.items():
            known = resolve(arch, name.encode())
            assert numbers[column] == (known if known >= 0 else None), (machine, name, known)
        assert len(seccomp.program(machine)) % 8 == 0
