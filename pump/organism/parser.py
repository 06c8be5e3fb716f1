"""YAML text -> Organism: bounded safe loading, model validation, semantic validation. Every
problem carries its YAML path and, from the composed node tree, its line and column."""

from __future__ import annotations

from typing import NamedTuple

from pydantic import ValidationError

from pump.organism.loader import load_document
from pump.organism.model_errors import validation_problems
from pump.organism.models import Organism
from pump.organism.problems import (
    ROOT_PATH,
    OrganismError,
    Problem,
    RawProblem,
    format_path,
    parent_path,
)
from pump.organism.validator import check


class ParsedDocument(NamedTuple):
    organism: Organism | None
    """None when the document could not be read as an organism at all."""
    problems: list[Problem]
    """Structural problems (organism None) or semantic ones (organism set)."""


def locate(problems: list[RawProblem], marks: dict[str, tuple[int, int]]) -> list[Problem]:
    """Attach the line and column of each path, or of its nearest enclosing path that exists
    (a missing key points at the mapping that lacks it)."""
    located: list[Problem] = []
    for raw in problems:
        path = format_path(raw.parts)
        probe = path
        while probe not in marks and probe != ROOT_PATH:
            probe = parent_path(probe)
        line, column = marks.get(probe, (None, None))
        located.append(Problem(path=path, message=raw.message, line=line, column=column))
    return located


def parse_document(text: str | bytes) -> ParsedDocument:
    try:
        document = load_document(text)
    except OrganismError as error:
        return ParsedDocument(None, error.problems)
    if not isinstance(document.data, dict):
        message = (
            "the document must be a mapping with the keys version, organism, triggers, "
            "listeners, memory and limits"
        )
        return ParsedDocument(None, locate([RawProblem((), message)], document.marks))
    try:
        organism = Organism.model_validate(document.data)
    except ValidationError as error:
        problems = validation_problems(error, Organism)
        return ParsedDocument(None, locate(problems, document.marks))
    return ParsedDocument(organism, locate(check(organism), document.marks))


def parse_organism(text: str | bytes) -> Organism:
    """Parse and validate an organism document; raise OrganismError with every problem."""
    parsed = parse_document(text)
    if parsed.problems or parsed.organism is None:
        raise OrganismError(parsed.problems)
    return parsed.organism
