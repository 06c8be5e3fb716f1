"""The orchestrator's contract: what a backend is given (`PumpSpec`) and what it reports
(`PumpState`). A backend only runs and removes pump workloads; credentials, database state and
restart policy belong to the orchestrator and the reconciler."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

from control_plane.settings import Settings

PumpPhase = Literal["running", "exited", "absent"]
# `PumpState.reason` of a pump killed for exceeding its memory limit: the flow is set to `error`
# at once (restarting would replay the trigger that needed the memory).
OUT_OF_MEMORY = "out_of_memory"


@dataclass(frozen=True)
class PumpRef:
    """Which pump: one per flow."""

    tenant_id: str
    flow_id: str

    @property
    def name(self) -> str:
        """A name for the workload: DNS-label safe for the ids Flowplane issues (hex)."""
        return f"pump-{self.tenant_id[:12]}-{self.flow_id}".lower()


@dataclass(frozen=True)
class PumpResources:
    memory_bytes: int
    cpu: float  # cores
    pids: int
    open_files: int
    address_space_bytes: int  # 0: unlimited (process backend only)
    cpu_seconds: int  # 0: unlimited (process backend only)
    user_processes: int  # process backend only


@dataclass(frozen=True)
class PumpSpec:
    ref: PumpRef
    env: dict[str, str]  # the whole environment of `python -m pump` (PumpEnv names)
    resources: PumpResources
    # The flow's own modules (<sha256>.wasm, nothing else) as a local directory: the process
    # backend binds it read-only into the sandbox, docker mounts it read-only. None when the flow
    # uses no module or the pump downloads them (FLOWPLANE_MODULE_SOURCE is a URL).
    module_dir: Path | None = None


@dataclass(frozen=True)
class PumpState:
    phase: PumpPhase
    detail: str = ""  # e.g. "exit code 1", "container exited (OOMKilled)"
    log_tail: str = ""  # the last lines the pump wrote to stdout/stderr, when known
    extra: dict[str, Any] = field(default_factory=dict)
    reason: str = ""  # a machine-readable cause of an exit, e.g. OUT_OF_MEMORY

    @property
    def alive(self) -> bool:
        return self.phase == "running"

    def describe(self) -> str:
        """A one-paragraph reason for a person: what happened and the pump's last words."""
        text = self.detail or self.phase
        if self.log_tail:
            text += f"; last output:\n{self.log_tail}"
        return text


class PumpBackend(Protocol):
    name: str

    async def start(self, spec: PumpSpec) -> None:
        """Run the pump; an existing workload of the same flow is replaced."""

    async def stop(self, ref: PumpRef, grace_seconds: float) -> None:
        """SIGTERM (drain) the pump, kill it after `grace_seconds`, remove its workload.
        Stopping a pump that does not run is not an error."""

    async def observe(self, ref: PumpRef) -> PumpState:
        """What the backend sees of the flow's pump right now."""

    async def maintain(self) -> None:
        """Periodic housekeeping every control-plane process runs (e.g. reaping children)."""

    def exits_seen(self) -> bool:
        """True when a pump this process started has exited since the last call (cheap,
        polled several times a second: the reconciler then acts at once)."""

    async def close(self) -> None:
        """The control plane is shutting down."""

    def health(self) -> dict[str, Any]:
        """The backend's part of `/health` (`ok`, sandbox, warnings)."""


def pump_resources(settings: Settings) -> PumpResources:
    return PumpResources(
        memory_bytes=settings.pump_memory_bytes,
        cpu=settings.pump_cpu,
        pids=settings.pump_pids,
        open_files=settings.pump_open_files,
        address_space_bytes=settings.pump_address_space_bytes,
        cpu_seconds=settings.pump_cpu_seconds,
        user_processes=settings.pump_user_processes,
    )


def module_files_root(settings: Settings) -> Path:
    """Where pumps' own module files are staged (`<flow>-<nonce>/<sha256>.wasm`, see
    pumps/module_files.py) and where standbys get an empty directory for them."""
    return settings.data_dir.resolve() / "pump-modules"


def tail_lines(text: str, lines: int = 20, max_chars: int = 4000) -> str:
    """The last `lines` lines of `text`, at most `max_chars` characters."""
    kept = "\n".join(text.rstrip().splitlines()[-lines:])
    return kept[-max_chars:]
