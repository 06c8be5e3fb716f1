"""Request and response bodies of /api/flows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

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


class FlowOut(BaseModel):
    id: str
    name: str
    description: str | None
    canvas_state: dict[str, Any]
    organism_yaml: str
    version: int = Field(description="Number of the current version")
    status: str = Field(description="stopped | starting | running | idle | error | over_plan")
    status_reason: str | None
    webhook_url: str | None = Field(
        description="The flow's webhook endpoint (without its secret token) once one is issued"
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
