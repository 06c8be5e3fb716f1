"""Owing completion callbacks: rows of `callback_deliveries` (the outbox), sent by
`delivery.py`. A trigger's callback is recorded `waiting` when the trigger is accepted and
becomes `pending` (due) when its execution ends; a flow's failure notification is recorded
`pending` in the transaction that ends the execution as failed. Both survive restarts."""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from fastapi import FastAPI
from sqlalchemy import Connection, bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.callbacks.models import CallbackDelivery
from control_plane.db import new_id, utcnow
from control_plane.errors import InvalidInput
from control_plane.executions.models import FINAL_STATUSES, Execution
from control_plane.executions.storage import dialect_insert
from control_plane.flows.models import Flow
from pump.netguard import AddressPolicy, BlockedAddressError

MAX_URL_CHARS = 2048


def allowlist(app: FastAPI) -> list[str]:
    raw: str = app.state.settings.pump_http_allowlist
    return [item.strip() for item in raw.split(",") if item.strip()]


def validate_callback(app: FastAPI, url: str, field: str = "callback_url") -> None:
    """A callback target must be an absolute http(s) URL the HTTP handler's address policy
    allows (names are checked again, after resolution, when it is called)."""
    problem = _url_problem(url)
    if problem is None:
        host = urlsplit(url).hostname or ""
        try:
            ipaddress.ip_address(host)
        except ValueError:
            host = ""  # a name: resolved and checked at delivery
        if host:
            try:
                AddressPolicy(allowlist(app)).check_url_host(host)
            except BlockedAddressError as error:
                problem = str(error).replace(
                    "FLOWPLANE_HTTP_ALLOWLIST", "FLOWPLANE_PUMP_HTTP_ALLOWLIST"
                )
    if problem is not None:
        raise InvalidInput(f"{field}: {problem}", problems=[{"path": field, "message": problem}])


def _url_problem(url: str) -> str | None:
    if len(url) > MAX_URL_CHARS:
        return f"longer than {MAX_URL_CHARS} characters"
    try:
        parts = urlsplit(url)
    except ValueError as error:
        return f"not a URL: {error}"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an absolute http(s) URL"
    return None


async def expect_callback(
    engine: AsyncEngine, execution_id: str, url: str, token: str | None
) -> None:
    """Owe a callback when the execution ends (a repeat of the trigger owes nothing more)."""
    async with engine.begin() as connection:
        row = (
            await connection.execute(
                select(Execution.tenant_id, Execution.flow_id, Execution.status).where(
                    Execution.id == execution_id
                )
            )
        ).one_or_none()
        if row is None:
            return
        tenant_id, flow_id, status = row
        now = utcnow()
        await connection.execute(
            _insert(connection.dialect.name),
            [
                {
                    "id": new_id(),
                    "execution_id": execution_id,
                    "tenant_id": tenant_id,
                    "flow_id": flow_id,
                    "kind": "callback",
                    "url": url,
                    "token": token,
                    "status": "pending" if status in FINAL_STATUSES else "waiting",
                    "attempts": 0,
                    "next_attempt_at": now,
                    "created_at": now,
                }
            ],
        )
        await connection.execute(
            update(Execution)
            .where(Execution.id == execution_id, Execution.callback_url.is_(None))
            .values(callback_url=url, callback_status="pending")
        )


# Built once: building a statement (and its cache key) per call cost more than running it.
DUE_CALLBACKS = (
    update(CallbackDelivery)
    .where(
        CallbackDelivery.execution_id.in_(bindparam("ids", expanding=True)),
        CallbackDelivery.status == "waiting",
    )
    .values(status="pending", next_attempt_at=bindparam("now"))
)
FAILURES_TO_NOTIFY = (
    select(Execution.id, Execution.tenant_id, Execution.flow_id, Flow.failure_url)
    .join(Flow, Flow.id == Execution.flow_id)
    .where(
        Execution.id.in_(bindparam("ids", expanding=True)),
        Execution.status == "failed",
        Flow.failure_url.is_not(None),
    )
)


def owe(connection: Connection, execution_ids: list[str]) -> None:
    """The executions ended: their callbacks are due, and each failed one owes its flow's
    failure notification (once: a repeat inserts nothing)."""
    if not execution_ids:
        return
    connection.execute(DUE_CALLBACKS, {"ids": execution_ids, "now": utcnow()})
    rows = connection.execute(FAILURES_TO_NOTIFY, {"ids": execution_ids})
    now = utcnow()
    owed: list[dict[str, Any]] = [
        {
            "id": new_id(),
            "execution_id": ident,
            "tenant_id": tenant_id,
            "flow_id": flow_id,
            "kind": "failure",
            "url": failure_url,
            "token": None,
            "status": "pending",
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for ident, tenant_id, flow_id, failure_url in rows
    ]
    if owed:
        connection.execute(_insert(connection.dialect.name), owed)


@lru_cache(maxsize=4)
def _insert(dialect_name: str) -> Any:
    insert = dialect_insert(dialect_name, CallbackDelivery.__table__)  # type: ignore[arg-type]
    return insert.on_conflict_do_nothing(index_elements=["execution_id", "kind"])
