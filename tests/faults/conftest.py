"""The fault suite's fixtures: a Postgres cluster of its own (restartable), and the table of
every scenario's figures printed at the end of the run."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults.harness import FAULT_ROW, TABLE_HEADER, Tally
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


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    """Rows travel with the test's report, so the run's summary shows them under xdist too
    (tests/conftest.py prints them)."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    while RESULTS:
        report.user_properties.append((FAULT_ROW, RESULTS.pop(0).row()))
