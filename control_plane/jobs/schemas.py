"""Request and response bodies of one-off schedules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MAX_DELAY_SECONDS = 366 * 86_400


class JobIn(BaseModel):
    """Exactly one of `at` (an ISO 8601 time with its zone) or `delay_seconds`."""

    model_config = ConfigDict(extra="forbid")

    at: datetime | None = None
    delay_seconds: float | None = Field(default=None, ge=0, le=MAX_DELAY_SECONDS)
    trigger: str | None = Field(
        default=None, description="trigger of the organism to fire (any kind); default: Run's"
    )
    payload: Any = None
    idempotency_key: str | None = Field(default=None, min_length=1, max_length=255)
    callback_url: str | None = Field(default=None, max_length=2048)
    callback_token: str | None = Field(default=None, max_length=1024)


class JobOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    flow_id: str
    status: str = Field(description="pending | fired | cancelled | failed")
    trigger: str | None
    payload: Any = None
    fire_at: datetime
    idempotency_key: str | None
    callback_url: str | None
    execution_id: str | None = Field(description="the execution it started, once fired")
    error: str | None = Field(description="why it failed (e.g. the flow was stopped)")
    created_at: datetime
    fired_at: datetime | None


class JobPage(BaseModel):
    items: list[JobOut]
