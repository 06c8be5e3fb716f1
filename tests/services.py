"""Real Postgres and Redis when they run here, SQLite and an embedded Redis otherwise.

Set FLOWPLANE_TEST_REQUIRE_SERVICES=1 (CI does) to fail instead of falling back."""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit

import asyncpg
import redis

POSTGRES_ADMIN_URL = os.environ.get(
    "FLOWPLANE_TEST_POSTGRES_URL", "postgresql://127.0.0.1:5432/test"
)
REDIS_TEST_URL = os.environ.get("FLOWPLANE_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
REQUIRE_SERVICES = os.environ.get("FLOWPLANE_TEST_REQUIRE_SERVICES") == "1"


def redis_reachable(url: str = REDIS_TEST_URL) -> bool:
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=0.5)
        version = str(client.info("server")["redis_version"])
        client.close()
        return int(version.split(".")[0]) >= 7
    except (redis.RedisError, OSError):
        return False


def postgres_reachable() -> bool:
    address = urlsplit(POSTGRES_ADMIN_URL)
    try:
        with socket.create_connection((address.hostname, address.port or 5432), timeout=0.5):
            pass
    except OSError:
        return False

    async def probe() -> bool:
        try:
            connection = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=2)
        except (OSError, asyncpg.PostgresError):
            return False
        await connection.close()
        return True

    return asyncio.run(probe())


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """A new, empty database for this test session; dropped afterwards."""
    name = f"flowplane_test_{uuid.uuid4().hex[:12]}"

    async def admin(statement: str) -> None:
        connection = await asyncpg.connect(POSTGRES_ADMIN_URL)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    base = POSTGRES_ADMIN_URL.rsplit("/", 1)[0]
    try:
        yield f"postgresql+asyncpg://{base.split('://', 1)[1]}/{name}"
    finally:
        asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
