"""Pydantic validation errors turned into problems with YAML paths and human sentences."""

from __future__ import annotations

import types
from inspect import isclass
from typing import Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from pump.organism.models import NAME_PATTERN, SLUG_PATTERN
from pump.organism.problems import PathParts, RawProblem, quoted

_KIND_WORDS = {
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "string_type": "a string",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "int_type": "a whole number",
    "int_parsing": "a whole number",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "finite_number": "a finite number",
}
_BOUNDS = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def validation_problems(
    error: ValidationError, model: type[BaseModel], prefix: PathParts = ()
) -> list[RawProblem]:
    """One problem per pydantic error; `prefix` places a nested model (e.g. a handler config)."""
    problems: list[RawProblem] = []
    for detail in error.errors(include_url=False):
        location: PathParts = tuple(detail["loc"])
        problems.append(RawProblem((*prefix, *location), _message(detail, model, location)))
    return problems


def _label(location: PathParts) -> str:
    if not location:
        return "the document"
    last = location[-1]
    if isinstance(last, int):
        keys = [part for part in location if isinstance(part, str)]
        return f"{keys[-1]}[{last}]" if keys else f"item {last}"
    return last


def _message(detail: ErrorDetails, model: type[BaseModel], location: PathParts) -> str:
    kind = detail["type"]
    context: dict[str, Any] = dict(detail.get("ctx") or {})
    value = detail.get("input")
    label = _label(location)
    if kind == "missing":
        return f"missing required key {quoted(label)}"
    if kind == "extra_forbidden":
        allowed = allowed_keys(model, location[:-1])
        hint = f" (allowed: {', '.join(allowed)})" if allowed else ""
        return f"unknown key {quoted(label)}{hint}"
    if kind == "string_pattern_mismatch":
        return _pattern_message(label, value, str(context.get("pattern", "")))
    if kind == "literal_error":
        return f"{label} must be {context.get('expected')} (got {quoted(value)})"
    if kind in _KIND_WORDS:
        return f"{label} must be {_KIND_WORDS[kind]} (got {quoted(value)})"
    if kind in _BOUNDS:
        key, words = _BOUNDS[kind]
        bound = context.get(key)
        if isinstance(bound, float) and bound.is_integer():
            bound = int(bound)
        return f"{label} must be {words} {bound} (got {quoted(value)})"
    text = str(detail["msg"])
    return f"{label}: {text[:1].lower()}{text[1:]}"


def _pattern_message(label: str, value: object, pattern: str) -> str:
    if pattern == SLUG_PATTERN:
        rule = "lowercase letters, digits, '-' and '_', starting with a letter or digit"
    elif pattern == NAME_PATTERN:
        rule = "letters, digits, '-' and '_', starting with a letter or '_'"
    else:
        return f"{label} {quoted(value)} does not match {pattern}"
    return f"{quoted(value)} is not a valid {label}: use {rule}, at most 63 characters"


def _unwrap_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        members = [item for item in get_args(annotation) if item is not type(None)]
        if len(members) == 1:
            return members[0]
    return annotation


def allowed_keys(model: type[BaseModel], location: PathParts) -> list[str]:
    """The keys a mapping at `location` (inside `model`) may have, or [] when it is free-form."""
    current: Any = model
    for part in location:
        current = _unwrap_optional(current)
        if isinstance(part, str):
            if not (isclass(current) and issubclass(current, BaseModel)):
                return []
            fields = {(info.alias or name): info for name, info in current.model_fields.items()}
            if part not in fields:
                return []
            current = fields[part].annotation
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return []
    current = _unwrap_optional(current)
    if isclass(current) and issubclass(current, BaseModel):
        return [info.alias or name for name, info in current.model_fields.items()]
    return []
