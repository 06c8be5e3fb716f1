"""SECURITY.md names, on each line of its threat model, the test that proves it: every test it
names exists, so a renamed or deleted test cannot leave a claim without its proof."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIXES = {"S/": "tests/security/", "CP/": "tests/control_plane/", "P/": "tests/pump/"}
REFERENCE = re.compile(
    r"`((?:S|CP|P)/[\w/]+\.py)?::(\w+)`|`((?:S|CP|P)/[\w/]+\.py|frontend/[\w/.]+)`"
)


def expand(path: str) -> Path:
    for short, long in PREFIXES.items():
        if path.startswith(short):
            return ROOT / (long + path[len(short) :])
    return ROOT / path


def test_every_claim_names_a_test_that_exists() -> None:
    text = (ROOT / "SECURITY.md").read_text()
    named = 0
    for line in text.splitlines():
        current: Path | None = None
        for match in REFERENCE.finditer(line):
            if match.group(3):
                assert expand(match.group(3)).is_file(), match.group(3)
                continue
            if match.group(1):
                current = expand(match.group(1))
            assert current is not None and current.is_file(), line
            assert re.search(rf"def {match.group(2)}\b", current.read_text()), (
                f"{current.relative_to(ROOT)} has no test {match.group(2)}"
            )
            named += 1
    assert named > 50
