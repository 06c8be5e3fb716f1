"""Bodies of the callback settings API."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class CallbackSettings(BaseModel):
    signing_secret: str = Field(
        description="HMAC-SHA256 key of the Flowplane-Signature header (t=...,v1=...)"
    )
    failure_url: str | None = Field(description="called for every failed execution")
    replay_window_seconds: int


class CallbackSettingsIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    failure_url: str | None = Field(default=None, max_length=2048)
