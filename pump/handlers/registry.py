"""Handlers by reference: `builtin.<name>`, `wasm:<module>@<version>`, `tool:<listing>@<version>`.
An organism can never name Python code: anything else is refused (see `build_handler`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pydantic import ValidationError

from pump.handlers.base import Handler
from pump.handlers.core import BranchHandler, OutputHandler, TransformHandler
from pump.handlers.memory import MemoryHandler
from pump.organism.models import (
    TOOL_REFERENCE,
    WASM_REFERENCE,
    BranchConfig,
    HttpConfig,
    Listener,
    LlmConfig,
    MemoryConfig,
    OutputConfig,
    TransformConfig,
    WaitConfig,
)

if TYPE_CHECKING:
    from pump.services import Services


class HandlerConfigError(ValueError):
    """A listener's handler or config cannot be used; the message names the listener."""


def build_handler(listener: Listener, services: Services) -> Handler:
    reference = listener.handler
    try:
        return _build(listener, services)
    except ValidationError as error:
        raise HandlerConfigError(
            f"listeners[{listener.name}].config is invalid for {reference}: {error}"
        ) from error


def _build(listener: Listener, services: Services) -> Handler:
    reference = listener.handler
    config = listener.config
    secrets = services.secrets
    if reference == "builtin.transform":
        return TransformHandler(TransformConfig.model_validate(config), secrets)
    if reference == "builtin.branch":
        return BranchHandler(BranchConfig.model_validate(config))
    if reference == "builtin.output":
        return OutputHandler(OutputConfig.model_validate(config))
    if reference == "builtin.wait":
        from pump.handlers.wait import WaitHandler

        return WaitHandler(WaitConfig.model_validate(config), secrets)
    # http, llm and wasm handlers are imported on first use (see pump.services)
    if reference == "builtin.http":
        from pump.handlers.http import HttpHandler

        return HttpHandler(HttpConfig.model_validate(config), services.http, secrets)
    if reference == "builtin.llm":
        from pump.handlers.llm import LlmHandler

        return LlmHandler(LlmConfig.model_validate(config), listener, services.http, secrets)
    if reference == "builtin.memory":
        return MemoryHandler(MemoryConfig.model_validate(config), services.memory, secrets)
    if WASM_REFERENCE.match(reference) or TOOL_REFERENCE.match(reference):
        from pump.handlers.wasm import WasmHandler

        grants = services.grants_for(reference)
        return WasmHandler(
            listener,
            services.modules,
            services.wasm_executor,
            services.memory,
            services.http if "http_fetch" in grants else None,
            grants,
            secrets,
            services.hosts_for(reference),
        )
    raise HandlerConfigError(
        f"listeners[{listener.name}].handler {reference!r} is not builtin.*, wasm: or tool:"
    )
