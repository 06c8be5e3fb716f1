"""Pump events as the recorder may trust them: validated, size-capped, tied to their stream.

Everything in a flow's `...:events` stream was written by that flow's pump, which runs the
tenant's code: it is untrusted input. `parse_event` turns one stream entry into a `RawEvent`
whose every field fits its column and serialises on both databases (no NaN, no lone surrogate,
no NUL in text, no number past its column, nothing deeper than the JSON limits), or into None
when the entry is not an event at all. The flow that owns the stream is carried along, so the
recorder can refuse an event naming another flow's execution (recording.py). `parse_events`
does the same for each event a folded entry carries."""

from __future__ import annotations

import json
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

import orjson

from control_plane.json_limits import MAX_DEPTH, readable, storable_text
from pump.events import unfold

EVENT_TYPES = frozenset(
    {
        "execution.started",
        "step.started",
        "step.completed",
        "step.failed",
        "message.routed",
        "log",
        "execution.completed",
        "execution.failed",
        "execution.waiting",
    }
)
LONG_DIGITS = re.compile(r"\d{19}")
EXECUTION_ID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")
MAX_STEP = 2**31 - 1  # `execution_steps.step` and `executions.steps` are 32-bit columns
MAX_NAME_CHARS = 63  # listener and reason columns
MAX_HANDLER_CHARS = 255
MAX_ERROR_CHARS = 16_384
MAX_ROUTES = 1_000
MAX_USAGE_KEYS = 32
# Dates the database columns hold on both dialects: 1970 .. 9999.
MIN_TS, MAX_TS = 0.0, 253_402_300_799.0


@dataclass(frozen=True)
class StreamOwner:
    """The flow whose events stream an entry was read from."""

    tenant_id: str
    flow_id: str


@dataclass(frozen=True)
class RawEvent:
    type: str
    execution_id: str
    ts: float
    step: int | None
    listener: str | None
    data: dict[str, Any]
    owner: StreamOwner | None = None
    oversized: int = 0  # bytes of a `data` field too large to parse (0: parsed)
    preview: str = field(default="", repr=False)  # its first bytes, for the truncated value


def parse_events(
    fields: dict[str, str], owner: StreamOwner | None = None, max_data_bytes: int = 2**20
) -> list[RawEvent]:
    """The validated events of a stream entry, a folded one's too (`pump.events.unfold`)."""
    return [
        event
        for one in unfold(fields)
        if (event := parse_event(one, owner, max_data_bytes)) is not None
    ]


def parse_event(
    fields: dict[str, str], owner: StreamOwner | None = None, max_data_bytes: int = 2**20
) -> RawEvent | None:
    """The validated event of a stream entry, or None for an entry that is not one."""
    kind = fields.get("type")
    execution_id = fields.get("execution_id", "")
    if kind not in EVENT_TYPES or not EXECUTION_ID.match(execution_id):
        return None
    step = _step(fields.get("step"))
    if kind.startswith("step.") and step is None:
        return None
    raw = fields.get("data", "{}")
    oversized, preview = 0, ""
    data: dict[str, Any] | None = {}
    if len(raw) > max_data_bytes:
        oversized, preview = len(raw.encode("utf-8", "replace")), raw[:max_data_bytes]
    else:
        data = _data(raw)
    if data is None:
        return None
    listener = fields.get("listener")
    return RawEvent(
        type=kind,
        execution_id=execution_id,
        ts=_ts(fields.get("ts")),
        step=step,
        listener=storable_text(listener, MAX_NAME_CHARS) if listener else None,
        data=data,
        owner=owner,
        oversized=oversized,
        preview=preview,
    )


def text_field(value: Any, max_chars: int) -> str | None:
    if value is None:
        return None
    return storable_text(value if isinstance(value, str) else str(readable(value)), max_chars)


def count_field(value: Any) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= MAX_STEP:
        return value
    return 0


def duration_field(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
        return number if math.isfinite(number) and 0 <= number < 1e15 else None
    return None


def routes_field(value: Any) -> list[str] | None:
    if not isinstance(value, list):
        return None
    return [
        storable_text(item, MAX_NAME_CHARS) for item in value[:MAX_ROUTES] if isinstance(item, str)
    ]


def usage_field(value: Any) -> dict[str, float | int] | None:
    if not isinstance(value, dict):
        return None
    usage: dict[str, float | int] = {}
    for key, number in list(value.items())[:MAX_USAGE_KEYS]:
        if isinstance(number, bool) or not isinstance(number, int | float):
            continue
        if isinstance(number, float) and not math.isfinite(number):
            continue
        if isinstance(number, int) and abs(number) > 2**53:
            continue
        usage[storable_text(str(key), MAX_NAME_CHARS)] = number
    return usage


def _data(raw: str) -> dict[str, Any] | None:
    # Fast path: what orjson accepts holds no lone surrogate and no non-finite number, so
    # with no more brackets than MAX_DEPTH (it cannot nest deeper) it is readable as it is;
    # orjson reads integers past 64 bits as floats, so a run of 19 digits takes the tolerant
    # path (json + readable), as does anything orjson refuses.
    if raw.count("[") + raw.count("{") <= MAX_DEPTH and not LONG_DIGITS.search(raw):
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError:
            pass
        else:
            return value if isinstance(value, dict) else {}
    try:
        value = json.loads(raw)
    except (ValueError, RecursionError):
        return None
    return readable(value) if isinstance(value, dict) else {}


def _step(value: str | None) -> int | None:
    if value is None or not (value.isascii() and value.isdigit()) or len(value) > 10:
        return None
    number = int(value)
    return number if 1 <= number <= MAX_STEP else None


def _ts(value: str | None) -> float:
    try:
        moment = float(value) if value is not None else time.time()
    except ValueError:
        return time.time()
    return moment if math.isfinite(moment) and MIN_TS < moment < MAX_TS else time.time()
