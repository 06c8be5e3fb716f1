"""The one Alembic chain: each revision builds exactly the tables its models describe, on SQLite
and on Postgres, and downgrades cleanly to the revision before it."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
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

# revision -> (the revision before it, the tables it creates)
REVISIONS: dict[str, tuple[str, set[str]]] = {
    "0001_foundation": (
        "base",
        {"tenants", "users", "memberships", "auth_tokens", "flows", "flow_versions"},
    ),
    "0002_pumps": ("0001_foundation", {"flow_secrets", "pump_runs"}),
    "0003_executions": (
        "0002_pumps",
        {"executions", "execution_steps", "execution_counters", "schedule_states"},
    ),
    "0006_modules": ("0003_executions", {"modules", "module_versions"}),
    "0008_billing": (
        "0006_modules",
        {"billing_accounts", "webhook_events", "usage_reports", "invitations", "audit_events"},
    ),
    "0009_waits": ("0008_billing", {"execution_waits", "one_off_jobs", "callback_deliveries"}),
    "0010_marketplace": (
        "0009_waits",
        {
            "marketplace_listings",
            "marketplace_versions",
            "marketplace_installs",
            "marketplace_reviews",
            "marketplace_reports",
        },
    ),
    "0011_editor": ("0010_marketplace", {"flow_webhook_tokens", "flow_samples", "flow_sources"}),
    "0012_perf": ("0011_editor", set()),
    "0013_sealed_secrets": ("0012_perf", set()),
    "0014_kept_events": ("0013_sealed_secrets", {"kept_events"}),
}

# revision -> columns ("table.column") and constraints it adds to tables of earlier revisions
ADDED_LATER: dict[str, set[str]] = {
    "0008_billing": {
        "tenants.deletion_scheduled_at",
        "users.clerk_user_id",
        "users.disabled_at",
        "uq_users_clerk_user_id",
    },
    "0009_waits": {
        "executions.callback_url",
        "executions.callback_token",
        "executions.callback_status",
        "executions.callback_error",
        "executions.rerun_of",
        "executions.rerun_from_step",
        "executions.cancel_requested_at",
        "executions.last_event_at",
        "flows.signing_secret",
        "flows.event_token_hash",
        "flows.failure_url",
    },
    "0012_perf": {"flows.history_level", "ix_execution_steps_usage"},
}


@pytest.fixture(params=["sqlite", "postgres"])
def empty_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'migrate.db'}"
        return
    if not postgres_reachable():
        if REQUIRE_SERVICES:
            pytest.fail("FLOWPLANE_TEST_REQUIRE_SERVICES=1 but Postgres is not reachable")
        pytest.skip("Postgres is not reachable; the SQLite variant still runs")
    with fresh_postgres_database() as url:
        yield url


def test_every_revision_matches_its_models_and_downgrades(empty_database_url: str) -> None:
    import_all_models()
    assert set().union(*(tables for _, tables in REVISIONS.values())) == set(
        Base.metadata.tables
    ), "every model table is created by exactly one listed revision"
    config = alembic_config(empty_database_url)
    for revision, (previous, tables) in REVISIONS.items():
        command.upgrade(config, revision)
        present, differences = asyncio.run(_inspect(empty_database_url, tables))
        assert present >= tables
        later = set().union(*(ADDED_LATER.get(name, set()) for name in _after(revision)))
        differences = [diff for diff in differences if _added_name(diff) not in later]
        assert differences == [], f"{revision} differs from the models"
        command.downgrade(config, previous)
        present, _ = asyncio.run(_inspect(empty_database_url, tables))
        assert present & tables == set(), f"{revision} leaves tables behind on downgrade"
        command.upgrade(config, revision)
    _, differences = asyncio.run(_inspect(empty_database_url, set(Base.metadata.tables)))
    assert differences == [], "head differs from the models"


async def _inspect(url: str, tables: set[str]) -> tuple[set[str], list[Any]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            present = await connection.run_sync(lambda sync: set(inspect(sync).get_table_names()))
            differences = await connection.run_sync(_differences, tables)
        return present, differences
    finally:
        await engine.dispose()


def _differences(connection: Connection, tables: set[str]) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return [
        diff
        for diff in compare_metadata(context, Base.metadata)
        if any(_table_name(item) in tables for item in (diff if isinstance(diff, list) else [diff]))
    ]


def _after(revision: str) -> list[str]:
    names = list(REVISIONS)
    return names[names.index(revision) + 1 :]


def _added_name(diff: Any) -> str | None:
    """The column ("table.column") or constraint a model has that the database lacks."""
    if isinstance(diff, tuple) and diff[0] == "add_column":
        return f"{diff[2]}.{diff[3].name}"
    if isinstance(diff, tuple) and diff[0] in ("add_constraint", "add_index"):
        return str(diff[1].name)
    return None


def _table_name(item: tuple[Any, ...]) -> str:
    kind: str = item[0]
    if kind in ("add_table", "remove_table"):
        return str(item[1].name)
    if kind in ("add_column", "remove_column") or kind.startswith("modify_"):
        return str(item[2])
    if kind in ("add_fk", "remove_fk"):
        return str(item[1].parent.name)
    return str(item[1].table.name)  # indexes and constraints
