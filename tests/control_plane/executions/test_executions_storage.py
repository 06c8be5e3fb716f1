"""Storage helpers of the hot path: SQLite timestamps bound without SQLAlchemy's generic
processors, the writer lock the held connections share on one SQLite file, and executemany
without SQLAlchemy's per-row parameter machinery."""

from __future__ import annotations

import asyncio
import threading
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, select, text
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy.dialects import sqlite
from sqlalchemy.types import DateTime

from control_plane.db import UtcDateTime, create_engine
from control_plane.executions.models import ExecutionStep
from control_plane.executions.recording import STEP_COLUMNS, _step_upsert
from control_plane.executions.storage import HeldConnection, execute_many

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


def _upserts(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """The step rows left by upserting `rows` one after another, through `execute_many` and
    through SQLAlchemy's own executemany."""
    tables = []
    for through in (execute_many, lambda c, s, r: c.execute(s, r)):
        engine = create_sync_engine("sqlite://")
        ExecutionStep.__table__.create(engine)  # type: ignore[attr-defined]
        with engine.begin() as connection:
            for row in rows:
                through(connection, _step_upsert("sqlite"), [row])
            result = connection.execute(select(ExecutionStep.__table__).order_by("step"))
            tables.append([tuple(line) for line in result])
        engine.dispose()
    assert tables[0] == tables[1]
    return tables[0]


def test_execute_many_binds_as_sqlalchemy_does() -> None:
    started = datetime(2026, 12, 7, 10, 51, 13, 5, tzinfo=UTC)
    finished = started.astimezone(timezone(timedelta(hours=2)))
    base = {column: None for column in STEP_COLUMNS} | {"execution_id": "e" * 32}
    rows = [
        base | {"step": 1, "listener": "a", "status": "running", "truncated": False,
                "input": {"n": [1, 2.5, "é"]}, "started_at": started},
        base | {"step": 1, "listener": "", "status": "succeeded", "truncated": True,
                "output": None, "routed_to": ["b"], "usage": {"tokens": 3},
                "finished_at": finished, "duration_ms": 1.5},
        base | {"step": 2, "listener": "b", "status": "failed", "truncated": False,
                "error": "boom", "reason": "http_error", "started_at": started},
    ]  # fmt: skip
    table = _upserts(rows)
    assert [line[:3] for line in table] == [("e" * 32, 1, "a"), ("e" * 32, 2, "b")]
    assert table[0][4] == "succeeded" and table[0][5] == {"n": [1, 2.5, "é"]}


def test_execute_many_leaves_column_defaults_to_sqlalchemy() -> None:
    metadata = MetaData()
    table = Table("counted", metadata, Column("id", Integer, primary_key=True),
                  Column("n", Integer, default=7))  # fmt: skip
    engine = create_sync_engine("sqlite://")
    metadata.create_all(engine)
    with engine.begin() as connection:
        execute_many(connection, table.insert(), [{"id": 1}, {"id": 2}])
        assert list(connection.execute(select(table.c.n))) == [(7,), (7,)]
    engine.dispose()
