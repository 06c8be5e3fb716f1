"""builtin.memory: get, set or delete one entry of the flow's project memory."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pump.handlers.base import HandlerResult, StepContext
from pump.handlers.core import render_or_fail
from pump.memory import ProjectMemory
from pump.organism.models import MemoryConfig


class MemoryHandler:
    """`get` adds `{memory: value}` to the payload (an object payload is merged into, any other
    payload is kept under `payload`); `set` and `delete` pass the payload on unchanged."""

    def __init__(
        self, config: MemoryConfig, memory: ProjectMemory, secrets: Mapping[str, str]
    ) -> None:
        self._config = config
        self._memory = memory
        self._secrets = secrets

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        scope = context.template_context(payload)
        key = render_or_fail(self._config.key, scope, self._secrets)
        if self._config.op == "get":
            value = await self._memory.get(key)
            if isinstance(payload, dict):
                return HandlerResult({**payload, "memory": value})
            return HandlerResult({"payload": payload, "memory": value})
        if self._config.op == "set":
            value = render_or_fail(self._config.value, scope, self._secrets)
            await self._memory.set(key, value)
        else:
            await self._memory.delete(key)
        return HandlerResult(payload)
