"""The `docker` backend: one container per flow from the pump image (infra/pump.Dockerfile).

`container_spec()` is a pure function from a `PumpSpec` to the keyword arguments of
`client.containers.run`: read-only root filesystem, every capability dropped,
no-new-privileges, memory (no swap), CPU and pids limits, a small tmpfs /tmp, a non-root user,
labels naming tenant and flow, and the operator's network. Docker does not restart the
container: a crash is the reconciler's to count and back off."""

from __future__ import annotations

import asyncio
from typing import Any

import docker
from docker.errors import NotFound
from docker.types import Ulimit

from control_plane.pumps.backends.base import PumpRef, PumpSpec, PumpState, tail_lines
from control_plane.settings import Settings

PUMP_USER = "10001:10001"
TMPFS_OPTIONS = "rw,noexec,nosuid,nodev,size=64m"


def labels(ref: PumpRef) -> dict[str, str]:
    return {
        "flowplane.component": "pump",
        "flowplane.tenant": ref.tenant_id,
        "flowplane.flow": ref.flow_id,
    }


def container_spec(spec: PumpSpec, settings: Settings) -> dict[str, Any]:
    resources = spec.resources
    volumes: dict[str, dict[str, str]] = {}
    if spec.module_dir is not None:
        volumes[str(spec.module_dir)] = {"bind": str(spec.module_dir), "mode": "ro"}
    return {
        "image": settings.pump_image,
        "name": spec.ref.name,
        "detach": True,
        "environment": dict(spec.env),
        "labels": labels(spec.ref),
        "user": PUMP_USER,
        "read_only": True,
        "cap_drop": ["ALL"],
        "security_opt": ["no-new-privileges:true"],
        "mem_limit": resources.memory_bytes,
        "memswap_limit": resources.memory_bytes,
        "nano_cpus": int(resources.cpu * 1_000_000_000),
        "pids_limit": resources.pids,
        "ulimits": [Ulimit(name="nofile", soft=resources.open_files, hard=resources.open_files)],
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
            if state.get("OOMKilled"):
                detail += ", killed for exceeding its memory limit"
            output = container.logs(tail=20).decode("utf-8", "replace")
            return PumpState("exited", detail, tail_lines(output))

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
