"""Postgres: the recorder's step upsert and execution update, each one statement per batch.

Bound row by row (an executemany), each row is a statement of its own for Postgres: parsed
plan, executor start and end, per row. Bound as arrays (`unnest`), a batch is one statement,
as admission's is (triggers/admission_postgres.py). The rows are unique per key (the batch is
folded first: one row per step, one per execution), which `ON CONFLICT DO UPDATE` and
`UPDATE ... FROM` need. Both statements do what recording.py's portable ones do; SQLite keeps
those (there a statement per row costs no round trip)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.sql.elements import TextClause

from control_plane.executions.models import FINAL_STATUSES
from control_plane.json_codec import dumps

STEP_UPSERT_BATCH = text(
    """
INSERT INTO execution_steps (execution_id, step, listener, handler, status, input, output,
                             truncated, routed_to, error, reason, usage, started_at,
                             finished_at, duration_ms)
SELECT execution_id, step, listener, handler, status, CAST(input AS JSON),
       CAST(output AS JSON), truncated, CAST(routed_to AS JSON), error, reason,
       CAST(usage AS JSON), started_at, finished_at, duration_ms
FROM unnest(
    CAST(:execution_id AS VARCHAR[]), CAST(:step AS INTEGER[]), CAST(:listener AS VARCHAR[]),
    CAST(:handler AS VARCHAR[]), CAST(:status AS VARCHAR[]), CAST(:input AS TEXT[]),
    CAST(:output AS TEXT[]), CAST(:truncated AS BOOLEAN[]), CAST(:routed_to AS TEXT[]),
    CAST(:error AS TEXT[]), CAST(:reason AS VARCHAR[]), CAST(:usage AS TEXT[]),
    CAST(:started_at AS TIMESTAMP WITH TIME ZONE[]),
    CAST(:finished_at AS TIMESTAMP WITH TIME ZONE[]), CAST(:duration_ms AS DOUBLE PRECISION[])
) AS batch(execution_id, step, listener, handler, status, input, output, truncated, routed_to,
           error, reason, usage, started_at, finished_at, duration_ms)
ON CONFLICT (execution_id, step) DO UPDATE SET
    listener = CASE WHEN excluded.listener = '' THEN execution_steps.listener
                    ELSE excluded.listener END,
    handler = coalesce(excluded.handler, execution_steps.handler),
    status = CASE WHEN excluded.status = 'running' THEN execution_steps.status
                  ELSE excluded.status END,
    input = coalesce(excluded.input, execution_steps.input),
    output = coalesce(excluded.output, execution_steps.output),
    truncated = excluded.truncated OR execution_steps.truncated,
    routed_to = coalesce(excluded.routed_to, execution_steps.routed_to),
    error = coalesce(excluded.error, execution_steps.error),
    reason = coalesce(excluded.reason, execution_steps.reason),
    usage = coalesce(excluded.usage, execution_steps.usage),
    started_at = coalesce(execution_steps.started_at, excluded.started_at),
    finished_at = coalesce(excluded.finished_at, execution_steps.finished_at),
    duration_ms = coalesce(excluded.duration_ms, execution_steps.duration_ms)
"""
)

_FINAL = ", ".join(f"'{status}'" for status in sorted(FINAL_STATUSES))
# a cancelled or stalled execution keeps its end, whatever its pump writes later
_CLOSED = "(executions.status = 'cancelled' OR coalesce(executions.reason, '') = 'stalled')"
_ON_FINAL = f"batch.final AND NOT {_CLOSED}"
EXECUTION_UPDATE_BATCH = text(
    f"""
UPDATE executions SET
    status = CASE
        WHEN batch.status IS NULL THEN executions.status
        WHEN {_CLOSED} THEN executions.status
        WHEN batch.status IN ('running', 'waiting') AND executions.status IN ({_FINAL})
            THEN executions.status
        ELSE batch.status END,
    outputs = CASE WHEN {_ON_FINAL} THEN CAST(batch.outputs AS JSON) ELSE executions.outputs END,
    outputs_truncated = CASE WHEN {_ON_FINAL} THEN batch.outputs_truncated
                             ELSE executions.outputs_truncated END,
    error = CASE WHEN {_ON_FINAL} THEN batch.error ELSE executions.error END,
    reason = CASE WHEN {_ON_FINAL} THEN batch.reason ELSE executions.reason END,
    steps = CASE WHEN {_ON_FINAL} THEN batch.steps ELSE executions.steps END,
    duration_ms = CASE WHEN {_ON_FINAL} THEN batch.duration_ms ELSE executions.duration_ms END,
    finished_at = CASE WHEN {_ON_FINAL} THEN batch.finished_at ELSE executions.finished_at END,
    usage = CASE WHEN {_ON_FINAL} THEN CAST(batch.usage AS JSON) ELSE executions.usage END,
    started_at = coalesce(executions.started_at, batch.started_at),
    first_step_at = coalesce(executions.first_step_at, batch.first_step_at),
    last_event_at = coalesce(batch.last_event_at, executions.last_event_at)
FROM unnest(
    CAST(:b_id AS VARCHAR[]), CAST(:b_status AS VARCHAR[]), CAST(:b_final AS BOOLEAN[]),
    CAST(:b_outputs AS TEXT[]), CAST(:b_outputs_truncated AS BOOLEAN[]),
    CAST(:b_error AS TEXT[]), CAST(:b_reason AS VARCHAR[]), CAST(:b_steps AS INTEGER[]),
    CAST(:b_duration_ms AS DOUBLE PRECISION[]),
    CAST(:b_finished_at AS TIMESTAMP WITH TIME ZONE[]), CAST(:b_usage AS TEXT[]),
    CAST(:b_started_at AS TIMESTAMP WITH TIME ZONE[]),
    CAST(:b_first_step_at AS TIMESTAMP WITH TIME ZONE[]),
    CAST(:b_last_event_at AS TIMESTAMP WITH TIME ZONE[])
) AS batch(id, status, final, outputs, outputs_truncated, error, reason, steps, duration_ms,
           finished_at, usage, started_at, first_step_at, last_event_at)
WHERE executions.id = batch.id
"""
)


def upsert_steps(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """`recording._step_upsert` for every row (unique by execution and step) in one statement."""
    _execute(connection, STEP_UPSERT_BATCH, rows, {"input", "output", "routed_to", "usage"})


def update_executions(connection: Connection, rows: list[dict[str, Any]]) -> None:
    """`recording.EXECUTION_UPDATE` for every row (unique by id) in one statement."""
    _execute(connection, EXECUTION_UPDATE_BATCH, rows, {"b_outputs", "b_usage"})


def _execute(
    connection: Connection, statement: TextClause, rows: list[dict[str, Any]], json: set[str]
) -> None:
    """`statement` with each row key bound as the array of its values; the keys in `json` as
    the columns' type writes them (the database codec's text; None is SQL NULL)."""
    if not rows:
        return
    connection.execute(
        statement,
        {
            key: [None if row[key] is None else dumps(row[key]) for row in rows]
            if key in json
            else [row[key] for row in rows]
            for key in rows[0]
        },
    )
