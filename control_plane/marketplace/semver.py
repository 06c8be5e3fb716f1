"""Semantic versions of listings (`1.2.3`, `1.0.0-beta.1`): parsing and ordering."""

from __future__ import annotations

import re

SEMVER = re.compile(
    r"^(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})\.(0|[1-9]\d{0,8})"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$"
)


def is_semver(text: str) -> bool:
    return len(text) <= 64 and SEMVER.match(text) is not None


def sort_key(text: str) -> tuple[int, int, int, int, tuple[tuple[int, int | str], ...]]:
    """Order by precedence: a pre-release sorts before its release."""
    match = SEMVER.match(text)
    if match is None:
        raise ValueError(f"{text!r} is not a semantic version")
    pre = match.group(4)
    parts: tuple[tuple[int, int | str], ...] = tuple(
        (0, int(item)) if item.isdigit() else (1, item) for item in (pre or "").split(".") if item
    )
    return (int(match.group(1)), int(match.group(2)), int(match.group(3)), 0 if pre else 1, parts)


def next_version(latest: str | None) -> str:
    """The default version of a new publish: 1.0.0, else the next minor release."""
    if latest is None:
        return "1.0.0"
    major, minor, *_ = sort_key(latest)
    return f"{major}.{minor + 1}.0"
