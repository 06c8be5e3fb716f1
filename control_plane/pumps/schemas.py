"""Request and response bodies of the pump lifecycle, logs and secrets endpoints."""

from __future__ import annotations

import math
from typing import Any

from pydantic import BaseModel, Field, RootModel

from control_plane.json_limits import storable_text


class LifecycleOut(BaseModel):
    flow_id: str
    desired: str = Field(description="stopped | running: what the owner asked for")
    status: str = Field(description="stopped | starting | running | idle | error")


class HeartbeatOut(BaseModel):
    status: str | None = Field(default=None, description="running | draining | stopped")
    version: str | None = None
    started_at: float | None = Field(default=None, description="Unix time the pump started")
    updated_at: float | None = Field(default=None, description="Unix time of this heartbeat")
    in_flight: int | None = Field(default=None, description="executions running now")
    processed: int | None = Field(default=None, description="executions finished by this pump")
    failed: int | None = None

    @classmethod
    def from_pump(cls, fields: dict[str, Any]) -> HeartbeatOut:
        """The heartbeat hash as the pump wrote it; a pump is untrusted, so every field that
        is not what it should be is left out."""
        return cls(
            status=_short_text(fields.get("status")),
            version=_short_text(fields.get("version")),
            started_at=_finite(fields.get("started_at")),
            updated_at=_finite(fields.get("updated_at")),
            in_flight=_count(fields.get("in_flight")),
            processed=_count(fields.get("processed")),
            failed=_count(fields.get("failed")),
        )


def _short_text(value: Any) -> str | None:
    return storable_text(str(value), 64) if value not in (None, "") else None


def _finite(value: Any) -> float | None:
    try:
        number = float(value) if value is not None else None
    except (TypeError, ValueError):
        return None
    return number if number is not None and math.isfinite(number) else None


def _count(value: Any) -> int | None:
    text = str(value) if value is not None and not isinstance(value, bool) else ""
    if not (text.isascii() and text.isdigit()) or len(text) > 15:
        return None
    return int(text)


class QueueOut(BaseModel):
    waiting: int = Field(description="triggers on the flow's stream not yet read by its pump")
    in_progress: int = Field(description="triggers the pump has read and not yet finished")
    depth: int = Field(description="waiting + in_progress")
    limit: int = Field(
        description="past this depth new triggers get 429 (max_queued_per_flow of the plan, or "
        "FLOWPLANE_MAX_QUEUED_PER_FLOW)"
    )


class MemoryOut(BaseModel):
    used_bytes: int = Field(description="bytes of project memory the flow holds")
    quota_bytes: int | None = Field(description="the plan's project memory per flow (null: no cap)")


class StatusOut(BaseModel):
    flow_id: str
    desired: str = Field(description="stopped | running")
    observed: str = Field(
        description="what runs now: running | draining | starting | exited | stopped"
    )
    status: str = Field(description="stopped | starting | running | idle | error")
    reason: str | None = Field(description="why the flow is in error (the pump's last output)")
    outdated: bool = Field(
        description="the saved organism differs from the one the pump runs: start again to apply"
    )
    running_version: int | None = Field(
        default=None, description="number of the flow version the pump runs (null: none runs)"
    )
    heartbeat: HeartbeatOut | None
    restarts: dict[str, Any] | None = Field(
        description="recent crashes: {crashes, last_exit, next_restart_at}"
    )
    queue: QueueOut = Field(description="the flow's triggers waiting or running")
    memory: MemoryOut | None = Field(
        default=None, description="project memory use (null: the organism does not use it)"
    )


class SecretsWrite(RootModel[dict[str, str | None]]):
    """{NAME: value} merged into the flow's secrets; a null value deletes that secret."""


class SecretNamesOut(BaseModel):
    names: list[str] = Field(description="the names of the flow's secrets (values are never shown)")
    restart_required: bool = Field(
        default=False, description="the flow runs: start it again for its pump to see the change"
    )


class LogLine(BaseModel):
    """The JSON `data:` of each Server-Sent Event of GET /api/flows/{id}/logs."""

    id: str = Field(description="the Redis stream id, also the SSE `id:` (for Last-Event-ID)")
    ts: float
    level: str
    message: str
    execution_id: str | None = None
    listener: str | None = None
    step: int | None = None
