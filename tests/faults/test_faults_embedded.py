"""Faults on the embedded default (`flowplane up` with nothing configured: SQLite, the embedded
Valkey, process pumps): every accepted webhook ends succeeded or visibly failed, none is lost
or left stuck, and the app recovers by itself."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.faults import scenarios
from tests.faults.conftest import record
from tests.faults.harness import Tally


def assert_nothing_lost(result: Tally, extra: dict[str, Any], *, failures: int = 0) -> None:
    record(result)
    assert result.accepted > 0
    assert result.lost == 0, result.row()
    assert result.stuck == 0, result.row()
    assert result.server_errors == 0, result.row()
    assert result.duplicates == 0, result.row()
    assert extra["missing_retry_after"] == 0, "every 429/503 carries Retry-After"
    assert sum(result.failed.values()) == failures, result.row()
    assert result.succeeded == result.accepted - failures
    assert extra["status"]["status"] == "running", extra["status"]


async def test_sigkill_of_a_pump(tmp_path: Path) -> None:
    setup = scenarios.embedded_setup(tmp_path)
    result, extra = await scenarios.run("embedded: SIGKILL pump", setup, scenarios.kill_pump)
    assert_nothing_lost(result, extra)
    assert result.recovery_seconds is not None


async def test_sigkill_of_the_control_plane(tmp_path: Path) -> None:
    setup = scenarios.embedded_setup(tmp_path)
    result, extra = await scenarios.run(
        "embedded: SIGKILL control plane", setup, scenarios.kill_control_plane
    )
    assert result.orphans == 0, "the embedded Redis and the pumps die with the control plane"
    print(f"new control plane healthy {extra['healthy_after']} s after the kill")
    assert_nothing_lost(result, extra)


async def test_sigkill_of_the_embedded_redis(tmp_path: Path) -> None:
    setup = scenarios.embedded_setup(tmp_path)
    result, extra = await scenarios.run(
        "embedded: SIGKILL embedded Redis", setup, scenarios.kill_embedded_redis
    )
    assert_nothing_lost(result, extra)


async def test_overload_is_refused_fast_with_retry_after(tmp_path: Path) -> None:
    """Offered several times what the flow can do: past its queue bound triggers get 429 with
    Retry-After (clients retry), everything accepted runs."""
    setup = scenarios.embedded_setup(
        tmp_path, FLOWPLANE_MAX_QUEUED_PER_FLOW="100", FLOWPLANE_PUMP_CONCURRENCY="4"
    )
    async with scenarios.Sink(delay=0.05).serving() as sink:  # the flow does ~80 a second
        result, extra = await scenarios.run(
            "embedded: overload (429)",
            setup,
            scenarios.nothing,
            organism=scenarios.CALL,
            sink=sink,
            rate=250,
            seconds=2,
            fault_after=0,
        )
    assert result.refused["429"] > 0
    assert_nothing_lost(result, extra)


async def test_a_poison_trigger_fails_alone_and_the_flow_keeps_running(tmp_path: Path) -> None:
    setup = scenarios.embedded_setup(tmp_path)
    async with scenarios.Sink().serving() as sink:
        result, extra = await scenarios.run(
            "embedded: poison trigger",
            setup,
            scenarios.send_poison,
            organism=scenarios.CALL,
            sink=sink,
            rate=60,
            seconds=6,
            fault_after=1,
        )
    assert extra["rows"][extra["poison"]] == ("failed", "poison_message")
    assert_nothing_lost(result, extra)
