"""builtin.wait in the language: its settings are checked, and the canvas compiles a wait node."""

from __future__ import annotations

import pytest

from pump.organism import OrganismError, parse_organism
from pump.organism.canvas import build_organism
from tests.pump.organism.test_organism_canvas import edge, node


def organism(config: str, peers: str = "[done, late]") -> str:
    return f"""version: 1
organism: {{name: waiting}}
triggers: [{{name: run, kind: manual, target: pause}}]
listeners:
  - {{name: pause, handler: builtin.wait, peers: {peers}, config: {config}}}
  - {{name: done, handler: builtin.output}}
  - {{name: late, handler: builtin.output}}
"""


def test_every_kind_of_wait_is_accepted() -> None:
    for config in (
        "{kind: timer, seconds: 2}",
        "{kind: timer, until: '{{ payload.at }}'}",
        "{kind: event, topic: order.paid, correlation: '{{ payload.id }}'}",
        "{kind: approval, message: 'ok?', timeout_seconds: 60, on_timeout: late}",
    ):
        parse_organism(organism(config))


@pytest.mark.parametrize(
    ("config", "path", "message"),
    [
        ("{kind: timer}", "listeners[0].config", "either 'seconds' or 'until'"),
        ("{kind: timer, seconds: 1, until: x}", "listeners[0].config", "either"),
        ("{kind: event, topic: t}", "listeners[0].config.correlation", "needs 'correlation'"),
        ("{kind: approval, seconds: 3}", "listeners[0].config.seconds", "does not apply"),
        ("{kind: nap}", "listeners[0].config.kind", "timer"),
        (
            "{kind: approval, timeout_seconds: 5, on_timeout: nobody}",
            "listeners[0].config.on_timeout",
            "nobody",
        ),
        ("{kind: approval, on_timeout: late}", "listeners[0].config.timeout_seconds", "needs"),
    ],
)
def test_bad_waits_name_the_field(config: str, path: str, message: str) -> None:
    with pytest.raises(OrganismError) as raised:
        parse_organism(organism(config))
    found = [(item.path, item.message) for item in raised.value.problems]
    assert any(at.startswith(path) and message in text for at, text in found), found


def test_on_timeout_must_be_a_peer() -> None:
    with pytest.raises(OrganismError, match="not one of this listener's peers"):
        parse_organism(organism("{kind: approval, timeout_seconds: 5, on_timeout: late}", "[done]"))


def test_the_canvas_compiles_a_wait_node() -> None:
    canvas = {
        "nodes": [
            node("t", "trigger", 0, 0, name="run", kind="manual"),
            node("w", "wait", 0, 100, name="pause", config={"kind": "approval", "message": "ok?"}),
            node("o", "output", 0, 200, name="done"),
        ],
        "edges": [edge("t", "w"), edge("w", "o")],
    }
    built = build_organism(canvas, name="waiting")
    assert built.problems == []
    assert built.organism is not None
    [pause, _] = built.organism.listeners
    assert pause.handler == "builtin.wait" and pause.peers == ["done"]
