"""JMESPath expressions and `{{ ... }}` templates (DESIGN.md §3). Nothing Turing complete:
an expression is JMESPath, a template is text with embedded JMESPath expressions."""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

import jmespath
from jmespath.exceptions import (
    EmptyExpressionError,
    IncompleteExpressionError,
    JMESPathError,
    LexerError,
    ParseError,
)
from jmespath.parser import ParsedResult

TEMPLATE_PATTERN = re.compile(r"\{\{\s*(.*?)\s*\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression that does not compile; the message says why."""


@lru_cache(maxsize=4096)
def compile_expression(expression: str) -> ParsedResult:
    try:
        return jmespath.compile(expression)
    except JMESPathError as error:
        reason = _reason(error)
        raise ExpressionError(f"invalid JMESPath expression {expression!r}: {reason}") from error


def _reason(error: JMESPathError) -> str:
    """jmespath's reason on one line (its own message appends the expression and a caret)."""
    position = getattr(error, "lex_position", None)
    where = f" at column {position}" if isinstance(position, int) else ""
    if isinstance(error, EmptyExpressionError):
        return "the expression is empty"
    if isinstance(error, IncompleteExpressionError):
        return f"the expression is incomplete{where}"
    if isinstance(error, LexerError):
        text = str(error).splitlines()[0].removeprefix("Bad jmespath expression: ")
        return f"{text.rstrip(':. ')}{where}"
    if isinstance(error, ParseError):
        if str(getattr(error, "token_type", "")).lower() == "eof":
            return "the expression ends too early"
        return f"unexpected {getattr(error, 'token_value', '')!r}{where}"
    return str(error).splitlines()[0] if str(error) else type(error).__name__


def evaluate(expression: str, context: dict[str, Any]) -> Any:
    return compile_expression(expression).search(context)


def template_expressions(value: Any) -> list[str]:
    """Every JMESPath expression embedded in a template value (strings, lists, dicts)."""
    if isinstance(value, str):
        return [match.group(1) for match in TEMPLATE_PATTERN.finditer(value)]
    if isinstance(value, dict):
        return [expr for item in value.values() for expr in template_expressions(item)]
    if isinstance(value, list):
        return [expr for item in value for expr in template_expressions(item)]
    return []


def render_template(value: Any, context: dict[str, Any]) -> Any:
    """Render templates inside `value`. A string that is exactly one `{{ }}` keeps the JSON type
    of the expression's value; otherwise values are interpolated as text (JSON for non-strings)."""
    if isinstance(value, str):
        whole = TEMPLATE_PATTERN.fullmatch(value.strip())
        if whole is not None and value.strip() == value:
            return evaluate(whole.group(1), context)
        return TEMPLATE_PATTERN.sub(
            lambda match: _as_text(evaluate(match.group(1), context)), value
        )
    if isinstance(value, dict):
        return {key: render_template(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render_template(item, context) for item in value]
    return value


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    return json.dumps(value, separators=(",", ":"))
