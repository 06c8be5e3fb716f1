"""A waiting execution's continuation (builtin.wait, DESIGN.md §4).

A wait step ends the pump's run of the execution: `Parked` carries the step out of the routing
loop, and the `execution.waiting` event carries the continuation (messages still queued, visit
counts, steps, outputs, thread buffer) to the control plane, which keeps it. The resume entry
brings it back; the pump holds nothing in between."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import Any

from pump.flow import CompiledListener


class Parked(Exception):
    """A `builtin.wait` step: the execution stops here and is resumed by the control plane."""

    def __init__(self, step: int, listener: str, payload: Any, wait: dict[str, Any]) -> None:
        super().__init__(listener)
        self.step = step
        self.listener = listener
        self.payload = payload
        self.wait = wait


@dataclass
class Continuation:
    queue: deque[tuple[str, Any]]
    visits: dict[str, int]
    steps: int
    outputs: list[Any]
    thread: list[dict[str, Any]]

    def waiting_data(self, parked: Parked, duration_ms: float) -> dict[str, Any]:
        """The data of the `execution.waiting` event."""
        return {
            "step": parked.step,
            "listener": parked.listener,
            "input": parked.payload,
            "wait": parked.wait,
            "continuation": {
                "queue": [[target, payload] for target, payload in self.queue],
                "visits": self.visits,
                "steps": self.steps,
                "outputs": self.outputs,
                "thread": self.thread,
            },
            "steps": self.steps,
            "duration_ms": duration_ms,
        }

    @classmethod
    def of_resume(cls, resume: dict[str, Any]) -> Continuation:
        raw = resume.get("continuation") or {}
        return cls(
            queue=deque((str(target), payload) for target, payload in raw.get("queue") or []),
            visits={str(name): int(count) for name, count in (raw.get("visits") or {}).items()},
            steps=int(raw.get("steps") or resume.get("step") or 0),
            outputs=list(raw.get("outputs") or []),
            thread=list(raw.get("thread") or []),
        )


def wait_route(compiled: CompiledListener, outcome: str) -> list[str] | None:
    """Where a resumed wait step's result goes: its peers but `on_timeout`, or after a timeout
    `on_timeout` alone (None: a timeout with nowhere to go)."""
    on_timeout = compiled.listener.config.get("on_timeout")
    if outcome == "timeout":
        return [str(on_timeout)] if on_timeout else None
    return [peer for peer in compiled.peer_list if peer != on_timeout]
