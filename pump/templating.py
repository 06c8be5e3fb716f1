"""Run-time rendering of handler settings: `${secrets.NAME}` references and `{{ }}` templates.

Secrets are substituted only in the literal text the organism author wrote, never inside the
value of an expression: a payload that contains `${secrets.X}` stays that text, so a caller
cannot make a flow leak its secrets."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from typing import Any

from pump.organism.expressions import TEMPLATE_PATTERN, evaluate

SECRET_PATTERN = re.compile(r"\$\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
REDACTED = "***"


class MissingSecretError(KeyError):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"secret {self.name!r} is not set for this flow (referenced as ${{secrets.{self.name}}})"


def substitute_secrets(text: str, secrets: Mapping[str, str]) -> str:
    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in secrets:
            raise MissingSecretError(name)
        return secrets[name]

    return SECRET_PATTERN.sub(replace, text)


def has_dynamic_parts(value: Any) -> bool:
    """Whether rendering `value` can change it (so static settings are rendered once)."""
    if isinstance(value, str):
        return "{{" in value or "${" in value
    if isinstance(value, dict):
        return any(has_dynamic_parts(item) for item in value.values())
    if isinstance(value, list):
        return any(has_dynamic_parts(item) for item in value)
    return False


def render(value: Any, context: dict[str, Any], secrets: Mapping[str, str]) -> Any:
    """Render a settings value: a string that is exactly one `{{ }}` keeps the JSON type of the
    expression's value; other strings interpolate (JSON for non-strings, empty for null)."""
    if isinstance(value, str):
        if "{{" not in value:
            return substitute_secrets(value, secrets) if "${" in value else value
        whole = TEMPLATE_PATTERN.fullmatch(value)
        if whole is not None:
            return evaluate(whole.group(1), context)
        parts: list[str] = []
        position = 0
        for match in TEMPLATE_PATTERN.finditer(value):
            parts.append(substitute_secrets(value[position : match.start()], secrets))
            parts.append(_as_text(evaluate(match.group(1), context)))
            position = match.end()
        parts.append(substitute_secrets(value[position:], secrets))
        return "".join(parts)
    if isinstance(value, dict):
        return {key: render(item, context, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context, secrets) for item in value]
    return value


class Redactor:
    """Hides the flow's secret values, whatever their length, in everything that leaves the
    pump: events (errors, inputs, outputs), log lines, the thread buffer and stderr. Longer
    secrets are replaced first, so a secret that contains another is hidden whole."""

    def __init__(self, secrets: Mapping[str, str]) -> None:
        values = sorted({value for value in secrets.values() if value}, key=len, reverse=True)
        self._pattern = re.compile("|".join(map(re.escape, values))) if values else None

    @property
    def active(self) -> bool:
        return self._pattern is not None

    def text(self, text: str) -> str:
        return self._pattern.sub(REDACTED, text) if self._pattern is not None else text

    def value(self, value: Any) -> Any:
        """A JSON value with every string (and object key) redacted."""
        if self._pattern is None:
            return value
        if isinstance(value, str):
            return self._pattern.sub(REDACTED, value)
        if isinstance(value, dict):
            return {self.value(key): self.value(item) for key, item in value.items()}
        if isinstance(value, list | tuple):
            return [self.value(item) for item in value]
        return value


class RedactingFormatter(logging.Formatter):
    """The pump's stderr (its log file): whole lines, tracebacks included, are redacted."""

    def __init__(self, redactor: Redactor, fmt: str) -> None:
        super().__init__(fmt)
        self.redactor = redactor

    def format(self, record: logging.LogRecord) -> str:
        return self.redactor.text(super().format(record))


def redact(text: str, secrets: Mapping[str, str]) -> str:
    """Hide secret values in one text (see `Redactor` for repeated use)."""
    return Redactor(secrets).text(text)


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))
