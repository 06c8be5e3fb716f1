"""The starter templates the editor offers for a new module (sources in templates/)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TEMPLATE_DIR = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Template:
    id: str
    title: str
    description: str
    capabilities: dict[str, Any]
    sample_payload: Any
    sample_config: dict[str, Any]

    @property
    def source(self) -> str:
        return _source(self.id)


@cache
def _source(template_id: str) -> str:
    return (TEMPLATE_DIR / f"{template_id}.ts").read_text(encoding="utf-8")


TEMPLATES: tuple[Template, ...] = (
    Template(
        id="json-transform",
        title="JSON transform",
        description="Reshape the payload: read fields, compute new ones, log what happened.",
        capabilities={},
        sample_payload={"name": "Ada", "tags": ["math", "engines"]},
        sample_config={"prefix": "Hello"},
    ),
    Template(
        id="http-fetch",
        title="HTTP fetch",
        description="Call an HTTP API (declared hosts only) and pass on part of its answer.",
        capabilities={"http_fetch": {"hosts": ["api.example.com"]}},
        sample_payload={},
        sample_config={"url": "https://api.example.com/items"},
    ),
    Template(
        id="memory-counter",
        title="Memory counter",
        description="Count messages per key in the flow's project memory.",
        capabilities={},
        sample_payload={"key": "visits"},
        sample_config={},
    ),
)


def template(template_id: str) -> Template | None:
    return next((item for item in TEMPLATES if item.id == template_id), None)
