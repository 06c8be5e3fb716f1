"""Problems: what is wrong with an organism or a canvas, where (a path and, when known, the
line), and a human sentence. Every error the language reports is a list of these."""

from __future__ import annotations

import json
import re
from typing import NamedTuple

from pydantic import BaseModel

PathParts = tuple[str | int, ...]
"""A path as parts: ("listeners", 2, "config", "cases", 0, "when")."""

ROOT_PATH = "$"
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LAST_PART = re.compile(r'(\.[A-Za-z_][A-Za-z0-9_]*|\[\d+\]|\["(?:[^"\\]|\\.)*"\])$')


class Problem(BaseModel):
    """One problem. `path` is a YAML path such as `listeners[2].config.cases[0].when` (or, for a
    canvas, `nodes[3].data.name`); `$` is the whole document. `line` and `column` are 1-based."""

    path: str
    message: str
    line: int | None = None
    column: int | None = None
    node_id: str | None = None


class OrganismError(Exception):
    """An organism or canvas that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        summary = "; ".join(f"{item.path}: {item.message}" for item in problems[:5])
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{count}: {summary}{more}")


class RawProblem(NamedTuple):
    """A problem before it is placed: path parts (translated for a canvas, located for YAML)."""

    parts: PathParts
    message: str


def format_path(parts: PathParts) -> str:
    """("listeners", 2, "peers", 0) -> "listeners[2].peers[0]"; keys that are not identifiers
    are quoted: ("config", "headers", "X-Id") -> 'config.headers["X-Id"]'."""
    if not parts:
        return ROOT_PATH
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        elif _IDENTIFIER.match(part):
            text += f".{part}" if text else part
        else:
            text += f"[{json.dumps(part, ensure_ascii=False)}]"
    return text


def parent_path(path: str) -> str:
    """The enclosing path: "listeners[2].name" -> "listeners[2]" -> "listeners" -> "$"."""
    if path == ROOT_PATH:
        return ROOT_PATH
    stripped = _LAST_PART.sub("", path)
    if stripped == path:
        return ROOT_PATH
    return stripped or ROOT_PATH


def quoted(value: object, limit: int = 60) -> str:
    """A short rendering of a value for a message: strings quoted, containers by kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    if isinstance(value, str):
        text = value if len(value) <= limit else value[: limit - 3] + "..."
        return "'" + text.replace("'", "\\'") + "'"
    return str(value)
