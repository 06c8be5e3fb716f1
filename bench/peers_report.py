"""What `bench/peers.py` prints: the table of the medians of every peer's runs with their ratios
to the bare baseline and to Node-RED and, with `--rounds`, each round's ratios to Node-RED of
that round and their medians (the figure that survives a host whose speed drifts)."""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass

FLOWPLANE_KEYS = ("embedded-before", "embedded", "production-before", "production")


@dataclass
class Result:
    peer: str
    done_per_s: float
    p50_ms: float
    p99_ms: float
    idle_p50_ms: float
    cpu_ms: dict[str, float]
    split_ms: dict[str, float]  # the peer's own CPU by process kind
    rss_mb: float
    accepted: int
    done: int
    persisted: str

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu_ms.values())


def median_run(runs: list[Result]) -> Result:
    return sorted(runs, key=lambda result: result.done_per_s)[len(runs) // 2]


def merged(rounds: list[dict[str, list[Result]]]) -> dict[str, list[Result]]:
    """Every round's runs of each peer together."""
    results: dict[str, list[Result]] = {}
    for round_results in rounds:
        for key, runs in round_results.items():
            results.setdefault(key, []).extend(runs)
    return results


def report(results: dict[str, list[Result]], concurrency: int, seconds: float, runs: int) -> None:
    median = {key: median_run(runs) for key, runs in results.items()}
    base = median.get("bare")
    print(f"\nwebhook -> add a field -> POST to a local sink; wrk, {concurrency} in flight, "
          f"{seconds:g} s of load per run, median of {runs} (by done/s)\n")  # fmt: skip
    print(
        "| peer | e2e done/s | x bare | e2e p50 / p99 ms | idle e2e p50 ms | CPU ms per execution | x bare | peak RSS | persisted |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for result in median.values():
        parts = [f"{kind} {value:.2f}" for kind, value in sorted(result.split_ms.items())]
        parts += [f"{name} {value:.2f}" for name, value in result.cpu_ms.items() if name != "peer"]
        cpu = f"{result.cpu_total:.2f} ({', '.join(parts)})"
        rate_ratio = f"{result.done_per_s / base.done_per_s:.2f}" if base else "-"
        cpu_ratio = f"{result.cpu_total / base.cpu_total:.2f}" if base else "-"
        print(f"| {result.peer} | {result.done_per_s:,.0f} | {rate_ratio} | {result.p50_ms:.1f} / {result.p99_ms:.1f} "
              f"| {result.idle_p50_ms:.1f} | {cpu} | {cpu_ratio} | {result.rss_mb:.0f} MB | {result.persisted} |")  # fmt: skip
    if "node-red" in median:
        red = median["node-red"]
        for key in _flowplane_rows(median):
            mine = median[key]
            print(f"\n{mine.peer} vs {red.peer}: rate {mine.done_per_s / red.done_per_s:.2f}, CPU per "
                  f"execution {mine.cpu_total / red.cpu_total:.2f}, p99 "
                  f"{mine.p99_ms / red.p99_ms:.2f}, idle p50 {mine.idle_p50_ms / red.idle_p50_ms:.2f}", end="")  # fmt: skip
        print()


def report_rounds(rounds: list[dict[str, list[Result]]]) -> None:
    """Each round's ratios to that round's Node-RED, then their medians over the rounds."""
    ratios: dict[str, list[tuple[float, float, float, float]]] = {}
    for round_results in rounds:
        if "node-red" not in round_results:
            continue
        red = median_run(round_results["node-red"])
        for key in _flowplane_rows(round_results):
            mine = median_run(round_results[key])
            ratios.setdefault(mine.peer, []).append(
                (
                    mine.done_per_s / red.done_per_s,
                    mine.cpu_total / red.cpu_total,
                    mine.p99_ms / red.p99_ms,
                    mine.idle_p50_ms / red.idle_p50_ms,
                )
            )
    if not ratios:
        return
    print(f"\nratios to Node-RED of the same round ({len(rounds)} rounds, each starting with the "
          "next peer): rate, CPU per execution, p99, idle p50\n")  # fmt: skip
    print("| peer | per round | median |")
    print("|---|---|---|")
    for peer, rows in ratios.items():
        each = " ; ".join(" / ".join(f"{value:.2f}" for value in row) for row in rows)
        medians = " / ".join(
            f"{statistics.median(column):.2f}" for column in zip(*rows, strict=True)
        )
        print(f"| {peer} | {each} | {medians} |")


def _flowplane_rows(keys: Iterable[str]) -> list[str]:
    return [key for key in keys if key.split(":")[0] in FLOWPLANE_KEYS]
