"""The blocking half of trigger admission (admission.py): one batch's transaction. These run
in the held connection's thread (SQLite) or through `run_sync` (Postgres), so they only return
refusals: futures belong to the event loop."""

from __future__ import annotations

import hmac
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, bindparam, select, tuple_

from control_plane.errors import NotFound, ServiceUnavailable
from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.triggers.admission_postgres import admit_batch
from control_plane.triggers.catalog import is_hot
from control_plane.triggers.records import NEVER_ENQUEUED, add_to_counters, insert_executions

if TYPE_CHECKING:
    from control_plane.triggers.admission import PendingTrigger

FLOW_STATES = select(Flow.id, Flow.desired_state, Flow.status, Flow.webhook_token_hash).where(
    Flow.id.in_(bindparam("flow_ids", expanding=True))
)
NO_WEBHOOK_HERE = "no webhook at this address: the flow does not exist or the token is wrong"

Repeat = tuple["PendingTrigger", str, datetime, bool]  # (request, earlier id, its creation, revive)
Refusal = tuple["PendingTrigger", Exception]
Stored = tuple[list["PendingTrigger"], list[Repeat], list[Refusal]]  # (fresh, repeats, refused)


class FlowNotHot(Exception):
    """The flow is not plainly running: the caller must ask the pumps domain
    (`ensure_accepting`) and admit again without the run-state check."""


def store(connection: Connection, batch: list[PendingTrigger], _: datetime) -> Stored:
    """Portable: check the flows, insert, count, in the caller's transaction."""
    candidates, refused = _check_flows(connection, batch)
    inserted = insert_executions(connection, [item.row for item in candidates])
    fresh = [item for item in candidates if item.row["id"] in inserted]
    add_to_counters(connection, [item.row for item in fresh])
    repeats, unmatched = _earlier(connection, [i for i in candidates if i not in fresh])
    for item in unmatched:  # cannot happen: a conflict means the row exists
        refused.append((item, ServiceUnavailable("the trigger could not be stored; try again")))
    return fresh, repeats, refused


def store_in_one_statement(
    connection: Connection, batch: list[PendingTrigger], now: datetime
) -> Stored:
    inserted = admit_batch(
        connection,
        [item.row for item in batch],
        [item.request.token_hash for item in batch],
        [item.request.check_run_state for item in batch],
        now,
    )
    fresh = [item for item in batch if item.row["id"] in inserted]
    missing = [item for item in batch if item.row["id"] not in inserted]
    if not missing:
        return fresh, [], []
    candidates, refused = _check_flows(connection, missing)
    repeats, unmatched = _earlier(connection, candidates)
    for item in unmatched:  # the flow's state changed under the statement: ask again
        refused.append((item, FlowNotHot(item.request.flow.flow_id)))
    return fresh, repeats, refused


def _check_flows(
    connection: Connection, batch: list[PendingTrigger]
) -> tuple[list[PendingTrigger], list[Refusal]]:
    """Refuse the requests whose flow changed since the catalog read it."""
    flow_ids = sorted({item.request.flow.flow_id for item in batch})
    rows = connection.execute(FLOW_STATES, {"flow_ids": flow_ids})
    current = {row[0]: row[1:] for row in rows}
    accepted: list[PendingTrigger] = []
    refused: list[Refusal] = []
    for item in batch:
        request = item.request
        state = current.get(request.flow.flow_id)
        if state is None:
            refused.append((item, NotFound(f"flow {request.flow.flow_id} not found")))
            continue
        desired_state, status, token_hash = state
        if request.token_hash is not None and not (
            token_hash and hmac.compare_digest(token_hash, request.token_hash)
        ):
            refused.append((item, NotFound(NO_WEBHOOK_HERE)))
        elif request.check_run_state and not is_hot(desired_state, status):
            refused.append((item, FlowNotHot(request.flow.flow_id)))
        else:
            accepted.append(item)
    return accepted, refused


def _earlier(
    connection: Connection, repeats: list[PendingTrigger]
) -> tuple[list[Repeat], list[PendingTrigger]]:
    """The executions that first used the idempotency keys repeated in this batch (and
    whether that one never reached the stream), and the requests for which there is none."""
    keyed = [item for item in repeats if item.row["idempotency_key"] is not None]
    earlier: dict[tuple[str, str | None], tuple[str, datetime, bool]] = {}
    if keyed:
        keys = {(item.row["flow_id"], item.row["idempotency_key"]) for item in keyed}
        rows = connection.execute(
            select(
                Execution.flow_id,
                Execution.idempotency_key,
                Execution.id,
                Execution.created_at,
                Execution.status,
                Execution.reason,
            ).where(tuple_(Execution.flow_id, Execution.idempotency_key).in_(keys))
        )
        earlier = {
            (flow, key): (ident, at, status == "failed" and reason in NEVER_ENQUEUED)
            for flow, key, ident, at, status, reason in rows
        }
    found: list[Repeat] = []
    unmatched: list[PendingTrigger] = []
    for item in repeats:
        match = earlier.get((item.row["flow_id"], item.row["idempotency_key"]))
        if match is None:
            unmatched.append(item)
        else:
            found.append((item, *match))
    return found, unmatched
