"""Names shared by the WASM runtime, its host calls and the WASM handler."""

from __future__ import annotations

from dataclasses import dataclass


class InvocationFailure(Exception):
    """An invocation failed; `reason` is a named reason (pump/README.md)."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass(frozen=True)
class WasmLimits:
    fuel: int
    memory_bytes: int
    timeout_seconds: float


# status codes of flowplane.memory_set
MEMORY_OK = 0
MEMORY_DISABLED = 1
MEMORY_QUOTA_EXCEEDED = 2
MEMORY_INVALID = 3
# flowplane.memory_get returns this (an i64 < 0) when the flow may not use project memory
MEMORY_GET_DISABLED = -1
# flowplane.log levels
LOG_LEVEL_NAMES = ("debug", "info", "warning", "error")
