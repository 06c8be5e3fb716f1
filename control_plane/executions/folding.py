"""Folding a batch of pump events in memory: per execution the columns its events set (an
execution that started and finished within the batch costs one UPDATE), per step the values
of its row. Pure: recording.py reads and writes."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from control_plane.executions.events import (
    MAX_ERROR_CHARS,
    MAX_HANDLER_CHARS,
    MAX_NAME_CHARS,
    RawEvent,
    count_field,
    duration_field,
    routes_field,
    text_field,
    usage_field,
)
from control_plane.executions.models import FINAL_STATUSES
from control_plane.executions.storage import bounded_json


@dataclass(frozen=True)
class Caps:
    outputs_max_bytes: int
    step_max_bytes: int


@dataclass
class ExecutionPatch:
    status: str | None = None
    started_at: datetime | None = None
    first_step_at: datetime | None = None
    final: dict[str, Any] | None = None  # columns set by execution.completed / .failed
    last_event_at: datetime | None = None
    waits: list[RawEvent] = field(default_factory=list)  # execution.waiting events


@dataclass
class StepPatch:
    values: dict[str, Any] = field(default_factory=dict)


def _moment(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def fold(
    events: list[RawEvent], caps: Caps
) -> tuple[dict[str, ExecutionPatch], dict[tuple[str, int], StepPatch], int]:
    executions: dict[str, ExecutionPatch] = {}
    steps: dict[tuple[str, int], StepPatch] = {}
    messages = 0
    for event in events:
        patch = executions.setdefault(event.execution_id, ExecutionPatch())
        moment = _moment(event.ts)
        patch.last_event_at = max(patch.last_event_at or moment, moment)
        if event.type == "execution.waiting":
            patch.waits.append(event)
            if patch.status not in FINAL_STATUSES:
                patch.status = "waiting"
            if event.step is not None:  # the wait step shows as waiting until it resumes
                steps.setdefault((event.execution_id, event.step), StepPatch()).values["status"] = (
                    "waiting"
                )
        elif event.type == "execution.started":
            patch.started_at = patch.started_at or moment
            if patch.status not in FINAL_STATUSES:
                patch.status = "running"
        elif event.type in ("execution.completed", "execution.failed"):
            patch.status = "succeeded" if event.type == "execution.completed" else "failed"
            patch.final = _final_columns(event, moment, caps)
        elif event.type.startswith("step.") and event.step is not None:
            step = steps.setdefault((event.execution_id, event.step), StepPatch())
            if event.type == "step.started":
                messages += 1
                patch.first_step_at = patch.first_step_at or moment
                if patch.status is None:
                    patch.status = "running"
            _fold_step(step, event, moment, caps)
    return executions, steps, messages


def _final_columns(event: RawEvent, moment: datetime, caps: Caps) -> dict[str, Any]:
    data = event.data
    outputs, truncated = (None, False)
    if event.type == "execution.completed":
        outputs, truncated = _bounded(event, "outputs", caps.outputs_max_bytes, default=[])
    return {
        "outputs": outputs,
        "outputs_truncated": truncated,
        "error": text_field(data.get("error"), MAX_ERROR_CHARS),
        "reason": text_field(data.get("reason"), MAX_NAME_CHARS),
        "steps": count_field(data.get("steps")),
        "duration_ms": duration_field(data.get("duration_ms")),
        "finished_at": moment,
    }


def _bounded(event: RawEvent, key: str, max_bytes: int, default: Any = None) -> tuple[Any, bool]:
    """The event's JSON value under `key` within `max_bytes` (a preview past it)."""
    if event.oversized:
        preview = event.preview.encode()[:max_bytes].decode("utf-8", errors="ignore")
        return {"_truncated": True, "_bytes": event.oversized, "preview": preview}, True
    return bounded_json(event.data.get(key, default), max_bytes)


def _fold_step(step: StepPatch, event: RawEvent, moment: datetime, caps: Caps) -> None:
    values, data = step.values, event.data
    if event.listener is not None:
        values["listener"] = event.listener
    if event.type == "step.started":
        values.setdefault("status", "running")
        values["started_at"] = values.get("started_at") or moment
        values["handler"] = text_field(data.get("handler"), MAX_HANDLER_CHARS)
        values["input"], truncated = _bounded(event, "input", caps.step_max_bytes)
    elif event.type == "step.completed":
        values["status"] = "succeeded"
        values["output"], truncated = _bounded(event, "output", caps.step_max_bytes)
        values["routed_to"] = routes_field(data.get("routed_to"))
        values["usage"] = usage_field(data.get("usage"))
    else:  # step.failed
        values["status"] = "failed"
        values["error"] = text_field(data.get("error"), MAX_ERROR_CHARS)
        values["reason"] = text_field(data.get("reason"), MAX_NAME_CHARS)
        truncated = False
    values["truncated"] = bool(values.get("truncated")) or truncated
    if event.type != "step.started":
        values["finished_at"] = moment
        values["duration_ms"] = duration_field(data.get("duration_ms"))
