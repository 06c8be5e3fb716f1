"""Compile and parse for the editor. Problems are answers here, not errors: the editor shows
them on the canvas while the user is still drawing."""

from __future__ import annotations

import asyncio
from typing import Any

from jmespath.exceptions import JMESPathError

from control_plane.organism_editor.schemas import (
    CompileResponse,
    EvaluateResponse,
    ParseResponse,
    ProblemOut,
)
from pump.organism import Problem, compile_canvas, parse_to_canvas
from pump.organism.expressions import ExpressionError, evaluate, render_template

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


def evaluate_preview(expression: str, payload: Any, *, template: bool) -> EvaluateResponse:
    """What the pump would compute for `expression` on `payload` (same evaluator, same
    `{payload, execution}` context); an invalid expression answers its reason, not an error."""
    context = {"payload": payload, "execution": {"id": "preview", "flow": "preview"}}
    try:
        value = render_template(expression, context) if template else evaluate(expression, context)
    except ExpressionError as error:
        return EvaluateResponse(error=str(error))
    except (JMESPathError, TypeError, ValueError) as error:
        return EvaluateResponse(error=f"cannot evaluate: {error}")
    return EvaluateResponse(value=value)
