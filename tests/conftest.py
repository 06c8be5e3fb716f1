"""Shared fixtures: Redis and databases (real servers when present), and the app under test."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.db import migrate
from control_plane.redis import EmbeddedRedis
from control_plane.settings import Settings
from tests.faults.harness import FAULT_ROW, TABLE_HEADER
from tests.services import (
    REDIS_TEST_URL,
    REQUIRE_SERVICES,
    fresh_postgres_database,
    postgres_reachable,
    redis_reachable,
)

# Every test client is 127.0.0.1 and test runs share one Redis: sign-ups would soon use up the
# address's allowance, here and in the control planes tests start as processes. The throttle's
# own tests set a low limit.
os.environ.setdefault("FLOWPLANE_SIGNUPS_PER_ADDRESS", "1000000")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Redis 7 on 127.0.0.1:6379 when it runs; otherwise an embedded redis-server."""
    if redis_reachable():
        yield REDIS_TEST_URL
        return
    if REQUIRE_SERVICES:
        pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but Redis 7 is not reachable on :6379")
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"))
    server.start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def sqlite_database_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('db') / 'flowplane.db'}"
    asyncio.run(migrate(url))
    return url


@pytest.fixture(scope="session")
def postgres_database_url() -> Iterator[str]:
    if not postgres_reachable():
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but Postgres is not reachable on :5432")
        pytest.skip("Postgres is not reachable on 127.0.0.1:5432; the SQLite variant still runs")
    with fresh_postgres_database() as url:
        asyncio.run(migrate(url))
        yield url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test that uses the database runs on SQLite and on real Postgres."""
    return str(request.getfixturevalue(f"{request.param}_database_url"))


@pytest.fixture
def settings(database_url: str, redis_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url=redis_url,
        run_migrations=False,
        log_json=True,
        log_level="WARNING",
        background_tasks=False,
        # every in-process client is 127.0.0.1 and Redis is shared by concurrent runs: only the
        # tests of the log-in throttle (with addresses of their own) use the address limit
        login_attempts_per_address=1_000_000,
        signups_per_address=1_000_000,
    )


@pytest.fixture
def own_database(settings: Settings) -> Iterator[Settings]:
    """The test's settings on a database of its own, migrated when the app starts: for apps with
    background services, which act on every flow and execution in their database (earlier tests
    share the session's)."""
    if settings.database_url.startswith("sqlite"):
        own = f"sqlite+aiosqlite:///{settings.data_dir.parent / 'own.db'}"
        yield settings.model_copy(update={"database_url": own, "run_migrations": True})
        return
    with fresh_postgres_database() as url:
        yield settings.model_copy(update={"database_url": url, "run_migrations": True})


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


@pytest.fixture(autouse=True)
def dump_tasks_before_the_timeout(request: pytest.FixtureRequest) -> Iterator[None]:
    """A test that hangs in its event loop shows only `select()` in pytest-timeout's report:
    shortly before the timeout, print every running loop's task stacks (captured with the test)."""
    marker = request.node.get_closest_marker("timeout")
    limit = float(marker.args[0] if marker and marker.args else request.config.getini("timeout"))

    def dump(loop: asyncio.AbstractEventLoop) -> None:
        for task in asyncio.all_tasks(loop):
            task.print_stack(file=sys.stderr)

    def wake() -> None:
        for candidate in gc.get_objects():
            if isinstance(candidate, asyncio.AbstractEventLoop) and candidate.is_running():
                with contextlib.suppress(RuntimeError):
                    candidate.call_soon_threadsafe(dump, candidate)

    timer = threading.Timer(max(limit - 15, 1), wake)
    timer.daemon = True
    if limit > 0:
        timer.start()
    yield
    timer.cancel()


FAULT_TABLE: list[str] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    FAULT_TABLE.extend(str(value) for name, value in report.user_properties if name == FAULT_ROW)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FAULT_TABLE:
        terminalreporter.section("fault suite")
        terminalreporter.write_line(TABLE_HEADER)
        for row in FAULT_TABLE:
            terminalreporter.write_line(row)
