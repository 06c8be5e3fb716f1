"""The `process` backend: one `python -m pump` child process per flow on this machine.

Each pump runs in its own process group (session), with rlimits, inside bubblewrap when it is
available (backends/sandbox.py). Its stdout and stderr go to `<data_dir>/pumps/<flow>.log`
(the previous run's log is kept as `.log.1`); nothing is inherited from the control plane's
environment. A pid file `<flow>.pid` lets every control-plane process on the machine observe
and stop the pump, whichever one started it.

Warm standbys (`pump_warm_standby`, default 1): sandboxed interpreters started ahead of time
that have already imported the pump and wait for one flow's environment on stdin. A start
hands its environment to a standby (then starts a replacement) instead of paying for
interpreter start-up and imports; each standby serves exactly one flow, in its own sandbox.
They are kept by `maintain()`, i.e. in replicas that run the reconciler: an API-only replica
(or a test app) never pays for idle interpreters.

Pumps die with the control-plane process that started them (`--die-with-parent`, or
PR_SET_PDEATHSIG for a bare subprocess): an orphan would keep a credential nobody tracks. After
a restart the reconciler starts every flow whose desired state is `running` again, and the new
pump reclaims the triggers its predecessor left pending."""

from __future__ import annotations

import asyncio
import compileall
import json
import os
import secrets
import shutil
import signal
import subprocess
import time
from contextlib import suppress
from pathlib import Path
from typing import Any

import structlog

from control_plane.pumps.backends import procfs
from control_plane.pumps.backends.base import (
    PumpRef,
    PumpResources,
    PumpSpec,
    PumpState,
    module_files_root,
    tail_lines,
)
from control_plane.pumps.backends.sandbox import (
    Sandbox,
    detect_sandbox,
    pump_command,
    pump_package_dir,
    python_paths,
    sandboxed_command,
    spawn,
    standby_command,
)
from control_plane.settings import Settings
from pump.keys import PumpEnv

BASE_ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}
LOG_TAIL_BYTES = 16_384
POLL_SECONDS = 0.02


class ProcessBackend:
    name = "process"

    def __init__(self, settings: Settings, resources: PumpResources | None = None) -> None:
        self.directory = settings.data_dir.resolve() / "pumps"
        self.sandbox: Sandbox = detect_sandbox(
            settings.pump_sandbox, settings.pump_uid, settings.pump_gid
        )
        self.hidden = _protected_paths(settings)
        self.module_root = module_files_root(settings)
        self.standby_target = settings.pump_warm_standby
        self.standby_resources = resources
        # (process, its log, the empty directory bound as its module directory)
        self._standbys: list[tuple[subprocess.Popen[bytes], Path, Path]] = []
        self._children: dict[str, subprocess.Popen[bytes]] = {}
        self._exited: set[int] = set()  # pids of children whose exit was already reported
        self._serial = 0
        # several orchestrators may share one process and data dir (e.g. two apps in tests)
        self._instance = secrets.token_hex(4)
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        _remove_stale_standby_logs(self.directory)
        _remove_stale_standby_logs(self.module_root)
        # The sandbox is read-only: compile the pump's bytecode once, or every start would.
        compileall.compile_dir(pump_package_dir(), quiet=1)
        if self.sandbox.warning:
            structlog.get_logger("control_plane.pumps").warning(
                "pumps.sandbox.none", warning=self.sandbox.warning
            )

    # --- the backend contract -------------------------------------------------------------

    async def start(self, spec: PumpSpec) -> None:
        if self.sandbox.start_problem:
            raise RuntimeError(self.sandbox.start_problem)
        await self.stop(spec.ref, grace_seconds=0)
        flow_id = spec.ref.flow_id
        log_path = self.directory / f"{flow_id}.log"
        if log_path.exists():
            log_path.replace(self.directory / f"{flow_id}.log.1")
        module_slot: Path | None = None
        handed = await self._from_standby(spec, log_path)
        if handed is not None:
            process, module_slot = handed
            asyncio.get_running_loop().call_soon(self._replenish)
        else:
            argv = sandboxed_command(
                self.sandbox,
                pump_command(),
                read_only=self._read_only(),
                hidden=self.hidden,
                modules=spec.module_dir,
            )
            process = spawn(
                argv,
                env=dict(BASE_ENVIRONMENT),  # the rest, credentials included, goes on stdin
                resources=spec.resources,
                log_path=log_path,
                die_with_parent=self.sandbox.kind == "none",
                stdin_pipe=True,
                sandbox=self.sandbox,
            )
            await _hand_environment(process, spec.env)
        self._children[flow_id] = process
        record: dict[str, Any] = {
            "pid": process.pid,
            "start_ticks": procfs.start_ticks(process.pid),
        }
        if module_slot is not None:
            record["module_slot"] = str(module_slot)
        _write_json(self.directory / f"{flow_id}.pid", {**record, "tenant": spec.ref.tenant_id})

    async def stop(self, ref: PumpRef, grace_seconds: float) -> None:
        flow_id = ref.flow_id
        record = self._pid_record(flow_id)
        if record is not None and procfs.alive(record["pid"], record.get("start_ticks")):
            group = record["pid"]
            self._signal_pump(group, signal.SIGTERM)
            deadline = time.monotonic() + grace_seconds
            while procfs.group_members(group) and time.monotonic() < deadline:
                self._reap(flow_id)
                await asyncio.sleep(POLL_SECONDS)
            if procfs.group_members(group):
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(group, signal.SIGKILL)
                self._signal_all(group, signal.SIGKILL)
                while procfs.group_members(group):
                    self._reap(flow_id)
                    await asyncio.sleep(POLL_SECONDS)
        self._reap(flow_id)
        self._children.pop(flow_id, None)
        if record is not None and isinstance(record.get("module_slot"), str):
            shutil.rmtree(record["module_slot"], ignore_errors=True)
        with suppress(FileNotFoundError):
            (self.directory / f"{flow_id}.pid").unlink()

    async def observe(self, ref: PumpRef) -> PumpState:
        flow_id = ref.flow_id
        child = self._children.get(flow_id)
        record = self._pid_record(flow_id)
        if child is not None and record is not None and record["pid"] != child.pid:
            # Another worker replaced the pump this one started: the shared record is current.
            child.poll()
            self._children.pop(flow_id)
            child = None
        if child is not None:
            code = child.poll()
            if code is None:
                return PumpState("running", extra={"pid": child.pid})
            return PumpState("exited", procfs.describe_exit(code), self._log_tail(flow_id))
        if record is None:
            return PumpState("absent")
        if procfs.alive(record["pid"], record.get("start_ticks")):
            return PumpState("running", extra={"pid": record["pid"]})
        return PumpState("exited", "the pump process exited", self._log_tail(flow_id))

    async def maintain(self) -> None:
        for flow_id in list(self._children):
            self._reap(flow_id)
        self._replenish()

    def exits_seen(self) -> bool:
        exited = {child.pid for child in self._children.values() if child.poll() is not None}
        new = exited - self._exited
        self._exited = exited
        return bool(new)

    async def close(self) -> None:
        """Drain the pumps this process started (they would die with it anyway)."""
        for standby, log_path, slot in self._standbys:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(standby.pid, signal.SIGKILL)
            standby.wait()
            log_path.unlink(missing_ok=True)
            shutil.rmtree(slot, ignore_errors=True)
        self._standbys.clear()
        owned = [flow_id for flow_id, child in self._children.items() if child.poll() is None]
        await asyncio.gather(
            *(self.stop(PumpRef("", flow_id), grace_seconds=10.0) for flow_id in owned)
        )

    def health(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": True,
            "backend": self.name,
            "sandbox": self.sandbox.kind,
            "pump_uid": self.sandbox.run_as[0] if self.sandbox.run_as else os.geteuid(),
            "warm_standbys": len(self._standbys),
        }
        if self.sandbox.warning:
            body["warning"] = self.sandbox.warning
        if self.sandbox.start_problem:  # the API serves; starting a flow answers 503
            body["error"] = self.sandbox.start_problem
        return body

    # --- helpers for tests and operators ----------------------------------------------------

    def pump_pids(self, ref: PumpRef) -> list[int]:
        """Host pids of the pump's Python process(es), without the bubblewrap wrappers."""
        record = self._pid_record(ref.flow_id)
        if record is None or not procfs.alive(record["pid"], record.get("start_ticks")):
            return []
        return [pid for pid, name in procfs.group_members(record["pid"]) if name != "bwrap"]

    def standby_pids(self) -> list[int]:
        return [child.pid for child, _, _ in self._standbys if child.poll() is None]

    def log_path(self, ref: PumpRef) -> Path:
        return self.directory / f"{ref.flow_id}.log"

    # --- internals --------------------------------------------------------------------------

    def _read_only(self) -> list[Path]:
        return [*python_paths(), pump_package_dir()]

    def _replenish(self) -> None:
        """Keep `standby_target` live standbys (runs in the event loop's thread: see spawn)."""
        if self.standby_resources is None:
            return
        live = []
        for child, log_path, slot in self._standbys:
            if child.poll() is None:
                live.append((child, log_path, slot))
            else:
                shutil.rmtree(slot, ignore_errors=True)
        self._standbys = live
        while len(self._standbys) < self.standby_target:
            self._serial += 1
            name = f"standby-{os.getpid()}-{self._instance}-{self._serial}"
            log_path = self.directory / f"{name}.log"
            # An empty directory of its own: the flow it serves gets its modules linked in.
            slot = self.module_root / name
            self.module_root.mkdir(parents=True, exist_ok=True, mode=0o755)
            slot.mkdir(mode=0o755, exist_ok=True)
            argv = sandboxed_command(
                self.sandbox,
                standby_command(),
                read_only=self._read_only(),
                hidden=self.hidden,
                modules=slot,
            )
            child = spawn(
                argv,
                env=dict(BASE_ENVIRONMENT),
                resources=self.standby_resources,
                log_path=log_path,
                die_with_parent=self.sandbox.kind == "none",
                stdin_pipe=True,
                sandbox=self.sandbox,
            )
            self._standbys.append((child, log_path, slot))

    async def _from_standby(
        self, spec: PumpSpec, log_path: Path
    ) -> tuple[subprocess.Popen[bytes], Path] | None:
        """Hand `spec` to a live standby made for the same limits: the flow's module files are
        linked into the standby's own (so far empty) module directory."""
        if spec.resources != self.standby_resources:
            return None
        while self._standbys:
            child, standby_log, slot = self._standbys.pop(0)
            if child.poll() is not None or child.stdin is None:
                standby_log.unlink(missing_ok=True)
                shutil.rmtree(slot, ignore_errors=True)
                continue
            env = dict(spec.env)
            if spec.module_dir is not None:
                await asyncio.to_thread(_link_files, spec.module_dir, slot)
                env[PumpEnv.MODULE_SOURCE] = str(slot)
            standby_log.replace(log_path)  # its open output follows the file
            try:
                await _hand_environment(child, env)
            except OSError:  # it died meanwhile
                with suppress(ProcessLookupError, PermissionError):
                    os.killpg(child.pid, signal.SIGKILL)
                child.wait()
                shutil.rmtree(slot, ignore_errors=True)
                continue
            return child, slot
        return None

    def _signal_pump(self, group: int, signum: int) -> None:
        """Signal the pump itself: signalling bubblewrap would kill the sandbox undrained."""
        members = procfs.group_members(group)
        targets = [pid for pid, name in members if name != "bwrap"] or [pid for pid, _ in members]
        for pid in targets:
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    def _signal_all(self, group: int, signum: int) -> None:
        for pid, _ in procfs.group_members(group):
            with suppress(ProcessLookupError, PermissionError):
                os.kill(pid, signum)

    def _reap(self, flow_id: str) -> None:
        child = self._children.get(flow_id)
        if child is not None:
            child.poll()

    def _pid_record(self, flow_id: str) -> dict[str, Any] | None:
        try:
            record = json.loads((self.directory / f"{flow_id}.pid").read_text())
        except (FileNotFoundError, ValueError):
            return None
        return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None

    def _log_tail(self, flow_id: str) -> str:
        path = self.directory / f"{flow_id}.log"
        try:
            with open(path, "rb") as handle:
                handle.seek(0, os.SEEK_END)
                handle.seek(max(0, handle.tell() - LOG_TAIL_BYTES))
                return tail_lines(handle.read().decode("utf-8", "replace"))
        except FileNotFoundError:
            return ""


def _remove_stale_standby_logs(directory: Path) -> None:
    """Logs and module directories of standbys whose control-plane process is gone
    (`standby-<pid>-<instance>-<n>[.log]`)."""
    for path in directory.glob("standby-*"):
        owner = path.name.split("-")[1]
        if not owner.isdigit() or not procfs.alive(int(owner), None):
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)


def _link_files(source: Path, target: Path) -> None:
    """Every file of `source` into `target`: hard links (same inode, read-only), or copies."""
    for item in source.iterdir():
        destination = target / item.name
        try:
            os.link(item, destination)
        except FileExistsError:
            pass
        except OSError:
            shutil.copyfile(item, destination)
            destination.chmod(0o444)


async def _hand_environment(child: subprocess.Popen[bytes], env: dict[str, str]) -> None:
    """The pump's environment, credentials and secrets included, as one JSON line on its
    stdin: never in its process environment, where /proc/<pid>/environ would show it."""
    line = json.dumps(env).encode() + b"\n"
    await asyncio.to_thread(_write_and_close, child.stdin, line)


def _write_and_close(stream: Any, data: bytes) -> None:
    try:
        stream.write(data)
        stream.flush()
    finally:
        stream.close()


def _protected_paths(settings: Settings) -> list[Path]:
    """What a pump must never see even if it lies inside a path bound into the sandbox."""
    paths = [settings.data_dir.resolve()]
    database = settings.resolved_database_url
    if database.startswith("sqlite"):
        paths.append(Path(database.split(":///", 1)[1]).resolve().parent)
    return paths


def _write_json(path: Path, value: dict[str, Any]) -> None:
    temporary = path.with_suffix(".tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(descriptor, "w") as handle:
        handle.write(json.dumps(value))
    temporary.replace(path)
