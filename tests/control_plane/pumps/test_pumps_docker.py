"""The docker backend: its container spec field by field, and the SDK calls it makes through a
recording stand-in of the SDK client (tests/containers runs the same backend on a real engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from docker.errors import NotFound
from docker.types import Ulimit

from control_plane.pumps.backends.base import PumpRef, PumpResources, PumpSpec
from control_plane.pumps.backends.docker import DockerBackend, container_spec
from control_plane.settings import Settings

REF = PumpRef("0123456789abcdef0123456789abcdef", "fedcba9876543210fedcba9876543210")
RESOURCES = PumpResources(
    memory_bytes=256 * 1024 * 1024, cpu=0.5, pids=128, open_files=512,
    address_space_bytes=0, cpu_seconds=0, user_processes=0,
)  # fmt: skip
ENV = {
    "FLOWPLANE_FLOW_ID": REF.flow_id,
    "FLOWPLANE_REDIS_URL": "redis://pump-x:secret@redis:6379/0",
}


def settings() -> Settings:
    return Settings(
        pump_image="registry.example/flowplane-pump:1.2.3", docker_network="flowplane-pumps"
    )


def test_the_container_spec_is_locked_down() -> None:
    spec = container_spec(PumpSpec(REF, ENV, RESOURCES), settings())
    assert spec.pop("image") == "registry.example/flowplane-pump:1.2.3"
    assert spec.pop("name") == "pump-0123456789ab-fedcba9876543210fedcba9876543210"
    assert spec.pop("detach") is True
    assert spec.pop("environment") == ENV
    assert spec.pop("labels") == {
        "flowplane.component": "pump",
        "flowplane.tenant": REF.tenant_id,
        "flowplane.flow": REF.flow_id,
    }
    assert spec.pop("user") == "10001:10001"
    assert spec.pop("read_only") is True
    assert spec.pop("cap_drop") == ["ALL"]
    assert spec.pop("security_opt") == ["no-new-privileges:true"]
    assert spec.pop("mem_limit") == 256 * 1024 * 1024
    assert spec.pop("memswap_limit") == 256 * 1024 * 1024  # no swap on top
    assert spec.pop("nano_cpus") == 500_000_000
    assert spec.pop("pids_limit") == 128
    [ulimit] = spec.pop("ulimits")
    assert isinstance(ulimit, Ulimit)
    assert (ulimit.name, ulimit.soft, ulimit.hard) == ("nofile", 512, 512)
    assert spec.pop("tmpfs") == {"/tmp": "rw,noexec,nosuid,nodev,size=64m"}
    assert spec.pop("volumes") == {}
    assert spec.pop("network") == "flowplane-pumps"
    assert spec.pop("init") is True
    assert spec.pop("stop_signal") == "SIGTERM"
    assert spec.pop("restart_policy") == {"Name": "no"}
    assert spec.pop("log_config") == {
        "type": "json-file",
        "config": {"max-size": "10m", "max-file": "2"},
    }
    assert spec == {}, f"fields not asserted: {sorted(spec)}"


def test_a_local_module_directory_is_mounted_read_only(tmp_path: Path) -> None:
    env = {**ENV, "FLOWPLANE_MODULE_SOURCE": str(tmp_path)}
    spec = container_spec(PumpSpec(REF, env, RESOURCES, module_dir=tmp_path), settings())
    assert spec["volumes"] == {str(tmp_path): {"bind": "/flowplane/modules", "mode": "ro"}}
    assert spec["environment"]["FLOWPLANE_MODULE_SOURCE"] == "/flowplane/modules"


class FakeContainer:
    def __init__(self, client: RecordingClient, name: str, status: str = "running") -> None:
        self.client, self.name, self.status, self.id = client, name, status, f"id-{name}"
        self.attrs: dict[str, Any] = {"State": {"ExitCode": 0, "OOMKilled": False}}

    def stop(self, timeout: int) -> None:
        self.client.calls.append(("stop", self.name, timeout))
        self.status = "exited"

    def remove(self, force: bool) -> None:
        self.client.calls.append(("remove", self.name, force))
        del self.client.containers.by_name[self.name]

    def logs(self, tail: int) -> bytes:
        return b"Traceback (most recent call last):\nMemoryError\n"


class Containers:
    def __init__(self, client: RecordingClient) -> None:
        self.client = client
        self.by_name: dict[str, FakeContainer] = {}

    def run(self, **kwargs: Any) -> FakeContainer:
        self.client.calls.append(("run", kwargs))
        container = FakeContainer(self.client, kwargs["name"])
        self.by_name[kwargs["name"]] = container
        return container

    def get(self, name: str) -> FakeContainer:
        if name not in self.by_name:
            raise NotFound(f"No such container: {name}")
        return self.by_name[name]


class RecordingClient:
    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.containers = Containers(self)

    def close(self) -> None:
        self.calls.append(("close",))


async def test_the_backend_runs_observes_and_removes_containers() -> None:
    client = RecordingClient()
    backend = DockerBackend(settings(), client=client)
    spec = PumpSpec(REF, ENV, RESOURCES)
    assert (await backend.observe(REF)).phase == "absent"

    await backend.start(spec)
    assert client.calls == [("run", container_spec(spec, settings()))]
    assert (await backend.observe(REF)).phase == "running"

    container = client.containers.by_name[REF.name]
    container.status = "exited"
    container.attrs = {
        "State": {"ExitCode": 137, "OOMKilled": True},
        "HostConfig": {"Memory": 256 * 1024 * 1024},
    }
    crashed = await backend.observe(REF)
    assert crashed.phase == "exited"
    assert crashed.reason == "out_of_memory"
    assert crashed.detail == (
        "container exited (exit code 137), killed for exceeding its memory limit of 256 MiB"
    )
    assert crashed.log_tail.endswith("MemoryError")

    client.calls.clear()
    await backend.start(spec)  # a restart replaces the exited container
    assert [call[0] for call in client.calls] == ["remove", "run"]

    client.calls.clear()
    await backend.stop(REF, grace_seconds=30)
    assert client.calls == [("stop", REF.name, 30), ("remove", REF.name, True)]
    assert (await backend.observe(REF)).phase == "absent"
    await backend.stop(REF, grace_seconds=30)  # nothing left: not an error
    await backend.close()
    assert client.calls[-1] == ("close",)
    assert backend.health() == {
        "ok": True, "backend": "docker", "sandbox": "container",
        "image": "registry.example/flowplane-pump:1.2.3",
    }  # fmt: skip
