"""Faults under load: what becomes of every accepted webhook when parts of Flowplane are killed
or restarted mid-load, on the embedded default and on Postgres + Redis 7 with two workers.

Prints one row per scenario: accepted (2xx), succeeded, failed (with reasons), stuck (not
finished a minute after the load), lost (accepted, no execution), duplicates (executions
beyond one per request), recovery seconds (fault -> the first execution accepted after it has
finished; poison: until the poison trigger is failed; overload: the backlog's drain after the
burst) and the refusals clients met (429/503 with Retry-After, or no answer while the control
plane restarted; clients retry them). The `no fault` row is the same-run baseline.

The Postgres and Redis of the production rows are started by this script on free ports (never
the shared ones). Usage: .venv/bin/python bench/faults.py [--rate 200] [--seconds 6]
[--only embedded|production]"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.faults import scenarios  # noqa: E402
from tests.faults.harness import TABLE_HEADER, Tally  # noqa: E402
from tests.faults.servers import PostgresCluster, postgres_bindir  # noqa: E402


async def embedded_rows(rate: float, seconds: float, root: Path) -> list[Tally]:
    rows: list[Tally] = []
    plain = [
        ("embedded: no fault (baseline)", scenarios.no_fault),
        ("embedded: SIGKILL pump", scenarios.kill_pump),
        ("embedded: SIGKILL control plane", scenarios.kill_control_plane),
        ("embedded: SIGKILL embedded Redis", scenarios.kill_embedded_redis),
    ]
    for number, (name, inject) in enumerate(plain):
        setup = scenarios.embedded_setup(root / f"e{number}")
        rows.append(await report(scenarios.run(name, setup, inject, rate=rate, seconds=seconds)))
    async with scenarios.Sink(delay=0.05).serving() as sink:
        setup = scenarios.embedded_setup(
            root / "overload", FLOWPLANE_MAX_QUEUED_PER_FLOW="100", FLOWPLANE_PUMP_CONCURRENCY="4"
        )
        rows.append(
            await report(
                scenarios.run(
                    "embedded: overload 10x (429)",
                    setup,
                    scenarios.nothing,
                    organism=scenarios.CALL,
                    sink=sink,
                    rate=800,
                    seconds=3,
                    fault_after=0,
                )
            )
        )
    async with scenarios.Sink().serving() as sink:
        setup = scenarios.embedded_setup(root / "poison")
        rows.append(
            await report(
                scenarios.run(
                    "embedded: poison trigger",
                    setup,
                    scenarios.send_poison,
                    organism=scenarios.CALL,
                    sink=sink,
                    rate=rate / 2,
                    seconds=seconds + 2,
                    fault_after=1,
                )
            )
        )
    return rows


async def production_rows(rate: float, seconds: float, root: Path) -> list[Tally]:
    if postgres_bindir() is None:
        print("(no initdb: production rows skipped)")
        return []
    cluster = PostgresCluster()
    await asyncio.to_thread(cluster.start)
    rows: list[Tally] = []
    try:
        for number, (name, inject) in enumerate(
            [
                ("postgres+redis7: no fault (baseline)", scenarios.no_fault),
                ("postgres+redis7: SIGKILL pump", scenarios.kill_pump),
                ("postgres+redis7: SIGKILL control plane", scenarios.kill_control_plane),
                ("postgres+redis7: Redis restart", scenarios.restart_redis),
                ("postgres+redis7: Postgres restart", scenarios.restart_postgres),
            ]
        ):
            setup = await scenarios.production_setup(root / f"p{number}", cluster)
            rows.append(
                await report(scenarios.run(name, setup, inject, rate=rate, seconds=seconds))
            )
    finally:
        await asyncio.to_thread(cluster.remove)
    return rows


async def report(running: object) -> Tally:
    result, extra = await running  # type: ignore[misc]
    print(result.row(), flush=True)
    if extra.get("healthy_after") is not None:
        print(
            f"    (the new control plane answered /health {extra['healthy_after']} s after the kill)"
        )
    if result.orphans:
        print(f"    ORPHANS: {result.orphans} processes outlived the killed control plane")
    return result  # type: ignore[no-any-return]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rate", type=float, default=200.0, help="webhooks per second")
    parser.add_argument("--seconds", type=float, default=6.0, help="length of the load")
    parser.add_argument("--only", choices=["embedded", "production"])
    options = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="flowplane-bench-faults-"))
    print(f"load: {options.rate:g} webhooks/s for {options.seconds:g} s per scenario; {root}")
    print(TABLE_HEADER, flush=True)
    if options.only != "production":
        await embedded_rows(options.rate, options.seconds, root)
    if options.only != "embedded":
        await production_rows(options.rate, options.seconds, root)


if __name__ == "__main__":
    asyncio.run(main())
