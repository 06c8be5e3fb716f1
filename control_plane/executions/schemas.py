"""Response bodies of the executions API."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from control_plane.json_limits import StoredJson, StoredText
from control_plane.waits.schemas import WaitOut


class ExecutionOut(BaseModel):
    """One execution in a list."""

    id: str
    flow_id: str
    status: str = Field(description="queued | running | waiting | succeeded | failed | cancelled")
    trigger: str = Field(description="The organism trigger that started it")
    trigger_kind: str = Field(description="webhook | manual | schedule | retry")
    retry_of: str | None
    error: StoredText | None
    reason: StoredText | None = Field(
        description="Why it failed, as a name (timeout, handler_error ...)"
    )
    step_count: int
    duration_ms: float | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    waiting_for: WaitOut | None = Field(default=None, description="set while status is waiting")
    rerun_of: str | None = None
    rerun_from_step: int | None = None
    callback_status: str | None = Field(
        default=None, description="pending | delivered | callback_failed (with callback_url)"
    )
    callback_error: StoredText | None = None


class ExecutionPage(BaseModel):
    items: list[ExecutionOut]
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next (older) page")


class StepOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    step: int
    listener: StoredText
    handler: StoredText | None
    status: str = Field(description="running | succeeded | failed")
    input: StoredJson
    output: StoredJson
    truncated: bool = Field(description="input or output was cut at the size cap")
    routed_to: StoredJson
    error: StoredText | None
    reason: StoredText | None
    usage: StoredJson
    started_at: datetime | None
    finished_at: datetime | None
    duration_ms: float | None


class ExecutionDetail(ExecutionOut):
    """An execution with its input, outputs and step timeline."""

    target: str
    input: StoredJson
    input_truncated: bool
    outputs: StoredJson
    outputs_truncated: bool
    usage: StoredJson
    idempotency_key: StoredText | None
    first_step_at: datetime | None
    steps: list[StepOut] = Field(default_factory=list)


class RetryAccepted(BaseModel):
    execution_id: str


class CancelOut(BaseModel):
    execution_id: str
    status: str
    how: str = Field(
        description="never_ran (it was queued), interrupted (it was running: its pump stops it) "
        "or closed_wait (it was waiting)"
    )


class RerunIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    from_step: int = Field(ge=1, le=2**31 - 1, description="the step to begin at (1 = first)")
