"""Semantic rules of organism v1 (DESIGN.md §3), checked on a structurally valid Organism:
names, references between triggers and listeners, handler references and their settings,
expressions and templates, schedules, and bounded cycles."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter
from pydantic import ValidationError

from pump.organism.expressions import TEMPLATE_PATTERN, ExpressionError, compile_expression
from pump.organism.graph import cyclic_components
from pump.organism.model_errors import validation_problems
from pump.organism.models import (
    BUILTIN_HANDLERS,
    HANDLER_CONFIGS,
    TOOL_REFERENCE,
    WASM_REFERENCE,
    Listener,
    Organism,
    Trigger,
)
from pump.organism.problems import PathParts, Problem, RawProblem, format_path, quoted

CRON_MACROS = frozenset(
    {"@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly"}
)
SECRET_REFERENCE = re.compile(r"\$\{secrets\.[A-Za-z_][A-Za-z0-9_]*\}")
_SECRET_START = re.compile(r"\$\{\s*secrets\b")
# Config values that are JMESPath expressions themselves, not templates.
_EXPRESSION_KEYS = {"builtin.transform": "expression", "builtin.output": "expression"}


def validate_organism(organism: Organism) -> list[Problem]:
    """Every semantic problem of `organism`, each with its YAML path (no line numbers: the
    parser adds them when the organism came from a document)."""
    return [Problem(path=format_path(item.parts), message=item.message) for item in check(organism)]


def check(organism: Organism) -> list[RawProblem]:
    problems: list[RawProblem] = []
    listener_names = _unique_names(
        [item.name for item in organism.listeners], "listeners", "listener", problems
    )
    _unique_names([item.name for item in organism.triggers], "triggers", "trigger", problems)
    for index, trigger in enumerate(organism.triggers):
        problems.extend(_check_trigger(("triggers", index), trigger, listener_names))
    for index, listener in enumerate(organism.listeners):
        problems.extend(_check_listener(("listeners", index), listener, listener_names))
    problems.extend(_check_cycles(organism, listener_names))
    return problems


def _unique_names(
    names: list[str], section: str, noun: str, problems: list[RawProblem]
) -> dict[str, int]:
    first_index: dict[str, int] = {}
    for index, name in enumerate(names):
        if name in first_index:
            where = format_path((section, first_index[name]))
            message = f"{noun} name {quoted(name)} is used twice (first at {where})"
            problems.append(RawProblem((section, index, "name"), message))
        else:
            first_index[name] = index
    return first_index


def _not_a_listener(role: str, name: str) -> str:
    return f"{role} {quoted(name)} is not a listener of this organism"


def cron_problem(cron: str) -> str | None:
    """Why `cron` is not a usable schedule (five fields or a macro such as @daily), or None."""
    text = cron.strip()
    if text.lower() in CRON_MACROS:
        return None
    if len(text.split()) != 5:
        return (
            f"cron {quoted(cron)} must have 5 fields (minute hour day-of-month month "
            "day-of-week) or be a macro such as @daily"
        )
    try:
        croniter(text)
    except (ValueError, KeyError, TypeError) as error:
        return f"cron {quoted(cron)} is not a valid cron expression: {error}"
    return None


def timezone_problem(timezone: str) -> str | None:
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return f"unknown timezone {quoted(timezone)}; use an IANA name such as UTC or Europe/Paris"
    return None


def _check_trigger(
    at: PathParts, trigger: Trigger, listener_names: dict[str, int]
) -> Iterator[RawProblem]:
    if trigger.target not in listener_names:
        yield RawProblem((*at, "target"), _not_a_listener("target", trigger.target))
    if trigger.kind == "schedule":
        if trigger.cron is None:
            message = "a schedule trigger needs a cron expression (for example '0 2 * * *')"
            yield RawProblem((*at, "cron"), message)
        elif (problem := cron_problem(trigger.cron)) is not None:
            yield RawProblem((*at, "cron"), problem)
        if trigger.timezone is not None and (problem := timezone_problem(trigger.timezone)):
            yield RawProblem((*at, "timezone"), problem)
    else:
        if trigger.cron is not None:
            message = f"only schedule triggers have a cron expression (this one is {trigger.kind})"
            yield RawProblem((*at, "cron"), message)
        if trigger.timezone is not None:
            message = f"only schedule triggers have a timezone (this one is {trigger.kind})"
            yield RawProblem((*at, "timezone"), message)


def handler_problem(handler: str) -> str | None:
    """Why `handler` is not a handler reference, or None."""
    if handler.startswith("builtin."):
        if handler in BUILTIN_HANDLERS:
            return None
        return f"unknown built-in handler {quoted(handler)}; known: {', '.join(BUILTIN_HANDLERS)}"
    if handler.startswith("wasm:"):
        if WASM_REFERENCE.match(handler):
            return None
        return f"{quoted(handler)} is not a valid WASM reference; use wasm:<module-id>@<version>"
    if handler.startswith("tool:"):
        if TOOL_REFERENCE.match(handler):
            return None
        return f"{quoted(handler)} is not a valid tool reference; use tool:<listing>@<version>"
    return (
        f"{quoted(handler)} is not a handler reference; use builtin.<name>, "
        "wasm:<module-id>@<version> or tool:<listing>@<version> (never a Python import path)"
    )


def _check_listener(
    at: PathParts, listener: Listener, listener_names: dict[str, int]
) -> Iterator[RawProblem]:
    if (problem := handler_problem(listener.handler)) is not None:
        yield RawProblem((*at, "handler"), problem)
    if listener.agent and listener.handler != "builtin.llm":
        message = "only builtin.llm listeners can be agents (the model chooses the next peer)"
        yield RawProblem((*at, "agent"), message)
    seen: set[str] = set()
    for index, peer in enumerate(listener.peers):
        if peer not in listener_names:
            yield RawProblem((*at, "peers", index), _not_a_listener("peer", peer))
        elif peer in seen:
            yield RawProblem((*at, "peers", index), f"peer {quoted(peer)} is listed twice")
        seen.add(peer)
    if listener.on_error is not None and listener.on_error not in listener_names:
        yield RawProblem((*at, "on_error"), _not_a_listener("on_error", listener.on_error))
    config_at = (*at, "config")
    yield from _check_secrets(config_at, listener.config)
    if listener.handler in HANDLER_CONFIGS:
        yield from _check_builtin_config(config_at, listener, listener_names)


def _strings(value: Any, at: PathParts) -> Iterator[tuple[PathParts, str]]:
    if isinstance(value, str):
        yield at, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from _strings(item, (*at, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*at, index))


def _check_secrets(at: PathParts, config: dict[str, Any]) -> Iterator[RawProblem]:
    for where, text in _strings(config, at):
        for start in _SECRET_START.finditer(text):
            if SECRET_REFERENCE.match(text, start.start()) is None:
                end = text.find("}", start.start())
                shown = text[start.start() : end + 1 if end != -1 else start.start() + 40]
                message = (
                    f"malformed secret reference {quoted(shown)}; write ${{secrets.NAME}} "
                    "with NAME made of letters, digits and '_'"
                )
                yield RawProblem(where, message)


def _expression_problem(at: PathParts, expression: object) -> Iterator[RawProblem]:
    if isinstance(expression, str):
        try:
            compile_expression(expression)
        except ExpressionError as error:
            yield RawProblem(at, str(error))


def _check_templates(at: PathParts, value: Any) -> Iterator[RawProblem]:
    for where, text in _strings(value, at):
        for match in TEMPLATE_PATTERN.finditer(text):
            try:
                compile_expression(match.group(1))
            except ExpressionError as error:
                yield RawProblem(where, f"in template {quoted(match.group(0))}: {error}")


def _check_builtin_config(
    at: PathParts, listener: Listener, listener_names: dict[str, int]
) -> Iterator[RawProblem]:
    handler, config = listener.handler, listener.config
    model = HANDLER_CONFIGS[handler]
    try:
        model.model_validate(config)
    except ValidationError as error:
        yield from validation_problems(error, model, at)
    expression_key = _EXPRESSION_KEYS.get(handler)
    if expression_key is not None:
        yield from _expression_problem((*at, expression_key), config.get(expression_key))
    templated = {key: value for key, value in config.items() if key != expression_key}
    if handler == "builtin.branch":
        templated = {}
        yield from _check_branch(at, listener, listener_names)
    yield from _check_templates(at, templated)
    if handler == "builtin.transform" and None not in (config.get("expression"), config.get("set")):
        yield RawProblem(at, "a transform has either 'expression' or 'set', not both")
    if handler == "builtin.http" and None not in (config.get("json"), config.get("body")):
        yield RawProblem(at, "an http request has either 'json' or 'body', not both")
    if handler == "builtin.wait":
        yield from _check_wait(at, listener, listener_names)


_WAIT_FIELDS = {"timer": ("seconds", "until"), "event": ("topic", "correlation"), "approval": ()}


def _check_wait(
    at: PathParts, listener: Listener, listener_names: dict[str, int]
) -> Iterator[RawProblem]:
    config = listener.config
    kind = config.get("kind")
    if kind == "timer" and (config.get("seconds") is None) == (config.get("until") is None):
        yield RawProblem(at, "a timer wait has either 'seconds' or 'until' (an ISO 8601 time)")
    if kind == "event":
        for name in ("topic", "correlation"):
            if config.get(name) is None:
                yield RawProblem((*at, name), f"an event wait needs '{name}'")
    for name in ("seconds", "until", "topic", "correlation", "message"):
        allowed = name in _WAIT_FIELDS.get(str(kind), ()) or (
            name == "message" and kind == "approval"
        )
        if kind in _WAIT_FIELDS and not allowed and config.get(name) is not None:
            yield RawProblem((*at, name), f"'{name}' does not apply to a {kind} wait")
    on_timeout = config.get("on_timeout")
    if isinstance(on_timeout, str):
        if on_timeout not in listener_names:
            yield RawProblem((*at, "on_timeout"), _not_a_listener("on_timeout", on_timeout))
        elif on_timeout not in listener.peers:
            message = f"on_timeout {quoted(on_timeout)} is not one of this listener's peers"
            yield RawProblem((*at, "on_timeout"), message)
        if config.get("timeout_seconds") is None:
            message = "on_timeout needs timeout_seconds (when the wait gives up)"
            yield RawProblem((*at, "timeout_seconds"), message)


def _check_branch(
    at: PathParts, listener: Listener, listener_names: dict[str, int]
) -> Iterator[RawProblem]:
    cases = listener.config.get("cases")
    targets: list[tuple[PathParts, object]] = []
    if isinstance(cases, list):
        for index, case in enumerate(cases):
            if isinstance(case, dict):
                yield from _expression_problem((*at, "cases", index, "when"), case.get("when"))
                targets.append(((*at, "cases", index, "to"), case.get("to")))
    targets.append(((*at, "default"), listener.config.get("default")))
    for where, target in targets:
        if not isinstance(target, str):
            continue
        if target not in listener_names:
            yield RawProblem(where, _not_a_listener("branch target", target))
        elif target not in listener.peers:
            message = f"branch target {quoted(target)} is not one of this listener's peers"
            yield RawProblem(where, message)


def _check_cycles(organism: Organism, listener_names: dict[str, int]) -> Iterator[RawProblem]:
    """Every cycle (peers and on_error edges; a self-edge counts) must pass through a listener
    with max_iterations: equivalently, the unbounded listeners form no cycle."""
    unbounded = [
        index
        for name, index in listener_names.items()
        if organism.listeners[index].max_iterations is None
    ]
    unbounded_set = set(unbounded)
    edges: dict[int, list[int]] = {}
    for index in unbounded:
        listener = organism.listeners[index]
        targets = [*listener.peers, *([listener.on_error] if listener.on_error else [])]
        edges[index] = [
            listener_names[target]
            for target in targets
            if target in listener_names and listener_names[target] in unbounded_set
        ]
    for component in cyclic_components(sorted(unbounded), edges):
        names = [organism.listeners[index].name for index in component]
        if len(names) == 1:
            message = (
                f"listener {quoted(names[0])} sends to itself with no max_iterations bound; "
                "set max_iterations to bound the loop"
            )
        else:
            listed = ", ".join(quoted(name) for name in names)
            message = (
                f"listeners {listed} form a cycle with no max_iterations bound; "
                "set max_iterations on one of them"
            )
        yield RawProblem(("listeners", component[0], "max_iterations"), message)
