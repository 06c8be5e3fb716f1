"""What the editor endpoints call: canvas -> YAML (compile) and YAML -> canvas (parse), each
returning every problem. Only semantic problems still give a result, so the editor keeps
working and shows badges; a canvas or document that is not an organism gives none."""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel

from pump.organism.canvas import build_organism
from pump.organism.layout import node_ids, organism_to_canvas
from pump.organism.models import Organism
from pump.organism.parser import parse_document
from pump.organism.problems import OrganismError, Problem

_OWNER = re.compile(r"^(triggers|listeners)\[(\d+)\]")


class CompileResult(BaseModel):
    yaml: str | None
    organism: Organism | None
    problems: list[Problem]


class ParseResult(BaseModel):
    canvas: dict[str, Any] | None
    organism: Organism | None
    problems: list[Problem]


def canvas_to_organism(
    canvas: dict[str, Any], *, name: str, description: str | None = None
) -> Organism:
    """The organism a canvas describes; `name` and `description` are the flow's. Raises
    OrganismError with every problem (canvas paths, node ids)."""
    built = build_organism(canvas, name=name, description=description)
    if built.problems or built.organism is None:
        raise OrganismError(built.problems)
    return built.organism


def compile_canvas(
    canvas: dict[str, Any], *, name: str, description: str | None = None
) -> CompileResult:
    built = build_organism(canvas, name=name, description=description)
    return CompileResult(yaml=built.yaml, organism=built.organism, problems=built.problems)


def parse_to_canvas(text: str | bytes, previous: dict[str, Any] | None = None) -> ParseResult:
    """YAML -> canvas, keeping the positions and viewport of `previous` where names match.
    Problems keep their YAML paths and lines, and name the node they concern."""
    parsed = parse_document(text)
    if parsed.organism is None:
        return ParseResult(canvas=None, organism=None, problems=parsed.problems)
    canvas = organism_to_canvas(parsed.organism, previous)
    trigger_ids, listener_ids = node_ids(parsed.organism)
    problems = []
    for problem in parsed.problems:
        owner = _OWNER.match(problem.path)
        if owner is not None:
            ids = trigger_ids if owner.group(1) == "triggers" else listener_ids
            problem = problem.model_copy(update={"node_id": ids[int(owner.group(2))]})
        problems.append(problem)
    return ParseResult(canvas=canvas, organism=parsed.organism, problems=problems)
