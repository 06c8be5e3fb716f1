"""The `docker` backend: one container per flow from the pump image (infra/pump.Dockerfile).

`container_spec()` is a pure function from a `PumpSpec` to the keyword arguments of
`client.containers.run`: read-only root filesystem, every capability dropped,
no-new-privileges, memory (no swap), CPU and pids limits, a small tmpfs /tmp, a non-root user,
labels naming tenant and flow, and the operator's network. Docker does not restart the
container: a crash is the reconciler's to count and back off; a container the kernel killed
for its memory limit is reported with reason `out_of_memory`."""

from __future__ import annotations

import asyncio
import resource
from typing import Any

import docker
from docker.errors import APIError, NotFound
from docker.types import Ulimit

from control_plane.pumps.backends.base import (
    OUT_OF_MEMORY,
    PumpRef,
    PumpSpec,
    PumpState,
    tail_lines,
)
from control_plane.settings import Settings
from pump.keys import PumpEnv

PUMP_USER = "10001:10001"
# Where a local module directory appears inside the container (read-only); FLOWPLANE_MODULE_SOURCE
# is pointed there. Nothing else of the host is mounted.
MODULE_MOUNT = "/flowplane/modules"
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"


def labels(ref: PumpRef) -> dict[str, str]:
    return {
        "flowplane.component": "pump",
        "flowplane.tenant": ref.tenant_id,
        "flowplane.flow": ref.flow_id,
    }


def open_files_limit(wanted: int) -> int:
    """Docker refuses a `nofile` ulimit above the engine's own hard limit; the engine runs on
    this host (or one set up like it), so ours is the bound."""
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    return wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)


def container_spec(spec: PumpSpec, settings: Settings) -> dict[str, Any]:
    resources = spec.resources
    open_files = open_files_limit(resources.open_files)
    volumes: dict[str, dict[str, str]] = {}
    environment = dict(spec.env)
    if spec.module_dir is not None:
        volumes[str(spec.module_dir)] = {"bind": MODULE_MOUNT, "mode": "ro"}
        environment[PumpEnv.MODULE_SOURCE] = MODULE_MOUNT
    return {
        "image": settings.pump_image,
        "name": spec.ref.name,
        "detach": True,
        "environment": environment,
        "labels": labels(spec.ref),
        "user": PUMP_USER,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": resources.memory_bytes,
        "memswap_limit": resources.memory_bytes,
        "nano_cpus": int(resources.cpu * 1_000_000_000),
        "pids_limit": resources.pids,
        "ulimits": [Ulimit(name="nofile", soft=open_files, hard=open_files)],
        "tmpfs": {"/tmp": TMPFS_OPTIONS},
        "volumes": volumes,
        "network": settings.docker_network,
        "init": True,
        "stop_signal": "SIGTERM",
        "restart_policy": {"Name": "no"},
        "log_config": {"type": "json-file", "config": {"max-size": "10m", "max-file": "2"}},
    }


class DockerBackend:
    name = "docker"

    def __init__(self, settings: Settings, client: Any = None) -> None:
        self.settings = settings
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            url = self.settings.docker_url
            self._client = docker.DockerClient(base_url=url) if url else docker.from_env()
        return self._client

    async def start(self, spec: PumpSpec) -> None:
        await self.stop(spec.ref, grace_seconds=0)
        await asyncio.to_thread(self.client.containers.run, **container_spec(spec, self.settings))

    async def stop(self, ref: PumpRef, grace_seconds: float) -> None:
        def stop_and_remove() -> None:
            try:
                container = self.client.containers.get(ref.name)
            except NotFound:
                return
            if container.status == "running":
                container.stop(timeout=int(grace_seconds))
            container.remove(force=True)

        await asyncio.to_thread(stop_and_remove)

    async def observe(self, ref: PumpRef) -> PumpState:
        def inspect() -> PumpState:
            try:
                container = self.client.containers.get(ref.name)
            except NotFound:
                return PumpState("absent")
            if container.status in ("created", "running", "restarting"):
                return PumpState("running", extra={"container": container.id})
            state = container.attrs.get("State", {})
            detail = f"container {container.status} (exit code {state.get('ExitCode')})"
            reason = ""
            if state.get("OOMKilled"):
                limit = container.attrs.get("HostConfig", {}).get("Memory") or 0
                detail += f", killed for exceeding its memory limit of {limit // 2**20} MiB"
                reason = OUT_OF_MEMORY
            try:
                output = container.logs(tail=20).decode("utf-8", "replace")
            except APIError:  # removed meanwhile (e.g. by the reconciler replacing it)
                output = ""
            return PumpState("exited", detail, tail_lines(output), reason=reason)

        return await asyncio.to_thread(inspect)

    async def maintain(self) -> None:
        return None

    async def close(self) -> None:
        """Containers outlive the control plane; the next one adopts them."""
        if self._client is not None:
            await asyncio.to_thread(self._client.close)

    def exits_seen(self) -> bool:
        return False  # seen by the reconciler's passes

    def health(self) -> dict[str, Any]:
        return {
            "ok": True,
            "backend": self.name,
            "sandbox": "container",
            "image": self.settings.pump_image,
        }
