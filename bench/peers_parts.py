"""The pieces `bench/peers.py` runs: the sink every peer posts to, the bare baseline (an ASGI
endpoint doing one XADD, and a consumer that adds the field and POSTs to the sink), the
Node-RED flow, and CPU/RSS accounting of process trees from /proc.

    python bench/peers_parts.py sink PORT
    python bench/peers_parts.py consume STREAM SINK_URL
    uvicorn bench.peers_parts:BareApp --factory      (stream from BENCH_STREAM)"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

REDIS_URL = os.environ.get("FLOWPLANE_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
TICKS = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")

# --- a Flowplane flow to load -------------------------------------------------------------------


async def running_webhook_flow(
    base: str,
    organism_yaml: str,
    on_sign_up: Callable[[str], Awaitable[None]] | None = None,
) -> tuple[str, str, dict[str, str]]:
    """Sign up on `base`, create the flow, start it, wait until it runs: (webhook URL, flow id,
    headers). `on_sign_up(tenant_id)` runs before the flow is created (e.g. to raise its tier)."""
    import aiohttp

    async with aiohttp.ClientSession() as http:
        email = f"bench-{uuid.uuid4().hex[:10]}@example.com"
        async with http.post(
            f"{base}/api/auth/signup", json={"email": email, "password": "bench password 1"}
        ) as response:
            account = await response.json()
        headers = {"Authorization": f"Bearer {account['token']}"}
        if on_sign_up is not None:
            await on_sign_up(account["tenant"]["id"])
        async with http.post(
            f"{base}/api/flows", json={"organism_yaml": organism_yaml}, headers=headers
        ) as response:
            flow_id = (await response.json())["id"]
        async with http.post(
            f"{base}/api/flows/{flow_id}/webhook/rotate", headers=headers
        ) as response:
            token = (await response.json())["token"]
        async with http.post(f"{base}/api/flows/{flow_id}/start", headers=headers) as response:
            assert response.status == 202, await response.text()
        for _ in range(600):
            async with http.get(f"{base}/api/flows/{flow_id}/status", headers=headers) as response:
                if (await response.json())["status"] == "running":
                    break
            await asyncio.sleep(0.1)
        return f"{base}/api/triggers/{flow_id}/webhook/{token}", flow_id, headers


# --- the sink -----------------------------------------------------------------------------------


def run_sink(port: int) -> None:
    """POST /sink records (arrival - body.t) per request; GET /stats; POST /reset."""
    import uvloop
    from aiohttp import web

    state: dict[str, Any] = {"latencies": [], "first": None, "last": None, "enriched": 0}

    async def sink(request: web.Request) -> web.Response:
        now = time.time()
        body = await request.json()
        if isinstance(body, dict) and isinstance(body.get("t"), int | float):
            state["latencies"].append(now - body["t"])
            state["enriched"] += 1 if body.get("enriched") is True else 0
        state["first"] = state["first"] or now
        state["last"] = now
        return web.Response(text="{}", content_type="application/json")

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(state)

    async def reset(_: web.Request) -> web.Response:
        state.update(latencies=[], first=None, last=None, enriched=0)
        return web.json_response({})

    app = web.Application()
    app.add_routes([web.post("/sink", sink), web.get("/stats", stats), web.post("/reset", reset)])
    uvloop.install()
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# --- the bare baseline --------------------------------------------------------------------------


class BareApp:
    """Read the body, XADD it, answer 202 (the accepted-trigger part of a webhook)."""

    def __init__(self) -> None:
        import redis.asyncio as aioredis

        self.redis = aioredis.Redis.from_url(REDIS_URL)
        self.stream = os.environ["BENCH_STREAM"]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        entry_id = await self.redis.xadd(self.stream, {"payload": body})
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id":"%s"}' % entry_id})


async def consume(stream: str, sink_url: str) -> None:
    """XREADGROUP the stream, add a field, POST to the sink (128 in flight), XACK."""
    import aiohttp
    import redis.asyncio as aioredis

    redis = aioredis.Redis.from_url(REDIS_URL)
    with contextlib.suppress(aioredis.ResponseError):
        await redis.xgroup_create(stream, "bench", id="0", mkstream=True)
    gate = asyncio.Semaphore(128)
    done: list[bytes] = []
    tasks: set[asyncio.Task[None]] = set()
    async with aiohttp.ClientSession() as http:

        async def one(entry_id: bytes, fields: dict[bytes, bytes]) -> None:
            try:
                payload = json.loads(fields[b"payload"])
                payload["enriched"] = True
                async with http.post(sink_url, json=payload) as response:
                    await response.read()
                done.append(entry_id)
            finally:
                gate.release()

        while True:
            if done:
                acked, done[:] = list(done), []
                await redis.xack(stream, "bench", *acked)
            response = await redis.xreadgroup("bench", "c1", {stream: ">"}, count=256, block=20)
            for _, entries in response or []:
                for entry_id, fields in entries:
                    await gate.acquire()
                    task = asyncio.create_task(one(entry_id, fields))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)


# --- Node-RED -----------------------------------------------------------------------------------


def node_red_files(directory: Path, sink_url: str) -> None:
    """http in (POST /hook) -> change (payload.enriched = true, statusCode 202) -> http
    response and http request (POST to the sink, connection keep-alive on, as the
    pump and the bare consumer pool theirs). The editor and admin API are off."""
    flows = [
        {"id": "tab", "type": "tab", "label": "bench"},
        {
            "id": "in", "type": "http in", "z": "tab", "url": "/hook", "method": "post",
            "wires": [["set"]],
        },
        {
            "id": "set", "type": "change", "z": "tab",
            "rules": [
                {"t": "set", "p": "payload.enriched", "pt": "msg", "to": "true", "tot": "bool"},
                {"t": "set", "p": "statusCode", "pt": "msg", "to": "202", "tot": "num"},
            ],
            "wires": [["answer", "post"]],
        },
        {"id": "answer", "type": "http response", "z": "tab", "wires": []},
        {
            "id": "post", "type": "http request", "z": "tab", "method": "POST",
            "ret": "txt", "url": sink_url, "paytoqs": "ignore", "persist": True,
            "wires": [[]],
        },
    ]  # fmt: skip
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "flows.json").write_text(json.dumps(flows))
    (directory / "settings.js").write_text(
        "module.exports = { flowFile: 'flows.json', httpAdminRoot: false, uiHost: '127.0.0.1',"
        " logging: { console: { level: 'warn' } }, editorTheme: { tours: false } };\n"
    )


# --- CPU and memory from /proc ------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float, int] | None:
    """(ppid, user+system CPU seconds, RSS bytes) of a live process."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICKS, int(fields[21]) * PAGE


def processes() -> dict[int, tuple[int, float, int]]:
    table = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit() and (stat := _stat(int(entry))) is not None:
            table[int(entry)] = stat
    return table


def tree(root: int, table: dict[int, tuple[int, float, int]]) -> set[int]:
    members, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in table.items() if ppid == parent]
        members.update(children)
        frontier += children
    return members & set(table)


def named(name: str) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        try:
            if entry.isdigit() and Path(f"/proc/{entry}/comm").read_text().strip() == name:
                found.add(int(entry))
        except OSError:
            continue
    return found


def _kind(pid: int) -> str:
    try:
        comm = Path(f"/proc/{pid}/comm").read_text().strip()
        command = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return "main"
    if comm in ("valkey-server", "redis-server"):
        return "redis"
    return "pump" if b"pump.__main__" in command or b"pump\0run" in command else "main"


class Usage:
    """CPU seconds of process trees (plus named server processes) since `start`, and the peak
    RSS of the trees sampled every 0.2 s."""

    def __init__(self, roots: list[int], servers: tuple[str, ...] = ()) -> None:
        self.roots = roots
        self.servers = {name: named(name) for name in servers}
        self.peak_rss = 0
        self._cpu0: dict[int, float] = {}
        self._task: asyncio.Task[None] | None = None

    def _members(self) -> tuple[dict[int, tuple[int, float, int]], set[int]]:
        table = processes()
        members: set[int] = set()
        for root in self.roots:
            members |= tree(root, table)
        return table, members

    def split(self) -> dict[str, float]:
        """CPU seconds of the peer's own processes by kind: pump, redis (embedded), main."""
        table, members = self._members()
        kinds: dict[str, float] = {}
        for pid in members:
            kind = _kind(pid)
            kinds[kind] = kinds.get(kind, 0.0) + table[pid][1] - self._cpu0.get(pid, 0.0)
        return kinds

    def cpu(self) -> dict[str, float]:
        table, members = self._members()
        own = sum(table[pid][1] - self._cpu0.get(pid, 0.0) for pid in members)
        result = {"peer": own}
        for name, pids in self.servers.items():
            result[name] = sum(table[p][1] - self._cpu0.get(p, 0.0) for p in pids if p in table)
        return result

    async def _sample(self) -> None:
        while True:
            table, members = self._members()
            self.peak_rss = max(self.peak_rss, sum(table[pid][2] for pid in members))
            await asyncio.sleep(0.2)

    def start(self) -> None:
        table, members = self._members()
        for pid in members | {p for pids in self.servers.values() for p in pids}:
            if pid in table:
                self._cpu0[pid] = table[pid][1]
        self._task = asyncio.get_running_loop().create_task(self._sample())

    def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()


if __name__ == "__main__":
    if sys.argv[1] == "sink":
        run_sink(int(sys.argv[2]))
    elif sys.argv[1] == "consume":
        import uvloop

        uvloop.run(consume(sys.argv[2], sys.argv[3]))
