"""Helpers for the container tests: the container of a flow, code run inside it, and flows."""

from __future__ import annotations

import asyncio
import base64
import json
import textwrap
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import wasmtime
from docker.errors import NotFound
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.pumps.backends import PumpRef
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account
from tests.control_plane.pumps.pumps_helpers import stop_every_flow

PUMP_PYTHON = "/opt/pump/bin/python"


@asynccontextmanager
async def docker_app(
    settings: Settings, *, stop_flows: bool = True
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A control plane on the docker backend; stops every flow it leaves running unless told
    not to (the restart test hands its containers to the next control plane)."""
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", timeout=60
        ) as client:
            try:
                yield app, client
            finally:
                if stop_flows:
                    await stop_every_flow(app)


def container_of(docker_client: Any, tenant_id: str, flow_id: str) -> Any | None:
    try:
        return docker_client.containers.get(PumpRef(tenant_id, flow_id).name)
    except NotFound:
        return None


async def run_inside(container: Any, script: str, **environment: str) -> Any:
    """Run a Python script inside the running pump container (as its user, with its
    environment plus `environment`) and return the JSON it prints."""

    def run() -> tuple[int, bytes]:
        command = [PUMP_PYTHON, "-c", textwrap.dedent(script)]
        result = container.exec_run(command, environment=environment or None)
        return int(result.exit_code), bytes(result.output)

    exit_code, output = await asyncio.to_thread(run)
    assert exit_code == 0, output.decode(errors="replace")
    return json.loads(output.decode().strip().splitlines()[-1])


PROBE_ISOLATION = """
import json, os
status = dict(
    line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line
)
def writable(path):
    try:
        with open(path, "w") as handle:
            handle.write("x")
        os.unlink(path)
        return True
    except OSError:
        return False
def cgroup(*names):
    for name in names:
        for root in ("/sys/fs/cgroup", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids"):
            path = os.path.join(root, name)
            if os.path.exists(path):
                return open(path).read().strip()
    return None
print(json.dumps({
    "uid": os.getuid(), "gid": os.getgid(),
    "cap_effective": status["CapEff"].strip(), "cap_bounding": status["CapBnd"].strip(),
    "no_new_privs": status["NoNewPrivs"].strip(),
    "root_writable": writable("/app/probe") or writable("/probe"),
    "tmp_writable": writable("/tmp/probe"),
    "memory_limit": cgroup("memory.max", "memory.limit_in_bytes"),
    "pids_limit": cgroup("pids.max"),
    "environment": sorted(os.environ),
    "mounts": open("/proc/self/mounts").read(),
}))
"""

# With the pump's own credential, from inside its container: its own keys work; another flow's
# keys, listing commands and administration are refused.
PROBE_REDIS = """
import json, os, redis
own, other = os.environ["OWN_PREFIX"], os.environ["OTHER_PREFIX"]
client = redis.Redis.from_url(os.environ["FLOWPLANE_REDIS_URL"], driver_info=None)
outcome = {"user": redis.connection.parse_url(os.environ["FLOWPLANE_REDIS_URL"])["username"]}
client.set(own + "probe", "1")
outcome["own"] = client.get(own + "probe").decode()
client.delete(own + "probe")
for label, command in [
    ("other_get", ("GET", other + "triggers")),
    ("other_set", ("SET", other + "probe", "1")),
    ("scan", ("SCAN", "0")),
    ("keys", ("KEYS", "*")),
    ("acl", ("ACL", "LIST")),
    ("config", ("CONFIG", "GET", "*")),
    ("flushall", ("FLUSHALL",)),
]:
    try:
        client.execute_command(*command)
        outcome[label] = "allowed"
    except redis.exceptions.NoPermissionError:
        outcome[label] = "refused"
print(json.dumps(outcome))
"""


async def upload_module(
    client: httpx.AsyncClient, account: Account, name: str, wat_path: Path
) -> None:
    """Upload a compiled module through the modules API (flows then use `wasm:<name>@1`); the
    orchestrator stages its code from the blob store for the pumps that use it."""
    wasm = wasmtime.wat2wasm(await asyncio.to_thread(wat_path.read_text))
    created = await client.post(
        "/api/modules",
        json={"name": name, "wasm_base64": base64.b64encode(wasm).decode()},
        headers=account.headers,
    )
    assert created.status_code == 201, created.text
