"""Alembic environment: one chain for Postgres and SQLite, run with the async engine.

On Postgres the whole upgrade runs under a transaction-level advisory lock: any number of
workers and replicas may start at once, one migrates and the others wait, then find the
database at head and do nothing (concurrent CREATE TABLEs would collide otherwise)."""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import text
from sqlalchemy.engine import Connection

from control_plane.db import Base, create_engine
from control_plane.models import import_all_models

import_all_models()
target_metadata = Base.metadata
MIGRATION_LOCK_KEY = 0x666C6F77706C616E  # "flowplane" in hex: one lock per database


def run_migrations(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        if connection.dialect.name == "postgresql":
            # before Alembic reads the current revision; released when the upgrade commits
            connection.execute(
                text("SELECT pg_advisory_xact_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
            )
        context.run_migrations()


async def run_async_migrations() -> None:
    engine = create_engine(context.config.get_main_option("sqlalchemy.url") or "")
    async with engine.connect() as connection:
        await connection.run_sync(run_migrations)
        await connection.commit()
    await engine.dispose()


if context.is_offline_mode():
    raise SystemExit("offline migrations are not supported; run against a database")
asyncio.run(run_async_migrations())
