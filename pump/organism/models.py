"""Pydantic models of organism v1 (DESIGN.md §3): the contract between canvas, control plane and pump."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SLUG_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,62}$"
NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]{0,62}$"
BUILTIN_HANDLERS = (
    "builtin.transform",
    "builtin.branch",
    "builtin.http",
    "builtin.llm",
    "builtin.output",
    "builtin.memory",
    "builtin.wait",
)
WASM_REFERENCE = re.compile(
    r"^wasm:(?P<module>[a-z0-9][a-z0-9._-]{0,127})@(?P<version>[A-Za-z0-9._+-]{1,64})$"
)
TOOL_REFERENCE = re.compile(
    r"^tool:(?P<listing>[a-z0-9][a-z0-9._/-]{0,127})@(?P<version>[A-Za-z0-9._+-]{1,64})$"
)


class StrictModel(BaseModel):
    """Unknown keys are errors everywhere in the language."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class OrganismInfo(StrictModel):
    name: str = Field(pattern=SLUG_PATTERN)
    description: str | None = None


class Trigger(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    kind: Literal["webhook", "schedule", "manual"]
    target: str
    description: str | None = None
    cron: str | None = None
    timezone: str | None = None
    payload: dict[str, Any] | None = None


class Listener(StrictModel):
    name: str = Field(pattern=NAME_PATTERN)
    handler: str
    description: str | None = None
    agent: bool = False
    peers: list[str] = Field(default_factory=list)
    config: dict[str, Any] = Field(default_factory=dict)
    timeout_seconds: float | None = Field(default=None, gt=0, le=3600)
    max_iterations: int | None = Field(default=None, ge=1, le=100_000)
    on_error: str | None = None


class Memory(StrictModel):
    project: bool = False


class Limits(StrictModel):
    max_steps: int = Field(default=1000, ge=1, le=1_000_000)
    timeout_seconds: float = Field(default=300.0, gt=0, le=86_400)


class Organism(StrictModel):
    version: Literal[1] = 1
    organism: OrganismInfo
    triggers: list[Trigger] = Field(default_factory=list)
    listeners: list[Listener] = Field(default_factory=list)
    memory: Memory = Field(default_factory=Memory)
    limits: Limits = Field(default_factory=Limits)

    def listener(self, name: str) -> Listener | None:
        return next((item for item in self.listeners if item.name == name), None)


# --- handler settings (`config`), one model per built-in handler --------------------------


class TransformConfig(StrictModel):
    """Exactly one of `expression` (JMESPath; its value becomes the payload) or `set`."""

    expression: str | None = None
    set: dict[str, Any] | None = None


class BranchCase(StrictModel):
    when: str
    to: str


class BranchConfig(StrictModel):
    cases: list[BranchCase] = Field(default_factory=list)
    default: str | None = None


class HttpConfig(StrictModel):
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"] = "GET"
    url: str
    headers: dict[str, str] = Field(default_factory=dict)
    json_body: Any = Field(default=None, alias="json")
    body: str | None = None
    timeout_seconds: float = Field(default=30.0, gt=0, le=300)


class LlmConfig(StrictModel):
    provider: Literal["openai", "anthropic"] = "openai"
    base_url: str | None = None
    model: str
    system: str | None = None
    prompt: str
    temperature: float | None = Field(default=None, ge=0, le=2)
    max_tokens: int | None = Field(default=None, ge=1, le=200_000)
    output: Literal["text", "json"] = "text"
    api_key: str | None = None


class OutputConfig(StrictModel):
    expression: str | None = None


class MemoryConfig(StrictModel):
    op: Literal["get", "set", "delete"]
    key: str
    value: Any = None


TOPIC_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$"
MAX_WAIT_SECONDS = 31_536_000  # a year


class WaitConfig(StrictModel):
    """`builtin.wait`: `timer` (`seconds` or `until`, an ISO 8601 time, templated), `event`
    (`topic` and a templated `correlation` id) or `approval` (a templated `message`). The
    execution is parked in the control plane until the condition holds, or `timeout_seconds`
    pass: then it goes to `on_timeout` (one of the peers), else fails with `wait_timeout`."""

    kind: Literal["timer", "event", "approval"]
    seconds: float | None = Field(default=None, ge=0, le=MAX_WAIT_SECONDS)
    until: str | None = None
    topic: str | None = Field(default=None, pattern=TOPIC_PATTERN)
    correlation: str | None = None
    message: str | None = None
    timeout_seconds: float | None = Field(default=None, gt=0, le=MAX_WAIT_SECONDS)
    on_timeout: str | None = None


HANDLER_CONFIGS: dict[str, type[StrictModel]] = {
    "builtin.transform": TransformConfig,
    "builtin.branch": BranchConfig,
    "builtin.http": HttpConfig,
    "builtin.llm": LlmConfig,
    "builtin.output": OutputConfig,
    "builtin.memory": MemoryConfig,
    "builtin.wait": WaitConfig,
}
