"""The JSON a user may send, and JSON as every read API answers it.

Limits, the same at every door (API bodies, webhooks, the Run button, organism payloads):

- nesting depth at most `MAX_DEPTH` (64) arrays/objects;
- integers within a signed 64-bit range (`MIN_INT` .. `MAX_INT`);
- numbers finite: no `NaN`, `Infinity` or overflowing floats such as `1e999`;
- text valid UTF-8 / Unicode: no lone UTF-16 surrogates (`"\\udfff"`).

Anything past them is refused before it is stored, with a `JsonLimitError` naming the problem
(the callers turn it into a 400). Values that were stored before these limits existed, or that
come from a pump (untrusted), are made presentable by `readable()` on the way out, so a read
API never fails on what it holds."""

from __future__ import annotations

import json
import math
import re
from typing import Annotated, Any

from pydantic import AfterValidator

MAX_DEPTH = 64
MAX_INT = 2**63 - 1
MIN_INT = -(2**63)
REPLACEMENT = "\ufffd"
DEEPER_MARKER = "[nested deeper than 64 levels: not shown]"
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")
_SURROGATE = re.compile("[\ud800-\udfff]")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")
_MAX_INT_DIGITS = len(str(MIN_INT))


class JsonLimitError(ValueError):
    """A JSON document past the limits; `path` locates the value when it is known."""

    def __init__(self, message: str, path: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.path = path


def loads_limited(document: bytes | str) -> Any:
    """Parse untrusted JSON within the limits. Raises `JsonLimitError` for a document past
    them and `json.JSONDecodeError` (a ValueError) for one that is not JSON at all."""
    if isinstance(document, bytes):
        try:
            text = document.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonLimitError(
                f"the body is not valid UTF-8 (byte {error.start}: {error.reason})"
            ) from None
    else:
        text = document
    _check_depth(text)
    value = json.loads(
        text, parse_int=_bounded_int, parse_float=_finite_float, parse_constant=_no_constant
    )
    if _SURROGATE_ESCAPE.search(text):
        check_value(value)  # a pair of escapes is fine; a lone surrogate is not
    return value


def check_value(value: Any, path: str = "") -> None:
    """Raise `JsonLimitError` when an already parsed value (e.g. from YAML) is past the limits
    or is not JSON at all (a date, a set, a non-string key)."""
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth >= MAX_DEPTH:
                raise JsonLimitError(f"nested deeper than {MAX_DEPTH} levels", where)
            if isinstance(item, dict):
                for key, child in item.items():
                    if not isinstance(key, str):
                        raise JsonLimitError(f"key {key!r} is not a string", where)
                    _check_text(key, where)
                    stack.append((child, _join(where, key), depth + 1))
            else:
                stack.extend(
                    (child, f"{where}[{index}]", depth + 1) for index, child in enumerate(item)
                )
        elif isinstance(item, str):
            _check_text(item, where)
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int):
            if not MIN_INT <= item <= MAX_INT:
                raise JsonLimitError(_int_message(str(item)), where)
        elif isinstance(item, float):
            if not math.isfinite(item):
                raise JsonLimitError(f"{item} is not a JSON number", where)
        else:
            raise JsonLimitError(f"a {type(item).__name__} is not a JSON value", where)


def readable(value: Any, depth: int = 0) -> Any:
    """`value` as a read API can always answer it: lone surrogates become U+FFFD, non-finite
    numbers null, anything nested deeper than `MAX_DEPTH` a short marker string."""
    if isinstance(value, str):
        return readable_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict | list) and depth >= MAX_DEPTH:
        return DEEPER_MARKER
    if isinstance(value, dict):
        return {readable_text(str(key)): readable(item, depth + 1) for key, item in value.items()}
    if isinstance(value, list):
        return [readable(item, depth + 1) for item in value]
    return readable_text(str(value))


def readable_text(text: str) -> str:
    """`text` with lone surrogates replaced (cheap when there is none, the usual case)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub(REPLACEMENT, text)
    return text


def storable_text(text: str, max_chars: int) -> str:
    """Untrusted text for a text column: valid Unicode, no NUL (Postgres refuses it), capped."""
    text = readable_text(text).replace("\x00", REPLACEMENT)
    return text if len(text) <= max_chars else text[: max_chars - 1] + "…"


# Response fields holding stored JSON or text: always serialisable, whatever was stored.
StoredJson = Annotated[Any, AfterValidator(readable)]
StoredText = Annotated[str, AfterValidator(readable_text)]


def _check_depth(text: str) -> None:
    if text.count("[") + text.count("{") <= MAX_DEPTH:
        return  # cannot be deeper than the number of brackets
    depth = 0
    for bracket in _BRACKET.finditer(_STRING.sub("", text)):
        if bracket.group() in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                raise JsonLimitError(f"nested deeper than {MAX_DEPTH} levels")
        else:
            depth -= 1


def _check_text(text: str, where: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as error:
        code = ord(text[error.start])
        raise JsonLimitError(
            f"text holds a lone UTF-16 surrogate (\\u{code:04x}), which is not valid Unicode",
            where,
        ) from None


def _bounded_int(digits: str) -> int:
    if len(digits) > _MAX_INT_DIGITS:
        raise JsonLimitError(_int_message(digits))
    value = int(digits)
    if not MIN_INT <= value <= MAX_INT:
        raise JsonLimitError(_int_message(digits))
    return value


def _finite_float(digits: str) -> float:
    value = float(digits)
    if not math.isfinite(value):
        raise JsonLimitError(f"the number {digits[:40]} is too large for a 64-bit float")
    return value


def _no_constant(name: str) -> Any:
    raise JsonLimitError(f"{name} is not valid JSON (numbers must be finite)")


def _int_message(digits: str) -> str:
    shown = digits if len(digits) <= 30 else f"{digits[:20]}… ({len(digits)} digits)"
    return f"the integer {shown} is outside the 64-bit range -2^63 .. 2^63-1"


def _join(path: str, key: str) -> str:
    key = readable_text(key)
    return f"{path}.{key}" if path else key
