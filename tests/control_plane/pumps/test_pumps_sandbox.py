"""The process backend's confinement: what a sandboxed pump can see, and its rlimits."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog

from control_plane.app import create_app
from control_plane.pumps.backends.base import PumpResources
from control_plane.pumps.backends.sandbox import (
    BARE_SUBPROCESS_WARNING,
    Sandbox,
    detect_sandbox,
    pump_package_dir,
    python_paths,
    sandboxed_command,
    spawn,
)
from control_plane.settings import Settings

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is not installed")

PROBE = r"""
import json, os, sys
def attempt(action):
    try:
        action()
        return "allowed"
    except OSError as error:
        return type(error).__name__
data_dir, parent_pid, package_dir = sys.argv[1], int(sys.argv[2]), sys.argv[3]
status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines())
import pump.keys
print(json.dumps({
    "read_database": attempt(lambda: open(os.path.join(data_dir, "flowplane.db")).read()),
    "list_data_dir": attempt(lambda: os.listdir(data_dir)) if os.path.isdir(data_dir) else "absent",
    "data_dir_entries": os.listdir(data_dir) if os.path.isdir(data_dir) else None,
    "parent_environ": attempt(lambda: open(f"/proc/{parent_pid}/environ").read()),
    "write_package": attempt(lambda: open(os.path.join(package_dir, "planted.py"), "w").write("x")),
    "write_tmp": attempt(lambda: open("/tmp/scratch", "w").write("x")),
    "home_entries": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
    "etc_shadow": attempt(lambda: open("/etc/shadow").read()),
    "pid": os.getpid(),
    "capabilities": status["CapEff"].strip(),
    "environment": sorted(os.environ),
    "imports_pump": pump.keys.__name__,
}))
"""

RESOURCES = PumpResources(
    memory_bytes=0, cpu=1, pids=64, open_files=321, address_space_bytes=6 * 1024**3,
    cpu_seconds=600, user_processes=4096,
)  # fmt: skip


def run_sandboxed(
    tmp_path: Path, data_dir: Path, *, read_only: list[Path], hidden: list[Path]
) -> dict[str, Any]:
    argv = sandboxed_command(
        detect_sandbox("bwrap"),
        [
            sys.executable,
            "-I",
            "-B",
            "-c",
            PROBE,
            str(data_dir),
            str(os.getpid()),
            str(pump_package_dir()),
        ],
        read_only=read_only,
        hidden=hidden,
    )
    log_path = tmp_path / "probe.log"
    child = spawn(
        argv, env={"PATH": "/usr/bin:/bin", "ONLY": "this"}, resources=RESOURCES,
        log_path=log_path, die_with_parent=False,
    )  # fmt: skip
    assert child.wait(timeout=30) == 0, log_path.read_text()
    result: dict[str, Any] = json.loads(log_path.read_text().strip().splitlines()[-1])
    return result


def make_data_dir(root: Path) -> Path:
    data_dir = root / "data"
    data_dir.mkdir(parents=True)
    (data_dir / "flowplane.db").write_text("tenants and password hashes")
    (data_dir / "secrets.key").write_text("the key")
    return data_dir


def test_a_sandboxed_pump_sees_nothing_of_the_control_plane(tmp_path: Path) -> None:
    data_dir = make_data_dir(tmp_path)
    seen = run_sandboxed(
        tmp_path, data_dir, read_only=[*python_paths(), pump_package_dir()], hidden=[data_dir]
    )
    assert seen["read_database"] == "FileNotFoundError"
    assert seen["list_data_dir"] == "absent"
    assert seen["parent_environ"] == "FileNotFoundError"  # its own PID namespace
    assert seen["pid"] < 10
    assert seen["write_package"] == "OSError"  # read-only bind (EROFS)
    assert seen["write_tmp"] == "allowed"
    # Only what the interpreter needs (e.g. /root/.pyenv for a pyenv Python), nothing else:
    needed = {
        path.relative_to("/root").parts[0]
        for path in python_paths()
        if path.is_relative_to("/root")
    }
    assert set(seen["home_entries"]) == needed
    assert seen["etc_shadow"] == "FileNotFoundError"
    assert int(seen["capabilities"], 16) == 0
    # Only what it was given (bwrap adds PWD, Python may add LC_CTYPE): no control-plane variable.
    assert set(seen["environment"]) - {"PWD", "LC_CTYPE"} == {"ONLY", "PATH"}
    assert seen["imports_pump"] == "pump.keys"


def test_a_data_dir_inside_a_bound_directory_is_masked(tmp_path: Path) -> None:
    """Even when the data directory lies inside something the pump needs (here a directory
    bound read-only), it is covered by an empty tmpfs."""
    code = tmp_path / "code"
    data_dir = make_data_dir(code)
    seen = run_sandboxed(
        tmp_path, data_dir, read_only=[*python_paths(), pump_package_dir(), code], hidden=[data_dir]
    )
    assert seen["read_database"] == "FileNotFoundError"
    assert seen["data_dir_entries"] == []


def test_rlimits_and_process_group_apply_to_the_pump(tmp_path: Path) -> None:
    argv = sandboxed_command(
        detect_sandbox("bwrap"),
        [
            sys.executable,
            "-I",
            "-c",
            "import os; print(os.getsid(0) == os.getpgid(0)); print(open('/proc/self/limits').read())",
        ],
        read_only=python_paths(),
        hidden=[],
    )
    log_path = tmp_path / "limits.log"
    child = spawn(argv, env={}, resources=RESOURCES, log_path=log_path, die_with_parent=False)
    assert child.wait(timeout=30) == 0
    assert os.getpgid(0) != child.pid  # it ran in its own session and process group
    output = log_path.read_text()
    limits = {line[:26].strip(): line[26:].split() for line in output.splitlines()[2:]}
    assert limits["Max open files"][:2] == ["321", "321"]
    assert limits["Max address space"][:2] == [str(6 * 1024**3)] * 2
    assert limits["Max cpu time"][:2] == ["600", "605"]
    assert limits["Max core file size"][:2] == ["0", "0"]
    assert output.splitlines()[0] == "True"


def test_without_bubblewrap_the_backend_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: None)
    detected = detect_sandbox("auto")
    assert (detected.kind, detected.reason) == ("none", None)
    assert Sandbox("none").warning == BARE_SUBPROCESS_WARNING
    with pytest.raises(RuntimeError, match=r"bubblewrap \(bwrap\) is not on the PATH"):
        detect_sandbox("bwrap")
    assert sandboxed_command(Sandbox("none"), ["python"], read_only=[], hidden=[]) == ["python"]


def test_a_bwrap_that_cannot_make_namespaces_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(shutil, "which", lambda name: "/bin/false")  # as inside a locked container
    sandbox = detect_sandbox("auto")
    assert sandbox.kind == "none"
    assert sandbox.warning is not None
    assert sandbox.warning.startswith("bwrap is installed but cannot create namespaces here")
    assert "pumps run as bare subprocesses" in sandbox.warning
    with pytest.raises(RuntimeError, match="cannot create namespaces"):
        detect_sandbox("bwrap")


def test_a_bare_subprocess_dies_with_its_parent(tmp_path: Path) -> None:
    """PR_SET_PDEATHSIG: a parent that exits takes its bare-subprocess pump along."""
    script = (
        "import sys, time\n"
        "sys.path[:0] = sys.argv[1:2]\n"
        "from pathlib import Path\n"
        "from control_plane.pumps.backends.sandbox import spawn, Sandbox\n"
        "from control_plane.pumps.backends.base import PumpResources\n"
        "r = PumpResources(0, 1, 64, 256, 0, 0, 0)\n"
        "child = spawn(['sleep', '60'], env={}, resources=r, log_path=Path(sys.argv[2]), die_with_parent=True)\n"
        "print(child.pid, flush=True)\n"
    )
    parent = subprocess.run(
        [sys.executable, "-c", script, str(Path.cwd()), str(tmp_path / "sleep.log")],
        capture_output=True, text=True, timeout=30, check=True,
    )  # fmt: skip
    orphan = int(parent.stdout.strip())
    for _ in range(200):
        stat = Path(f"/proc/{orphan}/stat")
        if not stat.exists() or stat.read_text().split(") ")[1][0] in "ZX":
            break
        __import__("time").sleep(0.01)
    else:
        os.kill(orphan, 9)
        raise AssertionError("the bare subprocess outlived its parent")


async def test_health_and_logs_warn_when_pumps_run_unsandboxed(pump_settings: Settings) -> None:
    app = create_app(pump_settings.model_copy(update={"pump_sandbox": "none"}))
    with structlog.testing.capture_logs() as logs:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(
                transport=transport, base_url="http://testserver"
            ) as client:
                pumps = (await client.get("/health")).json()["checks"]["pumps"]
    assert pumps["ok"] is True
    assert pumps["sandbox"] == "none"
    assert pumps["warning"] == BARE_SUBPROCESS_WARNING
    assert {
        "event": "pumps.sandbox.none",
        "warning": BARE_SUBPROCESS_WARNING,
        "log_level": "warning",
    } in logs

    sandboxed = (await pump_client_health(pump_settings))["checks"]["pumps"]
    assert sandboxed["sandbox"] == "bwrap"
    assert "warning" not in sandboxed


async def pump_client_health(settings: Settings) -> dict[str, Any]:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            body: dict[str, Any] = (await client.get("/health")).json()
            return body
