"""Request and response bodies of /api/flows."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class FlowWrite(BaseModel):
    """Create (POST) or change (PUT: only the fields sent) a flow.

    Send `organism_yaml` or `canvas_state`; the other is derived. With both, the YAML defines
    the organism and the canvas contributes the layout. `name` and `description` are the
    organism's `organism.name` / `organism.description`; when sent they win over the YAML's."""

    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, examples=["ticket-triage"])
    description: str | None = None
    canvas_state: dict[str, Any] | None = Field(
        default=None, description="React Flow state: {nodes, edges, viewport}"
    )
    organism_yaml: str | None = None
    history_level: Literal["full", "summary", "errors"] | None = Field(
        default=None,
        description="What the history keeps of this flow's executions: `full` (default: every "
        "execution with its steps), `summary` (every execution, without its steps) or `errors` "
        "(failed executions with their steps; succeeded ones are not kept)",
    )


class FlowOut(BaseModel):
    id: str
    name: str
    description: str | None
    canvas_state: dict[str, Any]
    organism_yaml: str = Field(description="The canonical organism (what the pump runs)")
    organism_source: str = Field(
        default="",
        description="The organism YAML as its author last wrote it (comments, quotes, order), "
        "while it still describes this version; otherwise the canonical YAML",
    )
    version: int = Field(description="Number of the current version")
    status: str = Field(description="stopped | starting | running | idle | error | over_plan")
    status_reason: str | None
    history_level: str = Field(description="full | summary | errors")
    webhook_url: str | None = Field(
        description="The flow's full webhook URL (with its secret token) once one is issued"
    )
    webhook_token_known: bool = Field(
        default=False,
        description="false for a token issued before tokens were kept: rotate to see the URL",
    )
    redeploy: str | None = Field(
        default=None,
        description="after a save of a running flow: `applied` (its pump now runs this "
        "version) or why the running pump was kept",
    )
    last_execution: dict[str, Any] | None
    executions_this_month: int
    executions_limit: int | None = Field(description="Monthly executions of the tier; null: no cap")
    created_at: datetime
    updated_at: datetime


class FlowVersionOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    number: int
    content_hash: str
    created_at: datetime


class FlowVersionDetail(FlowVersionOut):
    organism_yaml: str
    canvas_state: dict[str, Any]
