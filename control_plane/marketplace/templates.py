"""A flow template from a flow: the organism and canvas with every secret value removed.

- every `${secrets.NAME}` reference is kept (values live in the flow's secrets, never in YAML)
  and NAME is listed as a secret the template needs;
- a literal value under a secret-looking key (`api_key`, `token`, `password`, `Authorization`,
  ...) becomes `${secrets.<LISTENER>_<KEY>}` and is listed too;
- any of the flow's own secret values found anywhere in a string is replaced by its reference;
- the canvas is rebuilt from the cleaned organism (only positions are kept from the flow), and
  the flow's webhook token (stored hashed on the flow) is never part of it;
- `tool:` listeners are listed as tools it needs; a `wasm:` module of the workspace cannot be
  in a template (publish it as a tool first)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import yaml

from control_plane.errors import InvalidInput
from pump.organism import OrganismError, emit_organism, organism_to_canvas, parse_organism
from pump.organism.models import TOOL_REFERENCE, WASM_REFERENCE

SECRET_REFERENCE = re.compile(r"\$\{\s*secrets\.([A-Za-z_][A-Za-z0-9_]*)\s*\}")
SECRET_KEY = re.compile(
    r"(api[_-]?key|apikey|token|secret|password|passwd|authorization|credential|private[_-]?key"
    r"|access[_-]?key|client[_-]?secret|cookie|signature)",
    re.IGNORECASE,
)
MIN_SECRET_LENGTH = 4


@dataclass(frozen=True)
class Template:
    organism_yaml: str
    canvas_state: dict[str, Any]
    required_secrets: list[str]
    required_tools: list[str]


def template_from_flow(
    organism_yaml: str, canvas_state: dict[str, Any], secret_values: dict[str, str]
) -> Template:
    document = yaml.safe_load(organism_yaml)
    required: set[str] = set()
    known = sorted(
        ((value, name) for name, value in secret_values.items() if len(value) >= MIN_SECRET_LENGTH),
        key=lambda item: len(item[0]),
        reverse=True,
    )
    problems: list[dict[str, str]] = []
    tools: set[str] = set()
    for index, listener in enumerate(document.get("listeners") or []):
        handler = str(listener.get("handler", ""))
        if WASM_REFERENCE.match(handler):
            problems.append(
                {
                    "path": f"listeners[{index}].handler",
                    "message": f"{handler} is a module of this workspace; publish it as a tool "
                    "and use tool:<listing>@<version> before publishing the flow",
                }
            )
        elif TOOL_REFERENCE.match(handler):
            tools.add(handler)
        if "config" in listener:
            prefix = str(listener.get("name", f"step{index}"))
            listener["config"] = _clean(listener["config"], prefix, None, known, required)
    for trigger in document.get("triggers") or []:
        if "payload" in trigger:
            prefix = str(trigger.get("name", "trigger"))
            trigger["payload"] = _clean(trigger["payload"], prefix, None, known, required)
    if problems:
        raise InvalidInput(
            "this flow cannot be published as a template: "
            + "; ".join(p["message"] for p in problems),
            problems,
        )
    try:
        organism = parse_organism(yaml.safe_dump(document, sort_keys=False))
    except OrganismError as error:
        raise InvalidInput(f"the flow's organism is not valid: {error}") from error
    return Template(
        organism_yaml=emit_organism(organism),
        canvas_state=organism_to_canvas(organism, previous=canvas_state),
        required_secrets=sorted(required),
        required_tools=sorted(tools),
    )


def _clean(
    value: Any, prefix: str, key: str | None, known: list[tuple[str, str]], required: set[str]
) -> Any:
    if isinstance(value, dict):
        return {k: _clean(item, prefix, str(k), known, required) for k, item in value.items()}
    if isinstance(value, list):
        return [_clean(item, prefix, key, known, required) for item in value]
    if not isinstance(value, str):
        return value
    for secret, name in known:
        if secret in value:
            value = value.replace(secret, f"${{secrets.{name}}}")
    secret_key = key is not None and SECRET_KEY.search(key) is not None
    if secret_key and value.strip() and not SECRET_REFERENCE.search(value):
        value = f"${{secrets.{_secret_name(f'{prefix}_{key}')}}}"
    required.update(SECRET_REFERENCE.findall(value))
    return value


def _secret_name(text: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_]", "_", text).upper().strip("_") or "SECRET"
    return name if not name[0].isdigit() else f"S_{name}"
