"""A flow ready to run: its organism with every listener bound to a handler."""

from __future__ import annotations

from dataclasses import dataclass

from pump.handlers.base import Handler
from pump.handlers.registry import build_handler
from pump.keys import FlowKeys
from pump.organism.models import Listener, Organism
from pump.services import Services
from pump.templating import Redactor
from pump.writer import RedisWriter

PURE_HANDLERS = frozenset({"builtin.transform", "builtin.branch", "builtin.output", "builtin.wait"})


@dataclass(slots=True)
class CompiledListener:
    listener: Listener
    name: str
    handler_name: str
    handler: Handler
    peers: frozenset[str]
    peer_list: list[str]
    is_output: bool
    pure: bool  # a function of the payload: no I/O, never waits


class Flow:
    def __init__(self, organism: Organism, services: Services) -> None:
        self.organism = organism
        self.services = services
        self.keys: FlowKeys = services.keys
        self.writer: RedisWriter = services.writer
        self.secrets = services.secrets
        self.redactor = Redactor(self.secrets)
        self.listeners: dict[str, CompiledListener] = {
            listener.name: CompiledListener(
                listener=listener,
                name=listener.name,
                handler_name=listener.handler,
                handler=build_handler(listener, services),
                peers=frozenset(listener.peers),
                peer_list=list(dict.fromkeys(listener.peers)),
                is_output=listener.handler == "builtin.output",
                pure=listener.handler in PURE_HANDLERS,
            )
            for listener in organism.listeners
        }

    def wasm_references(self) -> list[str]:
        return sorted(
            {
                item.handler
                for item in self.organism.listeners
                if item.handler.startswith(("wasm:", "tool:"))
            }
        )
