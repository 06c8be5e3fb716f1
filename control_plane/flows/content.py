"""A flow's content from a request: the canonical organism YAML, its canvas and content hash.

Pure (no database): either the YAML or the canvas is the source and the other is derived; the
request's name and description are written into the organism. Every problem is collected
before anything is refused, so the editor can show them all at once."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from control_plane.errors import InvalidOrganism, PayloadTooLarge
from control_plane.flows.schemas import FlowWrite
from pump.organism import (
    OrganismError,
    Problem,
    compile_canvas,
    content_hash,
    emit_organism,
    organism_to_canvas,
    parse_organism,
)
from pump.organism.models import SLUG_PATTERN, Organism, OrganismInfo

MAX_CANVAS_BYTES = 2 * 1024 * 1024
MAX_DESCRIPTION_LENGTH = 2000
_SLUG = re.compile(SLUG_PATTERN)


@dataclass(frozen=True)
class StoredContent:
    """What a flow holds now (absent when creating)."""

    name: str
    description: str | None
    organism_yaml: str
    canvas_state: dict[str, Any]


@dataclass(frozen=True)
class FlowContent:
    name: str
    description: str | None
    organism_yaml: str
    canvas_state: dict[str, Any]
    content_hash: str


def derive_content(request: FlowWrite, stored: StoredContent | None) -> FlowContent:
    """The content to store for `request` applied to `stored`, or `InvalidOrganism` listing
    every problem (request fields by name, the organism by YAML path, canvas nodes by id)."""
    _refuse_oversized_canvas(request.canvas_state)
    problems = _field_problems(request)
    name_valid = not any(problem.path == "name" for problem in problems)
    name = request.name if request.name is not None else (stored.name if stored else None)
    description_given = "description" in request.model_fields_set
    description = request.description if description_given or stored is None else stored.description
    organism: Organism | None = None
    layout: dict[str, Any] | None = stored.canvas_state if stored else None
    try:
        if request.organism_yaml is not None:
            organism = parse_organism(request.organism_yaml)
            layout = request.canvas_state if request.canvas_state is not None else layout
        elif request.canvas_state is not None:
            layout = request.canvas_state
            if name is None:
                problems.append(_problem("name", "a flow drawn on a canvas needs a name"))
            # An invalid name is already reported: compile under a stand-in to find the rest.
            compile_name = name if name is not None and name_valid else "flow"
            compiled = compile_canvas(layout, name=compile_name, description=description)
            problems.extend(compiled.problems)
            organism = compiled.organism
        elif stored is not None:
            # Valid when saved; a stricter language may refuse it now, and then the save says why.
            organism = parse_organism(stored.organism_yaml)
        elif name is None:
            problems.append(
                _problem("name", "give the flow a name, an organism_yaml or a canvas_state")
            )
        elif name_valid:
            organism = Organism(organism=OrganismInfo(name=name, description=description))
    except OrganismError as error:
        problems.extend(error.problems)
    if problems or organism is None:
        raise _invalid(problems)

    info_changes: dict[str, Any] = {}
    if request.name is not None:
        info_changes["name"] = request.name
    if description_given:
        info_changes["description"] = request.description
    if info_changes:
        info = organism.organism.model_copy(update=info_changes)
        organism = organism.model_copy(update={"organism": info})
    canonical = emit_organism(organism)
    # What is stored must be exactly what the pump will accept: parse the canonical form.
    try:
        organism = parse_organism(canonical)
    except OrganismError as error:
        raise _invalid(error.problems) from error
    return FlowContent(
        name=organism.organism.name,
        description=organism.organism.description,
        organism_yaml=canonical,
        canvas_state=organism_to_canvas(organism, previous=layout),
        content_hash=content_hash(canonical),
    )


def problem_dicts(problems: list[Problem]) -> list[dict[str, Any]]:
    return [problem.model_dump() for problem in problems]


def _field_problems(request: FlowWrite) -> list[Problem]:
    problems: list[Problem] = []
    if request.name is not None and not _SLUG.match(request.name):
        problems.append(
            _problem(
                "name",
                f"{request.name!r} is not a valid flow name: use 1 to 63 lowercase letters, "
                "digits, '-' and '_', starting with a letter or digit",
            )
        )
    if request.description is not None and len(request.description) > MAX_DESCRIPTION_LENGTH:
        problems.append(
            _problem(
                "description", f"the description is longer than {MAX_DESCRIPTION_LENGTH} characters"
            )
        )
    return problems


def _refuse_oversized_canvas(canvas_state: dict[str, Any] | None) -> None:
    if canvas_state is None:
        return
    size = len(json.dumps(canvas_state, separators=(",", ":")).encode("utf-8"))
    if size > MAX_CANVAS_BYTES:
        raise PayloadTooLarge(
            f"canvas_state is {size} bytes; the limit is {MAX_CANVAS_BYTES} bytes",
            limit_bytes=MAX_CANVAS_BYTES,
        )


def _problem(path: str, message: str) -> Problem:
    return Problem(path=path, message=message)


def _invalid(problems: list[Problem]) -> InvalidOrganism:
    shown = "; ".join(f"{problem.path}: {problem.message}" for problem in problems[:5])
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
    return InvalidOrganism(
        f"the flow was not saved: {count}: {shown}{more}", problem_dicts(problems)
    )


def written_as(organism_yaml: str, content_hash_of_flow: str) -> bool:
    """Whether the author's text alone gives the flow's canonical organism (a name or
    description sent beside it may differ from the text's; then the text is not the flow's)."""
    try:
        return content_hash(emit_organism(parse_organism(organism_yaml))) == content_hash_of_flow
    except OrganismError:
        return False
