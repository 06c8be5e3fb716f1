"""Compile and parse for the editor. Problems are answers here, not errors: the editor shows
them on the canvas while the user is still drawing."""

from __future__ import annotations

import asyncio
from typing import Any

from control_plane.organism_editor.schemas import CompileResponse, ParseResponse, ProblemOut
from pump.organism import Problem, compile_canvas, parse_to_canvas

DEFAULT_NAME = "untitled"


async def compile_to_yaml(
    canvas: dict[str, Any], *, name: str | None, description: str | None
) -> CompileResponse:
    result = await asyncio.to_thread(
        compile_canvas, canvas, name=name or DEFAULT_NAME, description=description
    )
    return CompileResponse(yaml=result.yaml, problems=_problems(result.problems))


async def parse_to_editor_canvas(
    yaml_text: str, *, previous: dict[str, Any] | None
) -> ParseResponse:
    result = await asyncio.to_thread(parse_to_canvas, yaml_text, previous)
    return ParseResponse(canvas=result.canvas, problems=_problems(result.problems))


def _problems(problems: list[Problem]) -> list[ProblemOut]:
    return [ProblemOut.model_validate(problem.model_dump()) for problem in problems]
