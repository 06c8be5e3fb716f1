"""Property tests: random valid canvases compile, parse and compile again to the same bytes."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pump.organism import (
    compile_canvas,
    emit_organism,
    parse_organism,
    parse_to_canvas,
    validate_organism,
)

LISTENER_TYPES = ["llm", "http", "code", "branch", "transform", "loop", "output", "memory"]
IMPLIED = {
    "llm": "builtin.llm",
    "http": "builtin.http",
    "branch": "builtin.branch",
    "transform": "builtin.transform",
    "output": "builtin.output",
    "memory": "builtin.memory",
}
EXPRESSIONS = [
    "payload",
    "payload.a",
    "payload.items[0].name",
    "length(payload.list)",
    "payload.priority == 'high'",
    "execution.id",
    "`true`",
    "payload.*",
    "sum(payload.prices)",
]
CRONS = ["0 2 * * *", "*/5 * * * *", "@daily", "0 0 * * MON-FRI", "15 14 1 * *"]
TIMEZONES = [None, "UTC", "Europe/Paris", "America/New_York"]

NAMES = st.from_regex(r"[A-Za-z_][A-Za-z0-9_-]{0,12}", fullmatch=True)
SLUGS = st.from_regex(r"[a-z0-9][a-z0-9_-]{0,20}", fullmatch=True)
# Any text a person might type (no lone surrogates: they cannot come from a browser as UTF-8).
TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)
# Text in handler settings: no braces or dollars, so it never forms a template or secret.
PLAIN = st.text(st.characters(exclude_categories=("Cs",), exclude_characters="{}$"), max_size=20)
EXPRESSION = st.sampled_from(EXPRESSIONS)
TEMPLATED = PLAIN | st.builds(lambda a, e, b: f"{a}{{{{ {e} }}}}{b}", PLAIN, EXPRESSION, PLAIN)
SECRET = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True).map(
    lambda name: f"${{secrets.{name}}}"
)
FINITE = st.floats(allow_nan=False, allow_infinity=False)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | FINITE | TEMPLATED,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(PLAIN, children, max_size=3),
    max_leaves=10,
)
WASM = st.from_regex(r"wasm:[a-z0-9][a-z0-9._-]{0,8}@[A-Za-z0-9._+-]{1,6}", fullmatch=True)
TOOL = st.from_regex(r"tool:[a-z0-9][a-z0-9._/-]{0,8}@[A-Za-z0-9._+-]{1,6}", fullmatch=True)
POSITION = st.fixed_dictionaries(
    {"x": st.integers(-5000, 5000) | st.floats(-5000, 5000), "y": st.integers(-5000, 5000)}
)


def optional(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def drop_none(values: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in values.items() if value is not None}


@st.composite
def llm_config(draw: st.DrawFn) -> dict[str, Any]:
    return drop_none(
        {
            "provider": draw(optional(st.sampled_from(["openai", "anthropic"]))),
            "base_url": draw(optional(PLAIN)),
            "model": draw(PLAIN),
            "system": draw(optional(TEMPLATED)),
            "prompt": draw(TEMPLATED),
            "temperature": draw(optional(st.floats(0, 2))),
            "max_tokens": draw(optional(st.integers(1, 200_000))),
            "output": draw(optional(st.sampled_from(["text", "json"]))),
            "api_key": draw(optional(SECRET)),
        }
    )


@st.composite
def config_for(draw: st.DrawFn, handler: str, peers: list[str]) -> dict[str, Any]:
    if handler == "builtin.llm":
        return draw(llm_config())
    if handler == "builtin.http":
        payload = draw(
            st.one_of(
                st.builds(dict),
                JSON.map(lambda value: {"json": value}),
                TEMPLATED.map(lambda b: {"body": b}),
            )
        )
        headers = draw(optional(st.dictionaries(PLAIN, TEMPLATED | SECRET, max_size=3)))
        timeout = draw(optional(st.floats(0.01, 300)))
        method = draw(optional(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])))
        base = {"method": method, "url": draw(TEMPLATED), "headers": headers}
        return drop_none({**base, **payload, "timeout_seconds": timeout})
    if handler == "builtin.transform":
        return draw(
            st.one_of(
                st.builds(dict),
                EXPRESSION.map(lambda expression: {"expression": expression}),
                st.dictionaries(PLAIN, JSON, max_size=3).map(lambda values: {"set": values}),
            )
        )
    if handler == "builtin.output":
        return draw(st.builds(dict) | EXPRESSION.map(lambda expression: {"expression": expression}))
    if handler == "builtin.memory":
        operation = draw(st.sampled_from(["get", "set", "delete"]))
        value = draw(JSON) if operation == "set" else None
        return drop_none({"op": operation, "key": draw(TEMPLATED), "value": value})
    if handler == "builtin.branch":
        if not peers:
            return draw(st.builds(dict) | st.just({"cases": []}))
        cases = draw(
            st.lists(
                st.fixed_dictionaries({"when": EXPRESSION, "to": st.sampled_from(peers)}),
                max_size=3,
            )
        )
        return drop_none({"cases": cases, "default": draw(optional(st.sampled_from(peers)))})
    return draw(st.dictionaries(PLAIN, JSON, max_size=4))


@st.composite
def canvases(draw: st.DrawFn) -> dict[str, Any]:
    count = draw(st.integers(1, 7))
    names = draw(st.lists(NAMES, min_size=count, max_size=count, unique=True))
    types = draw(st.lists(st.sampled_from(LISTENER_TYPES), min_size=count, max_size=count))
    bounded = [kind == "loop" or draw(st.booleans()) for kind in types]
    # An edge i -> j is drawn only when j comes later or is bounded, so every cycle passes
    # through a listener with max_iterations.
    allowed = [[names[j] for j in range(count) if j > i or bounded[j]] for i in range(count)]
    peers = [
        draw(st.lists(st.sampled_from(targets), unique=True, max_size=4)) if targets else []
        for targets in allowed
    ]
    errors = [draw(optional(st.sampled_from(targets))) if targets else None for targets in allowed]
    trigger_count = draw(st.integers(0, 3))
    trigger_names = draw(
        st.lists(NAMES, min_size=trigger_count, max_size=trigger_count, unique=True)
    )
    ids = draw(
        st.lists(
            st.text(min_size=1, max_size=6),
            min_size=count + trigger_count,
            max_size=count + trigger_count,
            unique=True,
        )
    )
    listener_ids, trigger_ids = ids[:count], ids[count:]

    nodes: list[dict[str, Any]] = []
    for index, (name, kind) in enumerate(zip(names, types, strict=True)):
        handler = IMPLIED.get(kind)
        data_handler: str | None = handler if draw(st.booleans()) else None
        if kind == "code":
            handler = data_handler = draw(WASM | TOOL)
        elif kind == "loop":
            data_handler = draw(st.sampled_from([None, "builtin.transform", "builtin.llm"]) | WASM)
            handler = data_handler or "builtin.transform"
        branch_targets = peers[index] + ([name] if kind == "loop" else [])
        data = {
            "name": name,
            "handler": data_handler,
            "description": draw(optional(TEXT)),
            "agent": draw(st.booleans()) if handler == "builtin.llm" else None,
            "config": draw(config_for(str(handler), sorted(set(branch_targets)))),
            "timeout_seconds": draw(optional(st.integers(1, 3600) | st.floats(0.01, 3600))),
            "max_iterations": draw(st.integers(1, 100_000)) if bounded[index] else None,
        }
        if not data["config"] and draw(st.booleans()):
            data["config"] = None
        position = draw(POSITION)
        nodes.append(
            {"id": listener_ids[index], "type": kind, "position": position, "data": drop_none(data)}
        )
    for index, name in enumerate(trigger_names):
        kind = draw(st.sampled_from(["webhook", "manual", "schedule"]))
        data = {
            "name": name,
            "kind": kind,
            "description": draw(optional(TEXT)),
            "cron": draw(st.sampled_from(CRONS)) if kind == "schedule" else None,
            "timezone": draw(st.sampled_from(TIMEZONES)) if kind == "schedule" else None,
            "payload": draw(optional(st.dictionaries(TEXT, JSON, max_size=3))),
        }
        nodes.append(
            {
                "id": trigger_ids[index],
                "type": "trigger",
                "position": draw(POSITION),
                "data": drop_none(data),
                "selected": draw(st.booleans()),
            }
        )
    id_of = dict(zip(names, listener_ids, strict=True))
    edges: list[dict[str, Any]] = []
    for index in range(count):
        for peer in peers[index]:
            edges.append({"source": listener_ids[index], "target": id_of[peer]})
        if errors[index] is not None:
            edges.append(
                {
                    "source": listener_ids[index],
                    "target": id_of[str(errors[index])],
                    "sourceHandle": "error",
                }
            )
    for index in range(trigger_count):
        target = draw(st.sampled_from(listener_ids))
        edges.append({"source": trigger_ids[index], "target": target})
    edges = draw(st.permutations(edges))
    edges = [{"id": f"edge-{number}", **item} for number, item in enumerate(edges)]
    canvas: dict[str, Any] = {
        "nodes": draw(st.permutations(nodes)),
        "edges": edges,
        "viewport": {"x": draw(FINITE), "y": draw(FINITE), "zoom": draw(st.floats(0.1, 4))},
    }
    if draw(st.booleans()):
        canvas["settings"] = {
            "memory": {"project": draw(st.booleans())},
            "limits": {
                "max_steps": draw(st.integers(1, 1_000_000)),
                "timeout_seconds": draw(st.integers(1, 86_400) | st.floats(0.5, 86_400)),
            },
        }
    return canvas


PROPERTY_SETTINGS = settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def positions_by_name(canvas: dict[str, Any]) -> dict[tuple[bool, str], Any]:
    return {
        (item["type"] == "trigger", item["data"]["name"]): item["position"]
        for item in canvas["nodes"]
    }


@PROPERTY_SETTINGS
@given(canvas=canvases(), name=SLUGS, description=optional(TEXT))
def test_compile_parse_compile_is_byte_stable(
    canvas: dict[str, Any], name: str, description: str | None
) -> None:
    first = compile_canvas(canvas, name=name, description=description)
    assert first.problems == [], [item.model_dump() for item in first.problems]
    assert first.yaml is not None and first.organism is not None

    # The YAML is the organism's canonical text: parse(emit(o)) == o, emit(parse(y)) == y.
    organism = parse_organism(first.yaml)
    assert organism == first.organism
    assert emit_organism(organism) == first.yaml
    assert validate_organism(organism) == []

    parsed = parse_to_canvas(first.yaml, previous=canvas)
    assert parsed.problems == [] and parsed.canvas is not None
    wire = json.loads(json.dumps(parsed.canvas, allow_nan=False))  # what the browser sends back
    assert wire == parsed.canvas
    assert positions_by_name(wire) == positions_by_name(canvas)
    assert wire["viewport"] == canvas["viewport"]

    second = compile_canvas(wire, name=name, description=description)
    assert second.problems == []
    assert second.yaml == first.yaml
    assert parse_to_canvas(second.yaml, previous=wire).canvas == wire
    # Without a previous canvas the layout is automatic, and compiles to the same YAML.
    laid_out = parse_to_canvas(first.yaml).canvas
    assert laid_out is not None
    assert compile_canvas(laid_out, name=name, description=description).yaml == first.yaml
