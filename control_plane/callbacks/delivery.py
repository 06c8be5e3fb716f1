"""Sending owed callbacks: POST `{execution_id, flow_id, status, reason, outputs, error,
started_at, finished_at}` signed like Stripe's webhooks.

`Flowplane-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>" under the flow's
signing secret>`; receivers recompute it and refuse a `t` outside their replay window
(`callback_replay_window_seconds`, 5 minutes by default). `Idempotency-Key` is the execution
id; `Authorization: Bearer <callback_token>` when the trigger gave one. A 2xx answer is a
delivery; anything else (or no answer) is retried after each delay of
`callback_retry_schedule` (30 s, 60 s, 5 min, 15 min, 1 h), then the delivery fails and the
execution shows `callback_status: callback_failed` with the last error.

Every replica sends: a due row is claimed by moving its `next_attempt_at` forward in a
conditional UPDATE (a lease of the timeout plus a margin), so one replica sends it at a time;
a replica that dies mid-send leaves the row to be taken again when the lease ends. Targets go
through the pump's guarded HTTP client, so the HTTP handler's address policy and its
allow-list (`FLOWPLANE_PUMP_HTTP_ALLOWLIST`) apply, redirects and DNS answers included."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi import FastAPI
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.callbacks.models import CallbackDelivery
from control_plane.callbacks.secret import signing_secret
from control_plane.db import utcnow
from control_plane.executions.models import FINAL_STATUSES, Execution
from control_plane.pumps.secrets import SecretBox
from control_plane.settings import Settings
from pump.handlers.base import StepError
from pump.netguard import GuardedHttpClient

log = structlog.get_logger("control_plane.callbacks")
SIGNATURE_HEADER = "Flowplane-Signature"
LEASE_MARGIN_SECONDS = 30.0
BATCH = 50
MAX_ERROR_CHARS = 2_000


def retry_delays(settings: Settings) -> list[float]:
    return [float(item) for item in settings.callback_retry_schedule.split(",") if item.strip()]


def sign(secret: str, body: bytes, moment: int | None = None) -> str:
    stamp = int(time.time()) if moment is None else moment
    digest = hmac.new(secret.encode(), f"{stamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={stamp},v1={digest}"


def verify(secret: str, body: bytes, header: str, window_seconds: int, now: float) -> bool:
    """What a receiver does (documented, and used by the tests)."""
    parts = dict(item.split("=", 1) for item in header.split(",") if "=" in item)
    try:
        stamp = int(parts["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - stamp) > window_seconds:
        return False
    expected = sign(secret, body, stamp).split("v1=", 1)[1]
    return hmac.compare_digest(expected, parts.get("v1", ""))


class Deliverer:
    def __init__(self, app: FastAPI) -> None:
        self._app = app
        self._engine: AsyncEngine = app.state.engine
        self._settings: Settings = app.state.settings
        self._box: SecretBox = app.state.pumps.secret_box
        allowlist = [
            item.strip() for item in self._settings.pump_http_allowlist.split(",") if item.strip()
        ]
        self._http = GuardedHttpClient(allowlist, pool_size=20)

    async def close(self) -> None:
        await self._http.close()

    async def tick(self) -> int:
        await self._release_ended()
        now = utcnow()
        async with self._engine.connect() as connection:
            due = (
                await connection.execute(
                    select(CallbackDelivery)
                    .where(
                        CallbackDelivery.status == "pending",
                        CallbackDelivery.next_attempt_at <= now,
                    )
                    .order_by(CallbackDelivery.next_attempt_at)
                    .limit(BATCH)
                )
            ).all()
        sent = 0
        for row in due:
            delivery = row._mapping
            if await self._claim(delivery["id"], delivery["next_attempt_at"]):
                sent += await self._send(delivery)
        return sent

    async def _release_ended(self) -> None:
        """Callbacks whose execution ended while the row was being written become due (the
        transaction ending an execution releases them too; this closes the race)."""
        ended = select(Execution.id).where(Execution.status.in_(sorted(FINAL_STATUSES)))
        async with self._engine.begin() as connection:
            await connection.execute(
                update(CallbackDelivery)
                .where(
                    CallbackDelivery.status == "waiting",
                    CallbackDelivery.execution_id.in_(ended.scalar_subquery()),
                )
                .values(status="pending", next_attempt_at=utcnow())
            )

    async def _claim(self, delivery_id: str, seen: datetime) -> bool:
        lease = utcnow() + timedelta(
            seconds=self._settings.callback_timeout_seconds + LEASE_MARGIN_SECONDS
        )
        async with self._engine.begin() as connection:
            result = await connection.execute(
                update(CallbackDelivery)
                .where(
                    CallbackDelivery.id == delivery_id,
                    CallbackDelivery.status == "pending",
                    CallbackDelivery.next_attempt_at == seen,
                )
                .values(next_attempt_at=lease)
            )
            return bool(result.rowcount)

    async def _send(self, delivery: Any) -> int:
        body, error = await self._body(delivery["execution_id"]), None
        if body is None:
            return 0  # the execution is gone (deleted with its flow)
        secret = await signing_secret(self._engine, self._box, delivery["flow_id"])
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": delivery["execution_id"],
            SIGNATURE_HEADER: sign(secret, body),
            "User-Agent": "flowplane-callbacks",
        }
        if delivery["token"]:
            headers["Authorization"] = f"Bearer {delivery['token']}"
        try:
            response = await self._http.request(
                "POST",
                delivery["url"],
                headers=headers,
                body=body,
                timeout_seconds=self._settings.callback_timeout_seconds,
                max_bytes=64 * 1024,
            )
            if not 200 <= response.status < 300:
                error = f"the callback target answered {response.status}"
        except StepError as failure:
            error = failure.message
        await self._record(delivery, error)
        return 1 if error is None else 0

    async def _body(self, execution_id: str) -> bytes | None:
        async with self._engine.connect() as connection:
            row = (
                await connection.execute(
                    select(
                        Execution.id,
                        Execution.flow_id,
                        Execution.status,
                        Execution.reason,
                        Execution.outputs,
                        Execution.error,
                        Execution.started_at,
                        Execution.finished_at,
                    ).where(Execution.id == execution_id)
                )
            ).one_or_none()
        if row is None:
            return None
        values = dict(row._mapping)
        document = {
            "execution_id": values["id"],
            "flow_id": values["flow_id"],
            "status": values["status"],
            "reason": values["reason"],
            "outputs": values["outputs"],
            "error": values["error"],
            "started_at": _iso(values["started_at"]),
            "finished_at": _iso(values["finished_at"]),
        }
        return json.dumps(document, separators=(",", ":"), default=str).encode()

    async def _record(self, delivery: Any, error: str | None) -> None:
        attempts = delivery["attempts"] + 1
        delays = retry_delays(self._settings)
        now = utcnow()
        values: dict[str, Any] = {"attempts": attempts}
        outcome: str | None = None
        if error is None:
            values.update(status="delivered", delivered_at=now, last_error=None)
            outcome = "delivered"
        elif attempts > len(delays):
            values.update(status="failed", last_error=error[:MAX_ERROR_CHARS])
            outcome = "callback_failed"
        else:
            values.update(
                next_attempt_at=now + timedelta(seconds=delays[attempts - 1]),
                last_error=error[:MAX_ERROR_CHARS],
            )
        async with self._engine.begin() as connection:
            await connection.execute(
                update(CallbackDelivery)
                .where(CallbackDelivery.id == delivery["id"])
                .values(**values)
            )
            if delivery["kind"] == "callback":
                await connection.execute(
                    update(Execution)
                    .where(Execution.id == delivery["execution_id"])
                    .values(
                        callback_status=outcome or "retrying",
                        callback_error=None if error is None else error[:MAX_ERROR_CHARS],
                    )
                )
        if error is not None:
            log.warning(
                "callbacks.attempt_failed",
                delivery_id=delivery["id"],
                attempts=attempts,
                error=error[:200],
                final=outcome is not None,
            )


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
