"""Outages of the parts a request needs become `503` with `Retry-After`, never a 500.

While Postgres restarts, or Redis restarts or loads its dataset, the drivers raise their own
errors (a refused connection, `AdminShutdownError`, `BusyLoadingError`, ...). Whatever the
route, those are answered like `ServiceUnavailable`: nothing was done, send the same request
again later. The pool's pre-ping and a fresh connection per retry bring requests back once the
part is up. Errors that are not an outage (a bug, a constraint violation) stay 500s.

A client that hangs up while its request body is read (`ClientDisconnect`) is a normal event:
one log line, no traceback."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request, Response
from redis import exceptions as redis_errors
from sqlalchemy import exc as sql_errors
from starlette.requests import ClientDisconnect

from control_plane.errors import ServiceUnavailable, render

log = structlog.get_logger("control_plane.outages")

DATABASE_RETRY_AFTER_SECONDS = 2
REDIS_RETRY_AFTER_SECONDS = 1
CLIENT_CLOSED_REQUEST = 499  # nginx's code for "the client went away first"
# SQLSTATE classes of an unreachable or restarting server: connection exception, insufficient
# resources (too many connections), operator intervention (shutdown, starting up).
TRANSIENT_SQLSTATE_CLASSES = ("08", "53", "57")
TRANSIENT_SQLITE_MESSAGES = ("database is locked", "disk i/o error", "unable to open database")
TRANSIENT_REDIS_REPLIES = ("LOADING", "OOM", "MASTERDOWN", "READONLY", "TRYAGAIN", "CLUSTERDOWN")
LOG_EVERY_SECONDS = 1.0


def database_unavailable(error: BaseException) -> bool:
    """The database could not be reached or is restarting (not a problem of the request)."""
    if isinstance(error, sql_errors.TimeoutError):  # no pooled connection came free in time
        return True
    if isinstance(error, sql_errors.DBAPIError):
        if error.connection_invalidated:
            return True
        original = error.orig
        if isinstance(original, OSError | ConnectionError):
            return True
        sqlstate = str(getattr(original, "sqlstate", "") or getattr(original, "pgcode", "") or "")
        if sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES:
            return True
        message = str(original).lower()
        if isinstance(original, sqlite3.OperationalError) or "sqlite" in type(original).__module__:
            return any(text in message for text in TRANSIENT_SQLITE_MESSAGES)
        return "connection" in message and (
            "closed" in message or "lost" in message or "refused" in message
        )
    if isinstance(error, OSError | ConnectionError):  # raised by asyncpg while connecting
        return True
    if isinstance(error, asyncpg.InterfaceError):
        return "closed" in str(error).lower()
    sqlstate = str(getattr(error, "sqlstate", "") or "")
    return sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES


TRANSIENT_REDIS_ERRORS = (
    redis_errors.ConnectionError,  # BusyLoadingError (LOADING) is one
    redis_errors.TimeoutError,
    redis_errors.OutOfMemoryError,  # OOM: maxmemory with noeviction
    redis_errors.ReadOnlyError,
    redis_errors.TryAgainError,
    redis_errors.ClusterDownError,
)


def redis_unavailable(error: BaseException) -> bool:
    if isinstance(error, TRANSIENT_REDIS_ERRORS):
        return True
    if isinstance(error, redis_errors.ResponseError):
        return str(error).startswith(TRANSIENT_REDIS_REPLIES)
    return False


def as_unavailable(error: BaseException) -> ServiceUnavailable | None:
    """The 503 an outage error stands for, or None when it is not an outage."""
    if redis_unavailable(error):
        return ServiceUnavailable(
            f"Redis is unavailable ({_summary(error)}); try again shortly",
            retry_after=REDIS_RETRY_AFTER_SECONDS,
        )
    if database_unavailable(error):
        return ServiceUnavailable(
            f"the database is unavailable ({_summary(error)}); try again shortly",
            retry_after=DATABASE_RETRY_AFTER_SECONDS,
        )
    return None


def log_failure(logger: Any, event: str, error: BaseException) -> None:
    """A background loop's failure: one warning line for an outage (it will retry), the
    traceback for anything else."""
    unavailable = as_unavailable(error)
    if unavailable is not None:
        logger.warning(event, error=_summary(error))
    else:
        logger.error(event, exc_info=error)


class _Throttle:
    """At most one log line per kind and second: an outage meets every request."""

    def __init__(self) -> None:
        self._last: dict[str, float] = {}

    def allow(self, kind: str) -> bool:
        now = time.monotonic()
        if now - self._last.get(kind, 0.0) < LOG_EVERY_SECONDS:
            return False
        self._last[kind] = now
        return True


def install_outage_handlers(app: FastAPI) -> None:
    throttle = _Throttle()

    async def render_outage(request: Request, error: Exception) -> Response:
        unavailable = as_unavailable(error)
        if unavailable is None:
            raise error  # not an outage: the server error it is
        if throttle.allow(type(error).__name__):
            log.warning(
                "request.unavailable", path=request.url.path, error=_summary(error), status=503
            )
        return render(unavailable)

    async def client_gone(request: Request, _: Exception) -> Response:
        structlog.get_logger("control_plane.http").info(
            "request.client_disconnected", method=request.method, path=request.url.path
        )
        return Response(status_code=CLIENT_CLOSED_REQUEST)

    for error_type in (
        redis_errors.RedisError,
        sql_errors.SQLAlchemyError,
        asyncpg.PostgresError,
        asyncpg.InterfaceError,
        OSError,
    ):
        app.add_exception_handler(error_type, render_outage)
    app.add_exception_handler(ClientDisconnect, client_gone)


def _summary(error: BaseException) -> str:
    text = str(error).splitlines()[0] if str(error) else ""
    return f"{type(error).__name__}: {text}"[:200] if text else type(error).__name__
