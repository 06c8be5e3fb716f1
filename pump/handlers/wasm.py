"""`wasm:<module>@<version>` and `tool:<listing>@<version>` listeners (ABI: pump/README.md)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from concurrent.futures import Executor
from typing import Any

from pump.handlers.base import HandlerResult, StepContext, StepError
from pump.handlers.core import render_or_fail
from pump.memory import ProjectMemory
from pump.netguard import GuardedHttpClient, HostScope
from pump.organism.models import Listener
from pump.templating import has_dynamic_parts
from pump.wasm.abi import InvocationFailure
from pump.wasm.hostcalls import HostContext
from pump.wasm.modules import ModuleStore


class WasmHandler:
    def __init__(
        self,
        listener: Listener,
        modules: ModuleStore,
        executor: Executor,
        memory: ProjectMemory,
        http: GuardedHttpClient | None,
        grants: frozenset[str],
        secrets: Mapping[str, str],
        hosts: HostScope | None = None,
    ) -> None:
        self._reference = listener.handler
        self._config = listener.config
        self._static_config = not has_dynamic_parts(listener.config)
        self._modules = modules
        self._executor = executor
        self._memory = memory
        self._http = http if "http_fetch" in grants else None
        self._grants = grants
        self._secrets = secrets
        self._hosts = hosts

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        try:
            compiled = self._modules.cached(self._reference) or await self._modules.get(
                self._reference
            )
        except InvocationFailure as failure:
            raise StepError(failure.reason, failure.message) from None
        if "http_fetch" in compiled.imports and "http_fetch" not in self._grants:
            raise StepError(
                "capability_not_granted",
                f"{self._reference} imports flowplane.http_fetch, but the capability http_fetch "
                "was not granted to it",
            )
        config = (
            self._config
            if self._static_config
            else render_or_fail(self._config, context.template_context(payload), self._secrets)
        )
        request = json.dumps(
            {"payload": payload, "config": config, "execution": context.execution_view()},
            separators=(",", ":"),
        ).encode()
        loop = asyncio.get_running_loop()
        host = HostContext(
            loop=loop, log=context.log, memory=self._memory, http=self._http, hosts=self._hosts
        )
        cancellation = context.cancellation

        def stop() -> None:
            host.interrupt("cancelled", "the execution was cancelled")

        if cancellation is not None:
            cancellation.hooks.add(stop)
        try:
            raw = await loop.run_in_executor(
                self._executor, self._modules.engine.invoke, compiled, request, host
            )
        except InvocationFailure as failure:
            raise StepError(failure.reason, failure.message) from None
        finally:
            if cancellation is not None:
                cancellation.hooks.discard(stop)
        return interpret_result(raw)


def interpret_result(raw: bytes) -> HandlerResult:
    """The module's JSON result; an object may carry `_to` (a peer or a list of peers) and
    `_error` (a message: the step fails with reason `handler_error`)."""
    try:
        result = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise StepError(
            "invalid_result", f"the module's result is not UTF-8 JSON: {error}"
        ) from None
    if not isinstance(result, dict):
        return HandlerResult(result)
    if "_error" in result:
        raise StepError("handler_error", f"the module reported an error: {result['_error']}")
    if "_to" not in result:
        return HandlerResult(result)
    target = result.pop("_to")
    if isinstance(target, str):
        return HandlerResult(result, route=[target])
    if isinstance(target, list) and all(isinstance(item, str) for item in target):
        return HandlerResult(result, route=target)
    raise StepError(
        "invalid_result", f"`_to` must be a peer name or a list of them, got {target!r}"
    )
