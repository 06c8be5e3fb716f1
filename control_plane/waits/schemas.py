"""Request and response bodies of the waits API."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class WaitOut(BaseModel):
    """What a waiting execution waits for."""

    model_config = ConfigDict(from_attributes=True)

    kind: str = Field(description="timer | event | approval")
    listener: str
    step: int
    topic: str | None = None
    correlation_id: str | None = None
    message: str | None = None
    fire_at: datetime | None = Field(default=None, description="when a timer fires")
    timeout_at: datetime | None = None
    on_timeout: str | None = None


MAX_KEEP_SECONDS = 7 * 24 * 3600


class EventIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    correlation_id: str = Field(min_length=1, max_length=255)
    payload: Any = None
    keep_seconds: int = Field(
        default=0,
        ge=0,
        le=MAX_KEEP_SECONDS,
        description="when no execution is waiting for it yet, keep the event this long: the "
        "first wait for its (topic, correlation_id) that parks meanwhile resumes with it "
        "(0: an event nobody waits for is dropped)",
    )


class EventAccepted(BaseModel):
    resumed: list[str] = Field(description="ids of the executions this event resumed")
    kept_until: datetime | None = Field(
        default=None, description="set when nobody waited and the event was kept (keep_seconds)"
    )


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = None


class DecisionOut(BaseModel):
    execution_id: str
    decision: str = Field(description="approved | rejected")


class EventToken(BaseModel):
    token: str = Field(description="shown once; send it as X-Event-Token")
