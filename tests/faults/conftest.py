"""The fault suite's fixtures: a Postgres cluster of its own (restartable), and the table of
every scenario's figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import TABLE_HEADER, Tally
from tests.faults.servers import PostgresCluster, postgres_bindir
from tests.services import REQUIRE_SERVICES

RESULTS: list[Tally] = []


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    if postgres_bindir() is None:
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but initdb (Postgres) is not installed")
        pytest.skip("initdb is not installed: the Postgres fault scenarios need their own cluster")
    cluster = PostgresCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.remove()


def record(result: Tally) -> None:
    RESULTS.append(result)
    print(f"\n{TABLE_HEADER}\n{result.row()}")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if not RESULTS:
        return
    terminalreporter.section("fault suite")
    terminalreporter.write_line(TABLE_HEADER)
    for result in RESULTS:
        terminalreporter.write_line(result.row())
