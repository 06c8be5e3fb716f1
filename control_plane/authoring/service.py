"""Samples (named test payloads of a flow), starter templates and flow files.

A flow file is the organism YAML, then a second YAML document holding the canvas as JSON
(JSON is YAML, so the file is one readable YAML file; JSON keeps the parser trivial and free
of YAML aliases). Importing a plain organism YAML works too: it is laid out automatically."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.accounts.dependencies import Principal
from control_plane.authoring.models import FlowSample
from control_plane.db import utcnow
from control_plane.errors import InvalidInput, NotFound, PayloadTooLarge
from control_plane.flows import service as flows
from control_plane.flows.schemas import FlowWrite
from control_plane.json_limits import JsonLimitError, check_value

SAMPLE_NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,62}$"
MAX_SAMPLES_PER_FLOW = 50
MAX_SAMPLE_BYTES = 256 * 1024
CANVAS_MARKER = "--- # flowplane canvas"
STARTERS_DIR = Path(__file__).parent / "starters"


async def list_samples(
    session: AsyncSession, principal: Principal, flow_id: str
) -> list[FlowSample]:
    await flows.get_flow(session, principal, flow_id)
    rows = await session.scalars(
        select(FlowSample).where(FlowSample.flow_id == flow_id).order_by(FlowSample.name)
    )
    return list(rows)


async def put_sample(
    session: AsyncSession, principal: Principal, flow_id: str, name: str, payload: Any
) -> FlowSample:
    await flows.get_flow(session, principal, flow_id)
    if not re.match(SAMPLE_NAME_PATTERN, name):
        problem = "a sample name is 1-63 letters, digits, spaces, '_', '.' or '-'"
        raise InvalidInput(f"name: {problem}", [{"path": "name", "message": problem}])
    try:
        check_value(payload, "payload")
    except JsonLimitError as error:
        raise InvalidInput(
            f"payload: {error}", [{"path": "payload", "message": str(error)}]
        ) from error
    if len(json.dumps(payload)) > MAX_SAMPLE_BYTES:
        raise PayloadTooLarge(f"payload: a sample holds at most {MAX_SAMPLE_BYTES // 1024} KiB")
    sample = await session.scalar(
        select(FlowSample).where(FlowSample.flow_id == flow_id, FlowSample.name == name)
    )
    now = utcnow()
    if sample is None:
        count = await session.scalar(
            select(func.count()).select_from(FlowSample).where(FlowSample.flow_id == flow_id)
        )
        if (count or 0) >= MAX_SAMPLES_PER_FLOW:
            problem = f"a flow keeps at most {MAX_SAMPLES_PER_FLOW} samples; delete one first"
            raise InvalidInput(problem, [{"path": "name", "message": problem}])
        sample = FlowSample(flow_id=flow_id, name=name, created_at=now)
        session.add(sample)
    sample.payload, sample.updated_at = payload, now
    await session.flush()
    return sample


async def delete_sample(
    session: AsyncSession, principal: Principal, flow_id: str, name: str
) -> None:
    await flows.get_flow(session, principal, flow_id)
    result = await session.execute(
        delete(FlowSample)
        .where(FlowSample.flow_id == flow_id, FlowSample.name == name)
        .execution_options(synchronize_session=False)
    )
    if getattr(result, "rowcount", 0) == 0:
        raise NotFound(f"flow {flow_id} has no sample named {name!r}")


@dataclass(frozen=True)
class Starter:
    id: str
    title: str
    description: str
    organism_yaml: str


@cache
def starters() -> tuple[Starter, ...]:
    """The starter templates shipped with the product (`starters/*.yaml`, in file order)."""
    found = []
    for path in sorted(STARTERS_DIR.glob("*.yaml")):
        text = path.read_text(encoding="utf-8")
        info = yaml.safe_load(text)["organism"]
        first_line = text.splitlines()[0]
        title = (
            first_line.removeprefix("# title:").strip() if first_line.startswith("#") else path.stem
        )
        found.append(Starter(path.stem, title, str(info.get("description", "")), text))
    return tuple(found)


def export_file(organism_yaml: str, canvas_state: dict[str, Any]) -> str:
    canvas = json.dumps(canvas_state, ensure_ascii=False, sort_keys=True)
    return f"{organism_yaml.rstrip()}\n{CANVAS_MARKER}\ncanvas_state: {canvas}\n"


def parse_file(text: str) -> FlowWrite:
    """A flow file as a create request; problems name the file's part."""
    organism_yaml, _, canvas_part = text.partition(f"\n{CANVAS_MARKER}\n")
    canvas_state = None
    if canvas_part.strip():
        body = canvas_part.strip()
        prefix = "canvas_state:"
        if not body.startswith(prefix):
            problem = f"the part after '{CANVAS_MARKER}' must be 'canvas_state: {{...}}'"
            raise InvalidInput(problem, [{"path": "file.canvas_state", "message": problem}])
        try:
            canvas_state = json.loads(body[len(prefix) :])
        except json.JSONDecodeError as error:
            problem = f"the canvas is not valid JSON: {error}"
            raise InvalidInput(
                problem, [{"path": "file.canvas_state", "message": problem}]
            ) from error
        if not isinstance(canvas_state, dict):
            problem = "the canvas must be an object {nodes, edges, viewport}"
            raise InvalidInput(problem, [{"path": "file.canvas_state", "message": problem}])
    if not organism_yaml.strip():
        problem = "the file is empty: export a flow, or choose an organism YAML file"
        raise InvalidInput(problem, [{"path": "file", "message": problem}])
    return FlowWrite(organism_yaml=organism_yaml + "\n", canvas_state=canvas_state)
