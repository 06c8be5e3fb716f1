"""The canvas <-> organism compiler: round trips, canvas problems, layout."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from pump.organism import (
    OrganismError,
    canvas_to_organism,
    compile_canvas,
    emit_organism,
    organism_to_canvas,
    parse_organism,
    parse_to_canvas,
)


def node(node_id: str, node_type: str, x: float, y: float, **data: Any) -> dict[str, Any]:
    return {"id": node_id, "type": node_type, "position": {"x": x, "y": y}, "data": data}


def edge(source: str, target: str, handle: str | None = None) -> dict[str, Any]:
    result = {"id": f"e-{source}-{target}-{handle}", "source": source, "target": target}
    if handle is not None:
        result["sourceHandle"] = handle
    return result


def every_node_type() -> dict[str, Any]:
    """Each node type, a branch, a loop, an error edge and a schedule trigger; React Flow
    extras (selected, measured, edge types) that the compiler ignores."""
    return {
        "nodes": [
            node("n1", "trigger", -40, 10, name="inbound", kind="webhook"),
            node(
                "n2",
                "trigger",
                -40,
                160,
                name="nightly",
                kind="schedule",
                cron="0 2 * * *",
                timezone="Europe/Paris",
                payload={"mode": "batch"},
                description="Every night",
            ),
            node("n3", "trigger", -40, 310, name="run", kind="manual"),
            node(
                "n4",
                "llm",
                250.5,
                10,
                name="classify",
                description="Ask the model",
                config={
                    "model": "gpt-4o-mini",
                    "prompt": "Priority of:\n{{ payload.body }}\n",
                    "api_key": "${secrets.OPENAI_API_KEY}",
                    "output": "json",
                },
                timeout_seconds=30,
            ),
            node(
                "n5",
                "branch",
                500,
                10,
                name="route",
                config={
                    "cases": [
                        {"when": "payload.priority == 'high'", "to": "escalate"},
                        {"when": "payload.enrich", "to": "enrich"},
                    ],
                    "default": "archive",
                },
            ),
            node(
                "n6",
                "http",
                750,
                -100,
                name="escalate",
                config={
                    "method": "POST",
                    "url": "https://hooks.example.com/page",
                    "json": {"ticket": "{{ payload }}"},
                },
            ),
            node(
                "n7",
                "code",
                750,
                100,
                name="enrich",
                handler="tool:acme/enricher@1.2.0",
                config={"depth": 2, "fields": ["a", "b"]},
            ),
            node(
                "n8",
                "transform",
                1000,
                -100,
                name="shape",
                config={"set": {"total": "{{ sum(payload.prices) }}"}},
            ),
            node(
                "n9",
                "memory",
                1000,
                100,
                name="remember",
                config={"op": "set", "key": "last", "value": "{{ payload }}"},
            ),
            node(
                "n10",
                "loop",
                250,
                310,
                name="poll",
                max_iterations=3,
                description="Poll until done",
            ),
            node("n11", "output", 1250, 10, name="archive", config={"expression": "payload"}),
            node("n12", "code", 1250, 200, name="score", handler="wasm:scorer@0.3.1"),
        ],
        "edges": [
            edge("n1", "n4"),
            edge("n2", "n10"),
            edge("n3", "n4"),
            edge("n4", "n5"),
            {**edge("n5", "n6"), "type": "smoothstep", "animated": True},
            edge("n5", "n7"),
            edge("n5", "n11"),
            edge("n6", "n8"),
            edge("n6", "n11", "error"),
            edge("n7", "n9"),
            edge("n8", "n11"),
            edge("n9", "n11"),
            edge("n10", "n11"),
            edge("n10", "n12"),
        ],
        "viewport": {"x": 12.5, "y": -3, "zoom": 0.8},
        "settings": {
            "memory": {"project": True},
            "limits": {"max_steps": 500, "timeout_seconds": 90},
        },
    }


def test_canvas_yaml_canvas_yaml_is_byte_identical() -> None:
    canvas = every_node_type()
    first = compile_canvas(canvas, name="triage", description="Every node type")
    assert first.problems == [] and first.yaml is not None
    parsed = parse_to_canvas(first.yaml, previous=canvas)
    assert parsed.problems == [] and parsed.canvas is not None
    second = compile_canvas(
        json.loads(json.dumps(parsed.canvas)), name="triage", description="Every node type"
    )
    assert second.yaml == first.yaml
    again = parse_to_canvas(second.yaml, previous=parsed.canvas)
    assert again.canvas == parsed.canvas


def test_what_the_canvas_compiles_to() -> None:
    canvas = every_node_type()
    organism = canvas_to_organism(canvas, name="triage")
    assert [item.name for item in organism.triggers] == ["inbound", "nightly", "run"]
    assert organism.triggers[1].target == "poll"
    by_name = {item.name: item for item in organism.listeners}
    assert by_name["route"].peers == ["escalate", "enrich", "archive"]
    assert by_name["escalate"].on_error == "archive"
    assert by_name["escalate"].peers == ["shape"]
    assert by_name["poll"].peers == ["poll", "archive", "score"]  # the loop's self-peer first
    assert by_name["poll"].handler == "builtin.transform"
    assert by_name["enrich"].handler == "tool:acme/enricher@1.2.0"
    assert by_name["classify"].handler == "builtin.llm"
    assert organism.memory.project is True and organism.limits.max_steps == 500
    text = emit_organism(organism)
    assert "position" not in text and "n4" not in text
    assert "peers: [poll, archive, score]" in text
    assert parse_organism(text) == organism


def test_organism_to_canvas_ids_types_and_edges() -> None:
    canvas = every_node_type()
    organism = canvas_to_organism(canvas, name="triage")
    result = organism_to_canvas(organism, previous=canvas)
    types = {item["id"]: item["type"] for item in result["nodes"]}
    assert types == {
        "trigger:inbound": "trigger",
        "trigger:nightly": "trigger",
        "trigger:run": "trigger",
        "listener:classify": "llm",
        "listener:route": "branch",
        "listener:escalate": "http",
        "listener:enrich": "code",
        "listener:shape": "transform",
        "listener:remember": "memory",
        "listener:poll": "loop",
        "listener:archive": "output",
        "listener:score": "code",
    }
    edges = {item["id"]: item for item in result["edges"]}
    assert edges["error:escalate->archive"] == {
        "id": "error:escalate->archive",
        "source": "listener:escalate",
        "target": "listener:archive",
        "sourceHandle": "error",
    }
    assert edges["peer:poll->poll"]["target"] == "listener:poll"
    assert edges["trigger:nightly->poll"]["source"] == "trigger:nightly"
    positions = {item["data"]["name"]: item["position"] for item in result["nodes"]}
    assert positions["classify"] == {"x": 250.5, "y": 10}
    assert result["viewport"] == {"x": 12.5, "y": -3, "zoom": 0.8}
    assert result["settings"] == {
        "memory": {"project": True},
        "limits": {"max_steps": 500, "timeout_seconds": 90},
    }


def test_hand_written_yaml_is_laid_out_in_layers() -> None:
    text = """
version: 1
organism: {name: layered}
triggers: [{name: go, kind: manual, target: a}, {name: hook, kind: webhook, target: b}]
listeners:
  - {name: a, handler: builtin.transform, peers: [c]}
  - {name: b, handler: builtin.transform, peers: [c]}
  - {name: c, handler: builtin.output}
  - {name: lonely, handler: builtin.output}
"""
    result = parse_to_canvas(text)
    assert result.canvas is not None
    positions = {item["id"]: item["position"] for item in result.canvas["nodes"]}
    assert positions == {
        "trigger:go": {"x": 0, "y": 0},
        "trigger:hook": {"x": 0, "y": 150},
        "listener:a": {"x": 300, "y": 0},
        "listener:b": {"x": 300, "y": 150},
        "listener:c": {"x": 600, "y": 0},
        "listener:lonely": {"x": 900, "y": 0},
    }
    assert result.canvas["viewport"] == {"x": 0, "y": 0, "zoom": 1}
    assert parse_to_canvas(text).canvas == result.canvas  # deterministic


def test_new_nodes_go_below_the_ones_kept_from_the_previous_canvas() -> None:
    previous = {
        "nodes": [node("whatever", "trigger", 7, 420, name="go", kind="manual")],
        "edges": [],
        "viewport": "not a viewport",
    }
    text = """
version: 1
organism: {name: placed}
triggers: [{name: go, kind: manual, target: a}]
listeners: [{name: a, handler: builtin.output}]
"""
    result = parse_to_canvas(text, previous=previous)
    assert result.canvas is not None
    positions = {item["id"]: item["position"] for item in result.canvas["nodes"]}
    assert positions == {"trigger:go": {"x": 7, "y": 420}, "listener:a": {"x": 300, "y": 570}}
    assert result.canvas["viewport"] == {"x": 0, "y": 0, "zoom": 1}


def test_edge_handles_of_the_previous_canvas_are_kept() -> None:
    canvas = every_node_type()
    canvas["edges"][5] = {**canvas["edges"][5], "sourceHandle": "case-1", "targetHandle": "in"}
    result = compile_canvas(canvas, name="triage")
    assert result.yaml is not None
    parsed = parse_to_canvas(result.yaml, previous=canvas)
    assert parsed.canvas is not None
    edges = {item["id"]: item for item in parsed.canvas["edges"]}
    assert edges["peer:route->enrich"]["sourceHandle"] == "case-1"
    assert edges["peer:route->enrich"]["targetHandle"] == "in"
    assert "sourceHandle" not in edges["peer:route->escalate"]


def test_previous_canvas_of_any_shape_is_tolerated() -> None:
    text = emit_organism(canvas_to_organism(every_node_type(), name="triage"))
    for previous in ({}, {"nodes": "x", "edges": [1, None]}, {"nodes": [None, {"data": 3}]}):
        assert parse_to_canvas(text, previous=previous).canvas is not None


def mutated(change: Any) -> dict[str, Any]:
    canvas = every_node_type()
    change(canvas)
    return canvas


def set_data(index: int, **data: Any) -> Any:
    return lambda canvas: canvas["nodes"][index]["data"].update(data)


def set_node(index: int, **fields: Any) -> Any:
    return lambda canvas: canvas["nodes"][index].update(fields)


def add_edge(*args: Any) -> Any:
    return lambda canvas: canvas["edges"].append(edge(*args))


STRUCTURAL = [
    (
        "not an object",
        lambda canvas: canvas.clear() or canvas.update(nodes=5),
        "nodes",
        None,
        "nodes must be a list",
    ),
    (
        "unknown canvas key",
        lambda canvas: canvas.update(setting={}),
        "setting",
        None,
        "unknown canvas key 'setting'",
    ),
    (
        "unknown settings key",
        lambda canvas: canvas["settings"].update(memry={}),
        "settings.memry",
        None,
        "unknown settings key 'memry'",
    ),
    (
        "unknown node type",
        set_node(4, type="switch"),
        "nodes[4].type",
        "n5",
        "unknown node type 'switch'",
    ),
    (
        "duplicate node id",
        lambda canvas: canvas["nodes"].append(node("n4", "output", 0, 0, name="extra")),
        "nodes[12].id",
        "n4",
        "node id 'n4' is used twice",
    ),
    (
        "missing name",
        lambda canvas: canvas["nodes"][3]["data"].pop("name"),
        "nodes[3].data.name",
        "n4",
        "missing required key 'name'",
    ),
    (
        "invalid name",
        set_data(3, name="my step"),
        "nodes[3].data.name",
        "n4",
        "'my step' is not a valid name",
    ),
    (
        "duplicate listener name",
        set_data(4, name="classify"),
        "nodes[4].data.name",
        "n5",
        "listener name 'classify' is used twice (first at nodes[3])",
    ),
    (
        "unknown data key",
        set_data(3, label="Classify"),
        "nodes[3].data.label",
        "n4",
        "unknown key 'label' in llm node data",
    ),
    (
        "peers in data",
        set_data(3, peers=["route"]),
        "nodes[3].data.peers",
        "n4",
        "unknown key 'peers'",
    ),
    ("data not a mapping", set_node(3, data=[1]), "nodes[3].data", "n4", "data must be a mapping"),
    (
        "not a finite number",
        set_data(3, config={"model": "m", "prompt": "p", "temperature": float("nan")}),
        "nodes[3].data.config",
        "n4",
        "nan is not a finite number",
    ),
    (
        "handler contradicts type",
        set_data(3, handler="builtin.http"),
        "nodes[3].data.handler",
        "n4",
        "a llm node runs builtin.llm",
    ),
    (
        "code node without handler",
        lambda canvas: canvas["nodes"][6]["data"].pop("handler"),
        "nodes[6].data.handler",
        "n7",
        "a code node needs a handler",
    ),
    (
        "code node with a builtin",
        set_data(6, handler="builtin.http"),
        "nodes[6].data.handler",
        "n7",
        "use a http node for builtin.http",
    ),
    (
        "edge to a missing node",
        add_edge("n4", "n99"),
        "edges[14].target",
        None,
        "edge target 'n99' is not a node of this canvas",
    ),
    (
        "edge into a trigger",
        add_edge("n4", "n1"),
        "edges[14].target",
        "n4",
        "a trigger cannot receive edges",
    ),
    (
        "trigger with two targets",
        add_edge("n1", "n5"),
        "edges[14]",
        "n1",
        "trigger 'inbound' already targets 'classify'",
    ),
    (
        "trigger without target",
        lambda canvas: canvas["edges"].pop(0),
        "nodes[0]",
        "n1",
        "trigger 'inbound' is not connected to a listener",
    ),
    (
        "two error edges",
        add_edge("n6", "n9", "error"),
        "edges[14]",
        "n6",
        "already has an error edge",
    ),
    ("duplicate edge", add_edge("n5", "n6"), "edges[14]", "n5", "this edge duplicates edges[4]"),
    (
        "trigger kind missing",
        lambda canvas: canvas["nodes"][0]["data"].pop("kind"),
        "nodes[0].data.kind",
        "n1",
        "missing required key 'kind'",
    ),
    (
        "timeout not a number",
        set_data(3, timeout_seconds="slow"),
        "nodes[3].data.timeout_seconds",
        "n4",
        "must be a number",
    ),
    (
        "bad limits",
        lambda canvas: canvas["settings"]["limits"].update(max_steps=0),
        "settings.limits.max_steps",
        None,
        "must be at least 1",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "node_id", "fragment"),
    [
        pytest.param(change, path, node_id, fragment, id=name)
        for name, change, path, node_id, fragment in STRUCTURAL
    ],
)
def test_structural_canvas_problems(
    change: Any, path: str, node_id: str | None, fragment: str
) -> None:
    result = compile_canvas(mutated(change), name="triage")
    assert result.yaml is None and result.organism is None
    found = [(item.path, item.node_id) for item in result.problems]
    assert found == [(path, node_id)], [item.model_dump() for item in result.problems]
    assert fragment in result.problems[0].message
    with pytest.raises(OrganismError):
        canvas_to_organism(mutated(change), name="triage")


SEMANTIC = [
    (
        "branch target not a peer",
        set_data(4, config={"cases": [{"when": "a", "to": "shape"}]}),
        "nodes[4].data.config.cases[0].to",
        "n5",
        "not one of this listener's peers",
    ),
    (
        "unbounded cycle",
        add_edge("n11", "n4"),
        "nodes[3].data.max_iterations",
        "n4",
        "form a cycle with no max_iterations bound",
    ),
    (
        "unbounded self-edge",
        add_edge("n8", "n8"),
        "nodes[7].data.max_iterations",
        "n8",
        "sends to itself",
    ),
    ("bad cron", set_data(1, cron="every night"), "nodes[1].data.cron", "n2", "must have 5 fields"),
    (
        "bad timezone",
        set_data(1, timezone="Paris"),
        "nodes[1].data.timezone",
        "n2",
        "unknown timezone",
    ),
    (
        "bad wasm reference",
        set_data(11, handler="wasm:Scorer"),
        "nodes[11].data.handler",
        "n12",
        "not a valid WASM reference",
    ),
    (
        "invalid template",
        set_data(5, config={"url": "{{ payload. }}"}),
        "nodes[5].data.config.url",
        "n6",
        "invalid JMESPath",
    ),
    (
        "bad llm config",
        set_data(3, config={"model": "m"}),
        "nodes[3].data.config.prompt",
        "n4",
        "missing required key 'prompt'",
    ),
    (
        "agent on a transform",
        set_data(7, agent=True),
        "nodes[7].data.agent",
        "n8",
        "only builtin.llm listeners can be agents",
    ),
]


@pytest.mark.parametrize(
    ("change", "path", "node_id", "fragment"),
    [
        pytest.param(change, path, node_id, fragment, id=name)
        for name, change, path, node_id, fragment in SEMANTIC
    ],
)
def test_semantic_canvas_problems_still_compile(
    change: Any, path: str, node_id: str, fragment: str
) -> None:
    result = compile_canvas(mutated(change), name="triage")
    assert result.yaml is not None and result.organism is not None  # the editor keeps working
    found = [(item.path, item.node_id) for item in result.problems]
    assert found == [(path, node_id)], [item.model_dump() for item in result.problems]
    assert fragment in result.problems[0].message
    with pytest.raises(OrganismError) as caught:
        canvas_to_organism(mutated(change), name="triage")
    assert caught.value.problems == result.problems


def test_the_flow_name_must_be_a_slug() -> None:
    result = compile_canvas(every_node_type(), name="My Flow")
    assert [(item.path, item.node_id) for item in result.problems] == [("organism.name", None)]


def test_a_canvas_that_is_not_an_object() -> None:
    result = compile_canvas([], name="x")  # type: ignore[arg-type]
    assert [item.path for item in result.problems] == ["$"]


def test_an_empty_canvas_is_an_empty_organism() -> None:
    result = compile_canvas(
        {"nodes": [], "edges": [], "viewport": {"x": 0, "y": 0, "zoom": 1}}, name="blank"
    )
    assert result.problems == [] and result.yaml is not None
    assert "triggers: []\nlisteners: []\n" in result.yaml


def test_parse_to_canvas_with_semantic_problems_keeps_the_canvas() -> None:
    text = """\
version: 1
organism: {name: broken}
triggers: [{name: go, kind: manual, target: a}]
listeners:
  - {name: a, handler: builtin.transform, peers: [b, missing]}
  - {name: b, handler: "wasm:Bad"}
"""
    result = parse_to_canvas(text)
    assert result.canvas is not None and result.organism is not None
    found = [(item.path, item.line, item.node_id) for item in result.problems]
    assert found == [
        ("listeners[0].peers[1]", 5, "listener:a"),
        ("listeners[1].handler", 6, "listener:b"),
    ]
    assert [item["id"] for item in result.canvas["edges"]] == ["trigger:go->a", "peer:a->b"]


def test_parse_to_canvas_with_duplicate_names_keeps_ids_unique() -> None:
    text = """\
version: 1
organism: {name: twice}
triggers: []
listeners:
  - {name: a, handler: builtin.output, peers: [a], max_iterations: 2}
  - {name: a, handler: builtin.output, peers: [a], max_iterations: 2}
"""
    result = parse_to_canvas(text)
    assert result.canvas is not None
    assert [item["id"] for item in result.canvas["nodes"]] == ["listener:a", "listener:a~2"]
    assert len({item["id"] for item in result.canvas["edges"]}) == 2
    assert [item.node_id for item in result.problems] == ["listener:a~2"]


def test_parse_to_canvas_with_structural_problems_gives_no_canvas() -> None:
    result = parse_to_canvas("version: 1\norganism: {name: x}\nlisteners: [{name: a}]\n")
    assert result.canvas is None and result.organism is None
    assert [(item.path, item.line) for item in result.problems] == [("listeners[0].handler", 3)]


def test_compiling_does_not_mutate_the_canvas() -> None:
    canvas = every_node_type()
    snapshot = copy.deepcopy(canvas)
    organism = canvas_to_organism(canvas, name="triage")
    organism.listeners[0].config["model"] = "changed"
    result = organism_to_canvas(organism)
    result["nodes"][3]["data"]["config"]["model"] = "again"
    assert canvas == snapshot
    assert organism.listeners[0].config["model"] == "changed"


def nested_list(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = [value]
    return value


@pytest.mark.parametrize(("depth", "compiles"), [(95, True), (96, False)])
def test_node_data_nesting_stays_within_what_the_parser_reads(depth: int, compiles: bool) -> None:
    canvas = {
        "nodes": [
            node(
                "a",
                "code",
                0,
                0,
                name="a",
                handler="wasm:mod@1",
                config={"deep": nested_list(depth)},
            )
        ],
        "edges": [],
    }
    result = compile_canvas(canvas, name="deep")
    if compiles:
        assert result.yaml is not None and parse_organism(result.yaml) == result.organism
    else:
        assert [item.path for item in result.problems] == ["nodes[0].data.config"]
        assert "nests deeper than 96 levels" in result.problems[0].message


def test_null_data_values_mean_absent() -> None:
    canvas = every_node_type()
    canvas["nodes"][3]["data"].update(description=None, agent=None, max_iterations=None)
    assert compile_canvas(canvas, name="triage").yaml == compile_canvas(
        every_node_type(), name="triage"
    ).yaml.replace("    description: Ask the model\n", "")  # type: ignore[union-attr]


def test_a_flow_too_large_for_the_document_cap_is_refused() -> None:
    canvas = every_node_type()
    canvas["nodes"][6]["data"]["config"] = {"blob": "x" * (300 * 1024)}
    result = compile_canvas(canvas, name="large")
    assert result.yaml is None
    assert [item.path for item in result.problems] == ["$"]
    assert "more than 256 KiB" in result.problems[0].message
