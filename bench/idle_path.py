"""Where an idle trigger's time goes, beside the bare baseline's whole trip in the same run.

    .venv/bin/python bench/idle_path.py [--requests 100] [--production]

One webhook every 40 ms (webhook -> add a field -> POST to a local sink, the workload of
bench/peers.py) on the embedded default (or Postgres + Redis with `--production`). From the
client's send time and the execution's recorded timestamps it prints the p50 of each leg:
send -> row created (HTTP and routing), created -> pump started (the admission transaction,
the XADD, the pump's wake-up), started -> finished (the steps; the POST to the sink is step 2),
send -> 202, and send -> sink arrival, then the bare baseline's send -> sink arrival (uvicorn +
XADD, an aiohttp consumer) of the same run and the ratio."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.peers import HOST, Peer, bare, flowplane, free_port, process, wait_http  # noqa: E402

EVERY_SECONDS = 0.04
EXECUTIONS = text("SELECT id, created_at, started_at, finished_at FROM executions")
STEPS = text("SELECT execution_id, step, started_at, finished_at FROM execution_steps")


async def send(
    peer: Peer, sink: str, count: int
) -> tuple[dict[str, tuple[float, float]], list[float]]:
    """Execution id -> (sent, 202 received), and the sink's send -> arrival latencies."""
    sent: dict[str, tuple[float, float]] = {}
    async with aiohttp.ClientSession() as http:
        for number in range(count + 20):  # the first 20 warm up
            if number == 20:
                async with http.post(f"{sink}/reset") as response:
                    await response.read()
            began = time.time()
            async with http.post(peer.url, json={"n": number, "t": began}) as response:
                body = await response.json() if response.content_type == "application/json" else {}
                if number >= 20 and isinstance(body, dict) and "execution_id" in body:
                    sent[body["execution_id"]] = (began, time.time())
            await asyncio.sleep(EVERY_SECONDS)
        await asyncio.sleep(1.0)
        async with http.get(f"{sink}/stats") as response:
            latencies: list[float] = (await response.json())["latencies"]
    return sent, latencies


def moment(value: Any) -> float:
    stamp = datetime.fromisoformat(value) if isinstance(value, str) else value
    return (stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)).timestamp()


async def legs(peer: Peer, sent: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    engine = create_async_engine(peer.database_url)
    async with engine.connect() as connection:
        executions = (await connection.execute(EXECUTIONS)).all()
        steps = {(row[0], row[1]): row[2:] for row in await connection.execute(STEPS)}
    await engine.dispose()
    found: dict[str, list[float]] = {}
    for execution_id, created, started, finished in executions:
        if execution_id not in sent or started is None or finished is None:
            continue
        began, answered = sent[execution_id]
        post = steps.get((execution_id, 2))
        for name, seconds in (
            ("send -> row created", moment(created) - began),
            ("created -> pump started", moment(started) - moment(created)),
            ("started -> finished", moment(finished) - moment(started)),
            (
                "  of which the POST to the sink",
                moment(post[1]) - moment(post[0]) if post else None,
            ),
            ("send -> 202", answered - began),
        ):
            if seconds is not None:
                found.setdefault(name, []).append(seconds)
    return found


def p50_ms(values: list[float]) -> float:
    return statistics.median(values) * 1000


async def run(arguments: argparse.Namespace) -> None:
    port = free_port()
    sink = f"http://{HOST}:{port}"
    async with process(sys.executable, "bench/peers_parts.py", "sink", str(port)):
        await wait_http(f"{sink}/stats")
        async with bare(sink) as baseline:
            _, bare_latencies = await send(baseline, sink, arguments.requests)
        async with flowplane(sink, production=arguments.production) as peer:
            sent, latencies = await send(peer, sink, arguments.requests)
            measured = await legs(peer, sent)
    print(
        f"{peer.name}: {len(sent)} webhooks, one every {EVERY_SECONDS * 1000:.0f} ms; p50 per leg"
    )
    for name, values in measured.items():
        print(f"  {name:34s} {p50_ms(values):7.2f} ms")
    mine, theirs = p50_ms(latencies), p50_ms(bare_latencies)
    print(f"  {'send -> sink arrival':34s} {mine:7.2f} ms")
    print(f"{baseline.name}: send -> sink arrival {theirs:.2f} ms; ratio {mine / theirs:.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=100)
    parser.add_argument("--production", action="store_true", help="Postgres + Redis, 2 workers")
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
