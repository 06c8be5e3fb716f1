"""Engine, sessions and migrations. One session per request: commit on success, rollback on error."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from alembic import command
from alembic.config import Config
from fastapi import Depends, Request
from sqlalchemy import DateTime, MetaData, event
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.engine import Dialect, Engine
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from control_plane import json_codec

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def new_id() -> str:
    """Primary keys: a random UUID as 32 hex characters."""
    return uuid.uuid4().hex


def utcnow() -> datetime:
    return datetime.now(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on both databases (SQLite keeps no offset: it stores naive
    UTC and this type puts the UTC zone back on read). Naive datetimes are refused on write."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UtcDateTime column; use utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> Callable[[datetime | None], Any] | None:
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return _sqlite_utc_text

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _sqlite_utc_text(value: datetime | None) -> str | None:
    """What `process_bind_param` and SQLite's DATETIME make of `value` together, in half of
    their time: the recorder binds several timestamps per execution."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError("naive datetime given to a UtcDateTime column; use utcnow()")
    if value.utcoffset():
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]


def create_engine(url: str) -> AsyncEngine:
    codec: dict[str, Any] = {
        "json_serializer": json_codec.dumps,
        "json_deserializer": json_codec.loads,
    }
    if url.startswith("sqlite"):
        engine = create_async_engine(url, connect_args={"timeout": 30}, **codec)
        event.listen(engine.sync_engine, "connect", _configure_sqlite)
        return engine
    return create_async_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True, **codec)


def sqlite_sync_engine(engine: AsyncEngine, *, page_cache_kib: int | None = None) -> Engine:
    """A blocking engine on the same SQLite file, for workers that run a whole transaction in
    one thread hop (`executions.storage.HeldConnection`): through aiosqlite every statement is
    a hop to its thread and back, and under load each return waits a turn of the event loop
    while the transaction holds SQLite's one write lock. `page_cache_kib`: SQLite's page cache
    per connection (its default is 2 MB)."""
    sync = create_sync_engine(
        engine.url.set(drivername="sqlite"),
        connect_args={"timeout": 30, "check_same_thread": False},
        json_serializer=json_codec.dumps,
        json_deserializer=json_codec.loads,
    )
    event.listen(sync, "connect", _configure_sqlite)
    if page_cache_kib is not None:

        def size_page_cache(connection: Any, _: Any) -> None:
            cursor = connection.cursor()
            cursor.execute(f"PRAGMA cache_size=-{int(page_cache_kib)}")
            cursor.close()

        event.listen(sync, "connect", size_page_cache)
    return sync


# The recorder's connection updates every execution and its steps: past SQLite's default 2 MB
# of page cache the index pages it touches on a history of a million executions are read from
# the OS again and again. (Admission only appends: the default serves it.)
HISTORY_PAGE_CACHE_KIB = 16 * 1024


def _configure_sqlite(connection: Any, _: Any) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def create_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    sessionmaker: async_sessionmaker[AsyncSession] = request.app.state.sessionmaker
    async with sessionmaker() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


# Endpoints take the session as `session: DatabaseSession`. Function scope makes the commit
# happen before the response is sent (FastAPI's default request scope commits afterwards, so a
# client could see a 2xx for a write that then fails, or read before the write is visible).
DatabaseSession = Annotated[AsyncSession, Depends(get_session, scope="function")]


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", database_url)
    return config


async def migrate(database_url: str) -> None:
    """Apply every migration (`alembic upgrade head`); Alembic runs its own loop in a thread."""
    await asyncio.to_thread(command.upgrade, alembic_config(database_url), "head")
