"""Organism -> YAML, deterministically: fixed key order (DESIGN.md §3), defaults omitted inside
triggers and listeners, every top-level section always present, no anchors, no folding."""

from __future__ import annotations

import hashlib
from typing import Any

import yaml

from pump.organism.models import Listener, Organism, Trigger

_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_NO_FOLDING = 1_000_000_000
_YAML_11_BREAKS = frozenset("\x85\u2028\u2029")


class _FlowList(list[Any]):
    """A list written on one line (`peers: [route, archive]`)."""


class _OrganismDumper(yaml.SafeDumper):
    """SafeDumper with indented block sequences and shared values written out in full."""

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)

    def ignore_aliases(self, data: Any) -> bool:
        return True


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    # PyYAML writes NEL, LS and PS raw in plain and single-quoted scalars, where a reader folds
    # them into spaces; only double quotes escape them. Multi-line text (prompts) reads best as
    # a literal block; PyYAML falls back to quotes by itself when a block cannot hold it.
    if _YAML_11_BREAKS.intersection(data):
        style: str | None = '"'
    else:
        style = "|" if "\n" in data else None
    return dumper.represent_scalar(_STR_TAG, data, style=style)


def _represent_flow_list(dumper: yaml.SafeDumper, data: _FlowList) -> yaml.SequenceNode:
    return dumper.represent_sequence(_SEQ_TAG, data, flow_style=True)


_OrganismDumper.add_representer(str, _represent_str)
_OrganismDumper.add_representer(_FlowList, _represent_flow_list)


def number(value: float) -> float | int:
    """30.0 is written as 30 (the models read it back as 30.0)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def trigger_document(trigger: Trigger) -> dict[str, Any]:
    document: dict[str, Any] = {"name": trigger.name, "kind": trigger.kind}
    if trigger.description is not None:
        document["description"] = trigger.description
    if trigger.cron is not None:
        document["cron"] = trigger.cron
    if trigger.timezone is not None:
        document["timezone"] = trigger.timezone
    document["target"] = trigger.target
    if trigger.payload is not None:
        document["payload"] = trigger.payload
    return document


def listener_document(listener: Listener) -> dict[str, Any]:
    document: dict[str, Any] = {"name": listener.name, "handler": listener.handler}
    if listener.description is not None:
        document["description"] = listener.description
    if listener.agent:
        document["agent"] = True
    if listener.peers:
        document["peers"] = _FlowList(listener.peers)
    if listener.on_error is not None:
        document["on_error"] = listener.on_error
    if listener.config:
        document["config"] = listener.config
    if listener.timeout_seconds is not None:
        document["timeout_seconds"] = number(listener.timeout_seconds)
    if listener.max_iterations is not None:
        document["max_iterations"] = listener.max_iterations
    return document


def organism_document(organism: Organism) -> dict[str, Any]:
    """The organism as plain data in emission order."""
    info: dict[str, Any] = {"name": organism.organism.name}
    if organism.organism.description is not None:
        info["description"] = organism.organism.description
    return {
        "version": organism.version,
        "organism": info,
        "triggers": [trigger_document(item) for item in organism.triggers],
        "listeners": [listener_document(item) for item in organism.listeners],
        "memory": {"project": organism.memory.project},
        "limits": {
            "max_steps": organism.limits.max_steps,
            "timeout_seconds": number(organism.limits.timeout_seconds),
        },
    }


def emit_organism(organism: Organism) -> str:
    """Deterministic YAML for `organism`; parse_organism(emit_organism(o)) == o, and emitting
    a parsed emission gives identical text."""
    return yaml.dump(
        organism_document(organism),
        Dumper=_OrganismDumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=_NO_FOLDING,
        indent=2,
    )


def content_hash(yaml_text: str) -> str:
    """sha256 (hex) of the YAML text, as stored with each flow version."""
    return hashlib.sha256(yaml_text.encode("utf-8")).hexdigest()
