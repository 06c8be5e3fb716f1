"""The event schema written by the pump to `...:events` and the trigger entry schema the control
plane writes to `...:triggers`. Both sides encode and decode only through this module."""

from __future__ import annotations

import json
import time
from typing import Any, Literal

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
        fields["data"] = json.dumps(self.data, separators=(",", ":"), default=str)
        return fields

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
    fields["data"] = _COMPACT.encode(data)
    return fields


# json.dumps builds a new encoder per call when given options; Event.encode's options, once
_COMPACT = json.JSONEncoder(separators=(",", ":"), default=str)


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
