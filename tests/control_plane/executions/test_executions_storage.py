"""Storage helpers of the hot path: SQLite timestamps bound without SQLAlchemy's generic
processors, and the writer lock the held connections share on one SQLite file."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime

from control_plane.db import UtcDateTime, create_engine
from control_plane.executions.storage import HeldConnection

MOMENTS = [
    datetime(2026, 12, 7, 10, 51, 13, 123456, tzinfo=UTC),
    datetime(2026, 12, 7, 10, 51, 13, tzinfo=UTC),  # no microseconds
    datetime(5, 1, 2, 3, 4, 5, 6, tzinfo=UTC),  # a year of one digit
    datetime(2026, 3, 29, 2, 30, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=-8))),
]


@pytest.mark.parametrize("moment", MOMENTS, ids=str)
def test_a_sqlite_timestamp_is_bound_as_the_generic_processors_bind_it(moment: datetime) -> None:
    dialect = sqlite.dialect()
    column = UtcDateTime()
    generic = DateTime()._cached_bind_processor(dialect)
    assert generic is not None
    expected = generic(column.process_bind_param(moment, dialect))
    processor = column._cached_bind_processor(dialect)
    assert processor is not None
    assert processor(moment) == expected
    assert processor(None) is None


def test_a_naive_timestamp_is_refused_on_sqlite() -> None:
    processor = UtcDateTime()._cached_bind_processor(sqlite.dialect())
    assert processor is not None
    with pytest.raises(ValueError, match="naive datetime"):
        processor(datetime(2026, 12, 7, 10, 51))


async def test_sqlite_timestamps_read_back_as_the_same_utc_moments(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'moments.db'}")
    table = Table("moments", MetaData(), Column("id", Integer, primary_key=True),
                  Column("at", UtcDateTime()))  # fmt: skip
    try:
        async with engine.begin() as connection:
            await connection.run_sync(table.metadata.create_all)
            await connection.execute(
                table.insert(), [{"id": n, "at": at} for n, at in enumerate(MOMENTS)]
            )
            result = await connection.execute(select(table.c.at).order_by(table.c.id))
            read = list(result.scalars())
            assert read == MOMENTS
            assert all(at.tzinfo is UTC for at in read)
            ordered = (
                await connection.execute(select(table.c.id).order_by(table.c.at, table.c.id))
            ).scalars()
            assert list(ordered) == sorted(range(len(MOMENTS)), key=lambda n: MOMENTS[n])
    finally:
        await engine.dispose()


async def test_held_connections_on_one_sqlite_file_write_one_at_a_time(tmp_path: Path) -> None:
    """With SQLite's own wait turned off, a second writer still succeeds: it waits for the
    first on the shared lock."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'writers.db'}")
    async with engine.begin() as setup:
        await setup.execute(text("CREATE TABLE writes (who TEXT)"))
    first, second = HeldConnection(engine), HeldConnection(engine)
    holding, release = threading.Event(), threading.Event()
    order: list[str] = []

    def hold(connection: Connection) -> None:
        connection.execute(text("PRAGMA busy_timeout=0"))
        connection.execute(text("INSERT INTO writes VALUES ('first')"))
        holding.set()
        release.wait(timeout=30)
        order.append("first committing")

    def write(connection: Connection) -> int:
        connection.execute(text("PRAGMA busy_timeout=0"))
        connection.execute(text("INSERT INTO writes VALUES ('second')"))
        order.append("second wrote")
        return int(connection.execute(text("SELECT count(*) FROM writes")).scalar_one())

    try:
        holder = asyncio.create_task(first.run(hold))
        await asyncio.to_thread(holding.wait, 30)
        waiter = asyncio.create_task(second.run(write))
        await asyncio.sleep(0.2)
        assert order == []  # the second waits
        release.set()
        await holder
        assert await waiter == 2
        assert order == ["first committing", "second wrote"]
    finally:
        release.set()
        await first.close()
        await second.close()
        await engine.dispose()
