"""On Postgres the recorder writes a batch's steps and execution updates with one statement each
(recording_postgres.py); these must leave exactly the rows the portable row-by-row statements
(recording.py, what SQLite runs) leave, round after round."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from sqlalchemy import Connection, text

from control_plane.db import create_engine
from control_plane.executions.recording import EXECUTION_UPDATE, STEP_COLUMNS, _step_upsert
from control_plane.executions.recording_postgres import update_executions, upsert_steps
from control_plane.executions.storage import execute_many

T0 = datetime(2026, 12, 7, 10, 51, 13, 5, tzinfo=UTC)
T1 = (T0 + timedelta(seconds=2)).astimezone(timezone(timedelta(hours=2)))
SCENARIOS = ("succeeds", "cancelled", "late_running", "fails")


def _step(number: int, **values: Any) -> dict[str, Any]:
    row: dict[str, Any] = dict.fromkeys(STEP_COLUMNS) | {"step": number}
    row.update(listener="", status="running", truncated=False)
    return row | values


def _execution(**values: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "b_status": None, "b_started_at": None, "b_first_step_at": None, "b_final": False,
        "b_outputs": None, "b_outputs_truncated": False, "b_error": None, "b_reason": None,
        "b_steps": 0, "b_duration_ms": None, "b_finished_at": None, "b_usage": None,
        "b_last_event_at": None,
    }  # fmt: skip
    return row | values


FINAL = {"b_final": True, "b_finished_at": T1, "b_steps": 2, "b_duration_ms": 12.5}
# per round, what each scenario's execution and steps receive
ROUNDS: list[dict[str, tuple[dict[str, Any], list[dict[str, Any]]]]] = [
    {
        scenario: (
            _execution(b_status="running", b_started_at=T0, b_first_step_at=T0,
                       b_last_event_at=T0),
            [_step(1, listener="a", handler="builtin.http", input={"n": [1, 2.5, "é"]},
                   started_at=T0)],
        )
        for scenario in SCENARIOS
    },
    {
        "succeeds": (
            _execution(b_status="succeeded", b_outputs={"out": {"ok": True}},
                       b_usage={"tokens": 3}, b_last_event_at=T1, **FINAL),
            [_step(1, status="succeeded", output=None, routed_to=["b"], usage={"tokens": 3},
                   finished_at=T1, duration_ms=1.5, truncated=True),
             _step(2, listener="b", status="succeeded", output={"x": None}, finished_at=T1)],
        ),
        "cancelled": (_execution(b_status="succeeded", b_outputs={"late": 1}, **FINAL), []),
        "late_running": (_execution(b_status="failed", b_error="boom", b_reason="http_error",
                                    **FINAL), []),
        "fails": (
            _execution(b_status="failed", b_error="boom", b_reason="http_error", **FINAL),
            [_step(1, status="failed", error="boom", reason="http_error", finished_at=T1)],
        ),
    },
    {
        "late_running": (_execution(b_status="running", b_last_event_at=T0), []),
        "fails": (_execution(b_status="failed", b_error="other", **FINAL),
                  [_step(1, listener="z", handler="other", input={"m": 1})]),
    },
]  # fmt: skip


def _run(connection: Connection) -> None:
    connection.execute(
        text("CREATE TEMP TABLE executions (LIKE public.executions INCLUDING ALL) ON COMMIT DROP")
    )
    connection.execute(text(
        "CREATE TEMP TABLE execution_steps (LIKE public.execution_steps INCLUDING ALL)"
        " ON COMMIT DROP"
    ))  # fmt: skip
    for path in ("row", "batch"):
        for scenario in SCENARIOS:
            status = "cancelled" if scenario == "cancelled" else "queued"
            connection.execute(
                text(
                    "INSERT INTO executions (id, tenant_id, flow_id, status, trigger,"
                    " trigger_kind, target, input_truncated, outputs_truncated, steps,"
                    " created_at) VALUES (:id, 't', 'f', :status, 'in', 'webhook', 'a', false,"
                    " false, 0, :at)"
                ),
                {"id": f"{path}-{scenario}", "status": status, "at": T0},
            )
    for round_ in ROUNDS:
        for path in ("row", "batch"):
            executions = [
                row | {"b_id": f"{path}-{scenario}"} for scenario, (row, _) in round_.items()
            ]
            steps = [
                step | {"execution_id": f"{path}-{scenario}"}
                for scenario, (_, scenario_steps) in round_.items()
                for step in scenario_steps
            ]
            if path == "row":
                execute_many(connection, _step_upsert("postgresql"), steps)
                execute_many(connection, EXECUTION_UPDATE, executions)
            else:
                upsert_steps(connection, steps)
                update_executions(connection, executions)
    tables = {}
    for path in ("row", "batch"):
        executions = connection.execute(
            text(
                "SELECT substr(id, length(:path) + 2), status, outputs::text, outputs_truncated,"
                " error, reason, steps, duration_ms, started_at, first_step_at, finished_at,"
                " usage::text, last_event_at FROM executions WHERE id LIKE :path || '-%'"
                " ORDER BY id"
            ),
            {"path": path},
        ).all()
        steps = connection.execute(
            text(
                "SELECT substr(execution_id, length(:path) + 2), step, listener, handler, status,"
                " input::text, output::text, truncated, routed_to::text, error, reason,"
                " usage::text, started_at, finished_at, duration_ms FROM execution_steps"
                " WHERE execution_id LIKE :path || '-%' ORDER BY execution_id, step"
            ),
            {"path": path},
        ).all()
        tables[path] = (executions, steps)
    assert tables["batch"] == tables["row"]
    executions, steps = tables["batch"]
    by_scenario = {row[0]: row for row in executions}
    assert by_scenario["succeeds"][1:3] == ("succeeded", '{"out":{"ok":true}}')
    assert by_scenario["cancelled"][1:3] == ("cancelled", None)
    assert by_scenario["late_running"][1] == "failed"
    assert by_scenario["fails"][4:6] == ("other", None)  # a later end replaces the columns
    assert len(steps) == 5
    first = next(step for step in steps if step[0] == "succeeds" and step[1] == 1)
    assert first[2:5] == ("a", "builtin.http", "succeeded") and first[7] is True
    assert first[5] == '{"n":[1,2.5,"é"]}' and first[6] is None and first[8] == '["b"]'


async def test_the_batch_statements_write_what_the_row_statements_write(
    postgres_database_url: str,
) -> None:
    engine = create_engine(postgres_database_url)
    try:
        async with engine.connect() as connection, connection.begin():
            await connection.run_sync(_run)
    finally:
        await engine.dispose()
