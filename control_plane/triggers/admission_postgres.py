"""Postgres: a whole admission batch in one statement, one round trip, no BEGIN/COMMIT.

The batch arrives as arrays (`unnest`), is joined with `flows` (the token hash and run state
as they are now), inserted with `ON CONFLICT (flow_id, idempotency_key) DO NOTHING` and added
to the month's counters in data-modifying CTEs. One statement is one transaction, so it runs
in autocommit: the row is committed when the statement returns, before the XADD. The ids
returned are the executions inserted; a missing one was refused by the join (admission.py
finds out why) or repeated an idempotency key.

SQLite takes the portable path in admission.py (several statements in a transaction)."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from control_plane.executions.storage import month_key
from control_plane.triggers.catalog import HOT_STATUSES

_HOT = ", ".join(f"'{status}'" for status in sorted(HOT_STATUSES))
ADMIT_BATCH = text(
    f"""
WITH incoming AS (
    SELECT * FROM unnest(
        CAST(:ids AS VARCHAR[]), CAST(:tenant_ids AS VARCHAR[]), CAST(:flow_ids AS VARCHAR[]),
        CAST(:triggers AS VARCHAR[]), CAST(:trigger_kinds AS VARCHAR[]),
        CAST(:targets AS VARCHAR[]), CAST(:inputs AS TEXT[]),
        CAST(:inputs_truncated AS BOOLEAN[]), CAST(:idempotency_keys AS VARCHAR[]),
        CAST(:retries_of AS VARCHAR[]), CAST(:token_hashes AS VARCHAR[]),
        CAST(:check_states AS BOOLEAN[])
    ) AS batch(id, tenant_id, flow_id, trigger, trigger_kind, target, input, input_truncated,
               idempotency_key, retry_of, token_hash, check_state)
),
admitted AS (
    SELECT incoming.* FROM incoming JOIN flows ON flows.id = incoming.flow_id
    WHERE (incoming.token_hash IS NULL OR flows.webhook_token_hash = incoming.token_hash)
      AND (NOT incoming.check_state
           OR (flows.desired_state = 'running' AND flows.status IN ({_HOT})))
),
inserted AS (
    INSERT INTO executions (id, tenant_id, flow_id, status, trigger, trigger_kind, target,
                            input, input_truncated, outputs_truncated, idempotency_key,
                            retry_of, steps, created_at)
    SELECT id, tenant_id, flow_id, 'queued', trigger, trigger_kind, target, CAST(input AS JSON),
           input_truncated, false, idempotency_key, retry_of, 0,
           CAST(:created_at AS TIMESTAMP WITH TIME ZONE)
    FROM admitted
    ON CONFLICT (flow_id, idempotency_key) DO NOTHING
    RETURNING id, flow_id, tenant_id
),
counted AS (
    INSERT INTO execution_counters (flow_id, month, tenant_id, executions)
    SELECT flow_id, CAST(:month AS VARCHAR), tenant_id, count(*) FROM inserted
    GROUP BY flow_id, tenant_id ORDER BY flow_id
    ON CONFLICT (flow_id, month)
    DO UPDATE SET executions = execution_counters.executions + excluded.executions
)
SELECT id FROM inserted
"""
)


def admit_batch(
    connection: Connection,
    rows: list[dict[str, Any]],
    token_hashes: list[str | None],
    check_states: list[bool],
    created_at: datetime,
) -> set[str]:
    """Insert the admissible rows (all made by `records.execution_row` at `created_at`);
    returns the ids inserted. `connection` must be in autocommit."""
    result = connection.execute(
        ADMIT_BATCH,
        {
            "ids": [row["id"] for row in rows],
            "tenant_ids": [row["tenant_id"] for row in rows],
            "flow_ids": [row["flow_id"] for row in rows],
            "triggers": [row["trigger"] for row in rows],
            "trigger_kinds": [row["trigger_kind"] for row in rows],
            "targets": [row["target"] for row in rows],
            "inputs": [_json(row["input"]) for row in rows],
            "inputs_truncated": [row["input_truncated"] for row in rows],
            "idempotency_keys": [row["idempotency_key"] for row in rows],
            "retries_of": [row["retry_of"] for row in rows],
            "token_hashes": token_hashes,
            "check_states": check_states,
            "created_at": created_at,
            "month": month_key(created_at),
        },
    )
    return {str(ident) for ident in result.scalars()}


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, separators=(",", ":"), default=str)
