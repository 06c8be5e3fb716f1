"""Small storage helpers shared by the trigger path and the recorder."""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine


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


def month_key(moment: datetime) -> str:
    """The calendar month (UTC) an execution counts against: "2025-01"."""
    return f"{moment.year:04d}-{moment.month:02d}"


class HeldConnection:
    """A database connection kept by one long-running worker (trigger admission, recorder).

    Checking a connection out of the pool costs a pre-ping (three round trips on asyncpg) per
    batch; a worker that writes hundreds of batches a second keeps one instead, and drops it
    after any error so the next batch reconnects."""

    def __init__(self, engine: AsyncEngine, *, autocommit: bool = False) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._connection: AsyncConnection | None = None

    @asynccontextmanager
    async def begin(self) -> AsyncIterator[AsyncConnection]:
        """A transaction; with `autocommit`, each statement commits on its own instead."""
        if self._connection is None:
            self._connection = await self._engine.connect()
            if self._autocommit:
                await self._connection.execution_options(isolation_level="AUTOCOMMIT")
        connection = self._connection
        try:
            async with connection.begin():
                yield connection
        except BaseException:
            self._connection = None
            with contextlib.suppress(Exception):
                await connection.close()
            raise

    async def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            with contextlib.suppress(Exception):
                await connection.close()
