"""Request and response bodies of /api/triggers and the webhook token rotation."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from control_plane.json_limits import StoredJson, StoredText


class TriggerAccepted(BaseModel):
    execution_id: str


class InjectRequest(BaseModel):
    """The Run button. Without `payload`, the trigger's own payload (or `{}`) is used."""

    model_config = ConfigDict(extra="forbid")

    payload: Any = None
    trigger: str | None = Field(
        default=None,
        description="Trigger of the organism to run (any kind); default: the first manual one",
    )
    callback_url: str | None = Field(
        default=None,
        max_length=2048,
        description="POSTed the signed result when the execution ends (callbacks/README.md)",
    )
    callback_token: str | None = Field(
        default=None, max_length=1024, description="sent as 'Authorization: Bearer' with it"
    )


class RunResult(BaseModel):
    """`?wait=true`: the execution's result, or its status when the wait ended first."""

    execution_id: str
    status: str = Field(description="succeeded | failed, or queued | running after the wait")
    outputs: StoredJson = None
    error: StoredText | None = None
    reason: StoredText | None = None


class WebhookIssued(BaseModel):
    url: str = Field(description="The webhook URL including its secret token")
    token: str = Field(
        description="The secret token (kept encrypted; GET /api/flows/{id} shows it)"
    )
