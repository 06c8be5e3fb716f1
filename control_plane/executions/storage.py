"""Small storage helpers shared by the trigger path and the recorder."""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from typing import Any, TypeVar

import orjson
from sqlalchemy import Connection, Engine, Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from control_plane.db import sqlite_sync_engine

T = TypeVar("T")

# One per SQLite file, held by a HeldConnection's transaction: SQLite's own wait for its write
# lock sleeps (1, 2, 5, 10, 15, 20 ms ...) and under load overshoots the holder by as much
# again; a waiter on this lock takes over the moment the holder commits.
_SQLITE_WRITERS: dict[str, threading.Lock] = {}


def dialect_insert(dialect_name: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An INSERT with `ON CONFLICT` support on both databases."""
    if dialect_name == "postgresql":
        return postgresql.insert(table)
    return sqlite.insert(table)


# json.dumps (ASCII escapes) writes at most this many bytes per byte of orjson's UTF-8 output:
# a 2-4 byte character becomes one or two 6-byte escapes, a float gains at most a "+".
ESCAPED_GROWTH = 3


def bounded_json(value: Any, max_bytes: int) -> tuple[Any, bool]:
    """`value`, or a preview of its JSON text when that is over `max_bytes` (and True).

    The size is that of `json.dumps(value)` (compact, ASCII escapes); a value whose orjson text
    is small enough that the escaped text cannot pass the cap is let through without building
    that text (the usual case: a fraction of the cap)."""
    if value is None:
        return None, False
    try:
        if len(orjson.dumps(value)) * ESCAPED_GROWTH <= max_bytes:
            return value, False
    except TypeError:  # past orjson (an integer over 64 bits, a non-string key): measure below
        pass
    text = json.dumps(value, separators=(",", ":"), default=str)
    if len(text.encode()) <= max_bytes:
        return value, False
    preview = text.encode()[:max_bytes].decode("utf-8", errors="ignore")
    return {"_truncated": True, "_bytes": len(text.encode()), "preview": preview}, True


def execute_many(connection: Connection, statement: Any, rows: list[dict[str, Any]]) -> None:
    """`connection.execute(statement, rows)`, where every row binds the same keys. On SQLite the
    statement is compiled once per shape and each row bound by the statement's own processors,
    without SQLAlchemy's per-row parameter machinery (a fifth of the recorder's `apply`)."""
    if not rows:
        return
    shape = _positional(statement, connection.dialect, tuple(rows[0]))
    if shape is None:
        connection.execute(statement, rows)
        return
    sql, slots = shape
    connection.exec_driver_sql(
        sql,
        [
            tuple(
                [
                    fixed if name is None else row[name] if process is None else process(row[name])
                    for name, process, fixed in slots
                ]
            )
            for row in rows
        ],
    )


_Slot = tuple[str | None, Callable[[Any], Any] | None, Any]  # (row key, processor, fixed value)


@lru_cache(maxsize=32)
def _positional(
    statement: Any, dialect: Dialect, keys: tuple[str, ...]
) -> tuple[str, list[_Slot]] | None:
    """The SQL and, per bound parameter, where its value comes from; or, on another dialect or
    for a statement with Python-side column defaults (computed per row), no shape: the caller
    then binds through SQLAlchemy."""
    if dialect.name != "sqlite":
        return None
    compiled = statement.compile(dialect=dialect, column_keys=list(keys))
    if compiled.positiontup is None or compiled.insert_prefetch or compiled.update_prefetch:
        return None
    processors = compiled._bind_processors
    # the statement's own literals (CASE ... WHEN 'x'), beside the rows' keys
    fixed = compiled.construct_params(dict.fromkeys(keys))
    slots: list[_Slot] = []
    for name in compiled.positiontup:
        process = processors.get(name)
        if name in keys:
            slots.append((name, process, None))
        else:
            slots.append((None, None, process(fixed[name]) if process else fixed[name]))
    return str(compiled), slots


def month_key(moment: datetime) -> str:
    """The calendar month (UTC) an execution counts against: "2025-01"."""
    return f"{moment.year:04d}-{moment.month:02d}"


class HeldConnection:
    """A database connection kept by one long-running worker (trigger admission, recorder),
    on which `run(work, *args)` runs the blocking `work(connection, *args)` in one transaction.

    On SQLite `work` runs in the worker's own thread on a blocking connection: one hop per
    transaction, so SQLite's write lock is held for the statements only (through aiosqlite each
    statement is a hop, and under load each return waits its turn on the event loop). On
    Postgres it runs through `run_sync` on a kept asyncpg connection: checking one out of the
    pool costs a pre-ping (three round trips) per batch. After any error the connection is
    dropped and the next transaction reconnects."""

    def __init__(
        self, engine: AsyncEngine, *, autocommit: bool = False, page_cache_kib: int | None = None
    ) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._page_cache_kib = page_cache_kib
        self._connection: AsyncConnection | None = None
        self._sqlite = engine.dialect.name == "sqlite"
        self._sqlite_engine: Engine | None = None
        self._sqlite_connection: Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        if self._sqlite:
            self._writer = _SQLITE_WRITERS.setdefault(str(engine.url), threading.Lock())

    async def run(self, work: Callable[..., T], *args: Any) -> T:
        """`work(connection, *args)` in a transaction (with `autocommit`, each statement
        commits on its own instead); returns its result."""
        if self._sqlite:
            if self._thread is None:
                self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="held-sqlite")
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._thread, self._run_blocking, work, args)
        if self._connection is None:
            self._connection = await self._engine.connect()
            if self._autocommit:
                await self._connection.execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        try:
            async with connection.begin():
                return await connection.run_sync(work, *args)
        except BaseException:
            self._connection = None
            with contextlib.suppress(Exception):
                await connection.close()
            raise

    def _run_blocking(self, work: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._sqlite_connection is None:
            if self._sqlite_engine is None:
                self._sqlite_engine = sqlite_sync_engine(
                    self._engine, page_cache_kib=self._page_cache_kib
                )
            self._sqlite_connection = self._sqlite_engine.connect()
        connection = self._sqlite_connection
        try:
            with self._writer, connection.begin():
                return work(connection, *args)
        except BaseException:
            self._close_blocking()
            raise

    def _close_blocking(self) -> None:
        connection, self._sqlite_connection = self._sqlite_connection, None
        if connection is not None:
            with contextlib.suppress(Exception):
                connection.close()

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.close()
        thread, self._thread = self._thread, None
        if thread is not None:
            await asyncio.get_running_loop().run_in_executor(thread, self._close_blocking)
            thread.shutdown()
        if self._sqlite_engine is not None:
            self._sqlite_engine.dispose()
            self._sqlite_engine = None
