"""Migration 0002_pumps builds exactly the tables the pump models describe and downgrades."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection

from control_plane.db import Base, alembic_config, create_engine
from control_plane.models import import_all_models
from tests.services import REQUIRE_SERVICES, fresh_postgres_database, postgres_reachable

PUMP_TABLES = {"flow_secrets", "pump_runs"}


def _ours(diff: Any) -> bool:
    items = diff if isinstance(diff, list) else [diff]
    for item in items:
        kind = item[0]
        if kind in ("add_table", "remove_table"):
            name = item[1].name
        elif kind in ("add_column", "remove_column") or kind.startswith("modify_"):
            name = item[2]
        elif kind in ("add_fk", "remove_fk"):
            name = item[1].parent.name
        else:
            name = item[1].table.name
        if name in PUMP_TABLES:
            return True
    return False


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [diff for diff in compare_metadata(context, Base.metadata) if _ours(diff)]


async def _inspect(url: str) -> tuple[set[str], list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            return tables, await connection.run_sync(_differences)
    finally:
        await engine.dispose()


def _check(url: str) -> None:
    import_all_models()
    config = alembic_config(url)
    command.upgrade(config, "0002_pumps")
    tables, differences = asyncio.run(_inspect(url))
    assert tables >= PUMP_TABLES
    assert differences == []
    command.downgrade(config, "0001_foundation")
    tables, _ = asyncio.run(_inspect(url))
    assert tables & PUMP_TABLES == set()
    command.upgrade(config, "head")


def test_pumps_migration_on_sqlite(tmp_path: Path) -> None:
    _check(f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}")


def test_pumps_migration_on_postgres() -> None:
    if not postgres_reachable():
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but Postgres is not reachable")
        pytest.skip("Postgres is not reachable on 127.0.0.1:5432")
    with fresh_postgres_database() as url:
        _check(url)
