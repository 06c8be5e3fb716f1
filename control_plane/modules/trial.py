"""Test runs for the module editor: one invocation of a stored module version on a sample
payload, by `python -m pump invoke` (pump/wasm/trial.py) in the same sandbox as a pump
(bubblewrap, rlimits, no control-plane data) with the same fuel, memory and deadline limits.
The control plane itself never compiles or runs module code."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from control_plane.blobs import BlobStore
from control_plane.modules.confinement import run_confined
from control_plane.pumps.backends import seccomp
from control_plane.pumps.backends.base import PumpResources, pump_resources
from control_plane.pumps.backends.sandbox import (
    SECCOMP_FD,
    detect_sandbox,
    limits_preexec,
    pump_package_dir,
    python_paths,
    sandboxed_command,
)
from control_plane.settings import Settings

TRIAL_TIMEOUT_SECONDS = 30.0  # interpreter start + the module's own 5 s deadline, with room
ENVIRONMENT = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "HOME": "/tmp"}


class TrialFailed(Exception):
    """The test-run process itself failed (not the module): the message says how."""


class ModuleTrials:
    def __init__(self, settings: Settings, blobs: BlobStore) -> None:
        self.settings = settings
        self.blobs = blobs
        self.sandbox = detect_sandbox(settings.pump_sandbox, settings.pump_uid, settings.pump_gid)
        self.work_root = settings.data_dir.resolve() / "trials"

    async def run(
        self,
        sha256: str,
        document: dict[str, Any],
        *,
        memory: dict[str, Any] | None,
        capabilities: dict[str, Any],
    ) -> dict[str, Any]:
        """The pump's report: {ok, result?, route?, error?, logs, fuel_used, duration_ms, memory}."""
        self.work_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        directory = self.work_root / secrets.token_hex(8)
        directory.mkdir(mode=0o755)
        try:
            module = directory / f"{sha256}.wasm"
            await self.blobs.copy_to(sha256, module)
            http = capabilities.get("http_fetch")
            request = {
                "module": str(module),
                "sha256": sha256,
                "input": document,
                "memory": memory,
                "grants": ["http_fetch"] if http else [],
                "hosts": list(http["hosts"]) if http else None,
                "http_allowlist": _split(self.settings.pump_http_allowlist),
            }
            argv = sandboxed_command(
                self.sandbox,
                [sys.executable, "-I", "-B", "-m", "pump", "invoke"],
                read_only=[*python_paths(), pump_package_dir()],
                hidden=self._hidden(),
                modules=directory,
            )
            filter_read = None
            if SECCOMP_FD in argv:  # bubblewrap reads the pump's seccomp filter from a pipe
                filter_read, filter_write = os.pipe()
                try:
                    os.write(filter_write, seccomp.program())
                finally:
                    os.close(filter_write)
                argv = [str(filter_read) if part == SECCOMP_FD else part for part in argv]
            try:
                finished = await run_confined(
                    argv,
                    env=dict(ENVIRONMENT),
                    stdin=json.dumps(request).encode(),
                    timeout_seconds=TRIAL_TIMEOUT_SECONDS,
                    preexec=limits_preexec(
                        self._resources(),
                        die_with_parent=self.sandbox.kind == "none",
                        sandbox=self.sandbox,
                    ),
                    pass_fds=(filter_read,) if filter_read is not None else (),
                    cwd="/tmp",
                )
            finally:
                if filter_read is not None:
                    os.close(filter_read)
        finally:
            await asyncio.to_thread(shutil.rmtree, directory, True)
        if finished.timed_out:
            raise TrialFailed(f"the test run did not finish within {TRIAL_TIMEOUT_SECONDS:g} s")
        try:
            report = json.loads(finished.stdout)
            assert isinstance(report, dict)
        except (ValueError, AssertionError):
            tail = finished.stderr.decode("utf-8", "replace").strip().splitlines()[-5:]
            raise TrialFailed(
                f"the test run exited with code {finished.returncode}: {' / '.join(tail)}"
            ) from None
        return report

    def _hidden(self) -> list[Path]:
        paths = [self.settings.data_dir.resolve()]
        database = self.settings.resolved_database_url
        if database.startswith("sqlite"):
            paths.append(Path(database.split(":///", 1)[1]).resolve().parent)
        return paths

    def _resources(self) -> PumpResources:
        """A pump's rlimits, with a CPU budget for one run."""
        resources = pump_resources(self.settings)
        return replace(resources, cpu_seconds=int(TRIAL_TIMEOUT_SECONDS))


def _split(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]
