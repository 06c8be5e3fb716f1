"""Request and response bodies of /api/organism."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from control_plane.json_limits import StoredJson


class ProblemOut(BaseModel):
    path: str = Field(description="YAML path (listeners[2].peers[0]) or canvas path")
    message: str
    line: int | None = None
    column: int | None = None
    node_id: str | None = Field(default=None, description="The canvas node the problem is on")


class CompileRequest(BaseModel):
    canvas: dict[str, Any] = Field(description="React Flow state: {nodes, edges, viewport}")
    name: str | None = Field(default=None, description="organism.name (default: 'untitled')")
    description: str | None = None


class CompileResponse(BaseModel):
    yaml: str | None = Field(
        description="Canonical organism YAML; null when the canvas is not an organism at all"
    )
    problems: list[ProblemOut]


class ParseRequest(BaseModel):
    yaml: str
    canvas: dict[str, Any] | None = Field(
        default=None, description="The current canvas, whose positions and viewport are kept"
    )


class ParseResponse(BaseModel):
    canvas: dict[str, Any] | None = Field(
        description="The canvas; null when the YAML is not an organism at all"
    )
    problems: list[ProblemOut]


class EvaluateRequest(BaseModel):
    """A JMESPath expression (or a `{{ }}` template) and the data to evaluate it on."""

    expression: str = Field(max_length=4096, description="JMESPath, or a template when template")
    payload: StoredJson = Field(default=None, description="the payload, e.g. a node's last input")
    template: bool = Field(default=False, description="the text is a template with {{ }} parts")


class EvaluateResponse(BaseModel):
    value: StoredJson = None
    error: str | None = Field(default=None, description="why the expression cannot be evaluated")
