"""Migration 0001_foundation builds exactly the tables the models describe, on SQLite and on
Postgres, and downgrades cleanly."""

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

FOUNDATION_TABLES = {"tenants", "users", "memberships", "auth_tokens", "flows", "flow_versions"}


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = compare_metadata(context, Base.metadata)
    return [diff for diff in differences if _concerns_foundation(diff)]


def _concerns_foundation(diff: Any) -> bool:
    """Only differences in the foundation's tables: later revisions are not applied here."""
    items = diff if isinstance(diff, list) else [diff]
    return any(_table_name(item) in FOUNDATION_TABLES for item in items)


def _table_name(item: tuple[Any, ...]) -> str:
    kind: str = item[0]
    if kind in ("add_table", "remove_table"):
        return str(item[1].name)
    if kind in ("add_column", "remove_column") or kind.startswith("modify_"):
        return str(item[2])
    if kind in ("add_fk", "remove_fk"):
        return str(item[1].parent.name)
    return str(item[1].table.name)  # indexes and constraints


async def _inspect(url: str) -> tuple[set[str], list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            tables = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            differences = await connection.run_sync(_differences)
        return tables, differences
    finally:
        await engine.dispose()


def _check_foundation(url: str) -> None:
    import_all_models()
    config = alembic_config(url)
    command.upgrade(config, "0001_foundation")
    tables, differences = asyncio.run(_inspect(url))
    assert tables >= FOUNDATION_TABLES
    assert differences == []
    command.downgrade(config, "base")
    tables, _ = asyncio.run(_inspect(url))
    assert tables & FOUNDATION_TABLES == set()
    command.upgrade(config, "0001_foundation")
    tables, _ = asyncio.run(_inspect(url))
    assert tables >= FOUNDATION_TABLES


def test_foundation_migration_on_sqlite(tmp_path: Path) -> None:
    _check_foundation(f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}")


def test_foundation_migration_on_postgres() -> None:
    if not postgres_reachable():
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but Postgres is not reachable")
        pytest.skip("Postgres is not reachable on 127.0.0.1:5432")
    with fresh_postgres_database() as url:
        _check_foundation(url)
