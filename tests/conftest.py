"""Shared fixtures: Redis and databases (real servers when present), and the app under test."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.db import migrate
from control_plane.redis import EmbeddedRedis
from control_plane.settings import Settings
from tests.services import (
    REDIS_TEST_URL,
    REQUIRE_SERVICES,
    fresh_postgres_database,
    postgres_reachable,
    redis_reachable,
)


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
    )


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
