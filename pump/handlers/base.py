"""What every handler implements, and what it is given."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from pump.organism.models import Listener


class StepError(Exception):
    """A step failed. `reason` is one of the named reasons of pump/README.md."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(slots=True)
class HandlerResult:
    payload: Any
    route: list[str] | None = None  # None: every peer (fan-out)
    usage: dict[str, int] | None = None  # token usage of an LLM call
    conversation: list[dict[str, str]] | None = None  # chat turns kept in the thread buffer
    wait: dict[str, Any] | None = None  # builtin.wait: what the execution now waits for


@dataclass(slots=True)
class ExecutionInfo:
    """The read-only facts about an execution a handler may see."""

    execution_id: str
    trigger: str
    tenant_id: str
    flow_id: str
    started_at: float


class Cancellation:
    """Set when the control plane cancels the execution. Handlers whose work the asyncio
    cancellation cannot stop (a WASM guest in a worker thread) register a hook to stop it."""

    __slots__ = ("hooks", "requested")

    def __init__(self) -> None:
        self.requested = False
        self.hooks: set[Callable[[], None]] = set()

    def cancel(self) -> None:
        self.requested = True
        for hook in list(self.hooks):
            hook()


@dataclass(slots=True)
class StepContext:
    execution: ExecutionInfo
    step: int
    listener: Listener
    thread: list[dict[str, Any]]  # entries of the thread buffer so far (this execution only)
    log: Callable[[str, str], None]  # (level, message) -> a `log` event and a line in ...:logs
    cancellation: Cancellation | None = None

    def execution_view(self) -> dict[str, Any]:
        info = self.execution
        return {
            "id": info.execution_id,
            "trigger": info.trigger,
            "flow_id": info.flow_id,
            "step": self.step,
            "listener": self.listener.name,
            "started_at": info.started_at,
        }

    def template_context(self, payload: Any) -> dict[str, Any]:
        return {"payload": payload, "execution": self.execution_view()}


class Handler(Protocol):
    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult: ...
