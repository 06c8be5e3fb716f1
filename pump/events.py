"""The event schema written by the pump to `...:events` and the trigger entry schema the control
plane writes to `...:triggers`. Both sides encode and decode only through this module."""

from __future__ import annotations

import contextlib
import json
import time
from typing import Any, Literal

import orjson
from pydantic import BaseModel, Field

EventType = Literal[
    "execution.started",
    "step.started",
    "step.completed",
    "step.failed",
    "message.routed",
    "log",
    "execution.completed",
    "execution.failed",
    "execution.waiting",
]
FINAL_EVENT_TYPES: frozenset[str] = frozenset({"execution.completed", "execution.failed"})
# The pump's part of an execution ends with one of these (a waiting one is resumed later by a
# new trigger entry carrying `resume`).
SEGMENT_END_TYPES: frozenset[str] = FINAL_EVENT_TYPES | {"execution.waiting"}


class Event(BaseModel):
    type: EventType
    execution_id: str
    ts: float = Field(default_factory=time.time)
    step: int | None = None
    listener: str | None = None
    data: dict[str, Any] = Field(default_factory=dict)

    def encode(self) -> dict[str, str]:
        fields = {"type": self.type, "execution_id": self.execution_id, "ts": repr(self.ts)}
        if self.step is not None:
            fields["step"] = str(self.step)
        if self.listener is not None:
            fields["listener"] = self.listener
        fields["data"] = encode_data(self.data)
        return fields

    @classmethod
    def decode_all(cls, fields: dict[str, str] | dict[bytes, bytes]) -> list[Event]:
        """Every event of a stream entry, a folded one included (`unfold`)."""
        return [
            cls.decode(event) for event in unfold({_text(k): _text(v) for k, v in fields.items()})
        ]

    @classmethod
    def decode(cls, fields: dict[str, str] | dict[bytes, bytes]) -> Event:
        text = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            type=text["type"],
            execution_id=text["execution_id"],
            ts=float(text["ts"]),
            step=int(text["step"]) if "step" in text else None,
            listener=text.get("listener"),
            data=json.loads(text.get("data", "{}")),
        )


def encode_event(
    type: EventType,
    execution_id: str,
    data: dict[str, Any],
    *,
    step: int | None = None,
    listener: str | None = None,
    ts: float | None = None,
) -> dict[str, str]:
    """The stream fields of `Event(...).encode()`, built without model validation (the pump's
    hot path writes about ten events per execution)."""
    fields = {
        "type": type,
        "execution_id": execution_id,
        "ts": repr(time.time() if ts is None else ts),
    }
    if step is not None:
        fields["step"] = str(step)
    if listener is not None:
        fields["listener"] = listener
    fields["data"] = encode_data(data)
    return fields


# json.dumps builds a new encoder per call when given options; Event.encode's options, once
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)

# A folded entry carries the events an execution emitted before its own (see `fold_events`).
FOLDED_FIELD = "folded"
FOLDED_DATA_PREFIX = "data."
MAX_FOLDED = 64  # earlier events one entry may carry
MAX_FOLDED_CHARS = MAX_FOLDED * 1024  # their headers: a longer `folded` is not read at all


# What orjson would write otherwise than `default=str`: handed to `default`, like the stdlib's
_ORJSON_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def encode_data(data: dict[str, Any]) -> str:
    """`_COMPACT.encode(data)`'s JSON, written by orjson where that reads back the same (the
    stdlib's encoder was 5-6 % of the pump's CPU). orjson refuses integers past 64 bits,
    non-string keys and lone surrogates, and writes NaN and infinities as null: text with a
    null in it is written again by the stdlib, which keeps them."""
    try:
        text = orjson.dumps(data, default=str, option=_ORJSON_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError
        return _COMPACT.encode(data)
    return _COMPACT.encode(data) if b"null" in text else text.decode()


# (type, ts, step, listener, data) of an emitted event, each already as its stream text
HeldEvent = tuple[str, str, str | None, str | None, str]


def fold_events(execution_id: str, held: list[HeldEvent]) -> dict[str, str]:
    """One stream entry for consecutive events of one execution: the last event's own fields,
    plus `folded`, the earlier events' `[type, ts, step, listener]` as a JSON list, and the
    data of the i-th of them in `data.<i>`. Readers unfold it with `unfold`; one that reads
    only the entry's own fields sees the last event (the final one at a segment end)."""
    *earlier, (type, ts, step, listener, data) = held
    fields = {"type": type, "execution_id": execution_id, "ts": ts}
    if step is not None:
        fields["step"] = step
    if listener is not None:
        fields["listener"] = listener
    fields["data"] = data
    if earlier:
        fields[FOLDED_FIELD] = _compact_headers([event[:4] for event in earlier])
        for index, event in enumerate(earlier):
            fields[f"{FOLDED_DATA_PREFIX}{index}"] = event[4]
    return fields


def _compact_headers(headers: list[tuple[str, str, str | None, str | None]]) -> str:
    try:  # texts and nulls: orjson writes the stdlib's values unless a text holds a lone surrogate
        return orjson.dumps(headers).decode()
    except TypeError:
        return _COMPACT.encode(headers)


def unfold(fields: dict[str, str]) -> list[dict[str, str]]:
    """The events of one stream entry, oldest first, each as the fields of a plain entry.
    The entry is untrusted: a folded event whose header is not four texts (step and listener
    may be null) is left out, and so is all of `folded` when it is not a JSON list or is longer
    than `MAX_FOLDED_CHARS`."""
    folded = fields.get(FOLDED_FIELD)
    if folded is None:
        return [fields]
    headers = None
    if len(folded) <= MAX_FOLDED_CHARS:
        with contextlib.suppress(ValueError, RecursionError):
            headers = json.loads(folded)
    events: list[dict[str, str]] = []
    execution_id = fields.get("execution_id", "")
    for index, header in enumerate(headers[:MAX_FOLDED] if isinstance(headers, list) else ()):
        if not _is_header(header):
            continue
        type, ts, step, listener = header
        event = {"type": type, "execution_id": execution_id, "ts": ts}
        if step is not None:
            event["step"] = step
        if listener is not None:
            event["listener"] = listener
        event["data"] = fields.get(f"{FOLDED_DATA_PREFIX}{index}", "{}")
        events.append(event)
    events.append(fields)
    return events


def _is_header(header: Any) -> bool:
    return (
        isinstance(header, list)
        and len(header) == 4
        and isinstance(header[0], str)
        and isinstance(header[1], str)
        and all(part is None or isinstance(part, str) for part in header[2:])
    )


class TriggerEntry(BaseModel):
    """One entry of a flow's trigger stream: inject `payload` into `target`. With `resume`
    (`Resume`), continue a waiting execution instead: `target` is the wait's listener and
    `payload` the wait step's result (the event's payload, or its input)."""

    execution_id: str
    trigger: str  # trigger name from the organism, or "manual"
    target: str
    payload: Any = None
    enqueued_at: float = Field(default_factory=time.time)
    resume: dict[str, Any] | None = None

    @property
    def run_key(self) -> str:
        """Names this entry's run in the pump's finished markers: a resumed execution's run is
        another run than its first one."""
        wait_id = (self.resume or {}).get("wait_id")
        return f"{self.execution_id}.{wait_id}" if wait_id else self.execution_id

    def encode(self) -> dict[str, str]:
        fields = {
            "execution_id": self.execution_id,
            "trigger": self.trigger,
            "target": self.target,
            "payload": json.dumps(self.payload, separators=(",", ":")),
            "enqueued_at": repr(self.enqueued_at),
        }
        if self.resume is not None:
            fields["resume"] = json.dumps(self.resume, separators=(",", ":"))
        return fields

    @classmethod
    def decode(cls, fields: dict[str, str] | dict[bytes, bytes]) -> TriggerEntry:
        text = {_text(k): _text(v) for k, v in fields.items()}
        return cls(
            execution_id=text["execution_id"],
            trigger=text["trigger"],
            target=text["target"],
            payload=json.loads(text.get("payload", "null")),
            enqueued_at=float(text.get("enqueued_at", "0")),
            resume=json.loads(text["resume"]) if "resume" in text else None,
        )


def run_key_of(fields: dict[str, str]) -> str:
    """`TriggerEntry.run_key` of raw stream fields (without decoding the payload)."""
    execution_id = fields.get("execution_id", "")
    if "resume" not in fields:
        return execution_id
    try:
        wait_id = json.loads(fields["resume"]).get("wait_id")
    except (ValueError, AttributeError):
        return execution_id
    return f"{execution_id}.{wait_id}" if wait_id else execution_id


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
