"""Request and response bodies of samples, starters and flow files."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from control_plane.json_limits import StoredJson


class SampleWrite(BaseModel):
    model_config = ConfigDict(extra="forbid")

    payload: Any = Field(description="the JSON payload Run sends")


class SampleOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    name: str
    payload: StoredJson
    updated_at: datetime


class StarterOut(BaseModel):
    id: str
    title: str
    description: str
    organism_yaml: str


class FlowImport(BaseModel):
    """A flow file (`GET /api/flows/{id}/export`, or any organism YAML) becomes a new flow."""

    model_config = ConfigDict(extra="forbid")

    file: str = Field(description="the file's text", max_length=3 * 1024 * 1024)
    name: str | None = Field(default=None, description="the new flow's name (default: the file's)")
