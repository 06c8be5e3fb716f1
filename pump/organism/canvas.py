"""Canvas (React Flow JSON) -> organism. The canvas format is described in README.md beside this
module. Problems of the canvas point at canvas paths (`nodes[3].data.name`, `edges[5]`) and
carry the id of the node they concern, including the semantic problems of the organism."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from pydantic import ValidationError

from pump.organism.emitter import emit_organism
from pump.organism.loader import MAX_DEPTH, MAX_DOCUMENT_BYTES
from pump.organism.model_errors import validation_problems
from pump.organism.models import BUILTIN_HANDLERS, NAME_PATTERN, Organism
from pump.organism.problems import PathParts, Problem, RawProblem, format_path, quoted
from pump.organism.validator import check

TRIGGER_TYPE = "trigger"
IMPLIED_HANDLERS = {
    "llm": "builtin.llm",
    "http": "builtin.http",
    "branch": "builtin.branch",
    "transform": "builtin.transform",
    "output": "builtin.output",
    "memory": "builtin.memory",
    "wait": "builtin.wait",
}
LOOP_TYPE, CODE_TYPE = "loop", "code"
LOOP_DEFAULT_HANDLER = "builtin.transform"
NODE_TYPES = (
    TRIGGER_TYPE,
    "llm",
    "http",
    CODE_TYPE,
    "branch",
    "transform",
    LOOP_TYPE,
    "output",
    "memory",
    "wait",
)
TRIGGER_DATA_KEYS = ("name", "kind", "description", "cron", "timezone", "payload")
LISTENER_DATA_KEYS = (
    "name",
    "handler",
    "description",
    "agent",
    "config",
    "timeout_seconds",
    "max_iterations",
)
CANVAS_KEYS = ("nodes", "edges", "viewport", "settings")
SETTINGS_KEYS = ("memory", "limits")
ERROR_HANDLE = "error"
MAX_CANVAS_NODES = 2_000
MAX_CANVAS_EDGES = 10_000
# A node data value sits four levels deep in the YAML (document, section, item, key), and
# the compiled YAML must stay within the loader's nesting bound.
DATA_DEPTH = MAX_DEPTH - 4
_NAME = re.compile(NAME_PATTERN)
_NAME_RULE = (
    "use letters, digits, '-' and '_', starting with a letter or '_', at most 63 characters"
)


class CanvasBuild(NamedTuple):
    organism: Organism | None
    """None when the canvas does not describe an organism (structural problems)."""
    yaml: str | None
    problems: list[Problem]


@dataclass
class _Placed:
    """Where a trigger or listener of the organism came from on the canvas."""

    node_index: int
    node_id: str
    edge_of_target: int | None = None
    peer_edges: list[int | None] = field(default_factory=list)
    error_edge: int | None = None


def _json_problem(value: Any, depth: int = 0) -> str | None:
    """Why a node data value cannot live in an organism (it must be plain JSON), or None."""
    if depth > DATA_DEPTH:
        return f"the value nests deeper than {DATA_DEPTH} levels"
    if isinstance(value, float) and not math.isfinite(value):
        return f"{value} is not a finite number"
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"mapping keys must be strings ({quoted(key)} is not)"
            if (problem := _json_problem(item, depth + 1)) is not None:
                return problem
    elif isinstance(value, list):
        for item in value:
            if (problem := _json_problem(item, depth + 1)) is not None:
                return problem
    elif not isinstance(value, str | int | float | bool | type(None)):
        return f"{type(value).__name__} is not a JSON value"
    return None


class _CanvasCompiler:
    def __init__(self, canvas: Any, name: str, description: str | None) -> None:
        self.canvas = canvas
        self.name, self.description = name, description
        self.problems: list[Problem] = []
        self.triggers: list[dict[str, Any]] = []
        self.listeners: list[dict[str, Any]] = []
        self.trigger_places: list[_Placed] = []
        self.listener_places: list[_Placed] = []
        self.loops: set[int] = set()
        # node id -> (is trigger, index in self.triggers / self.listeners)
        self.by_id: dict[str, tuple[bool, int]] = {}
        self.broken_ids: set[str] = set()
        self.aimed_at_broken: set[int] = set()  # triggers with an edge to an unusable node

    def report(self, parts: PathParts, message: str, node_id: str | None = None) -> None:
        self.problems.append(Problem(path=format_path(parts), message=message, node_id=node_id))

    def compile(self) -> CanvasBuild:
        if not self.read_top_level():
            return CanvasBuild(None, None, self.problems)
        nodes = self.canvas.get("nodes", [])
        edges = self.canvas.get("edges", [])
        for index, node in enumerate(nodes):
            self.read_node(index, node)
        for index, edge in enumerate(edges):
            self.read_edge(index, edge)
        self.finish_listeners()
        connected = []
        for index, (trigger, place) in enumerate(
            zip(self.triggers, self.trigger_places, strict=True)
        ):
            if place.edge_of_target is not None:
                connected.append((trigger, place))
            elif index not in self.aimed_at_broken:
                message = f"trigger {quoted(trigger['name'])} is not connected to a listener"
                self.report(("nodes", place.node_index), message, place.node_id)
        self.triggers = [trigger for trigger, _ in connected]
        self.trigger_places = [place for _, place in connected]
        document = self.document()
        try:
            organism = Organism.model_validate(document)
        except ValidationError as error:
            self.place(validation_problems(error, Organism))
            return CanvasBuild(None, None, self.problems)
        if self.problems:
            return CanvasBuild(None, None, self.problems)
        text = emit_organism(organism)
        if len(text.encode("utf-8")) > MAX_DOCUMENT_BYTES:
            limit = MAX_DOCUMENT_BYTES // 1024
            self.report((), f"the flow compiles to more than {limit} KiB of YAML; make it smaller")
            return CanvasBuild(None, None, self.problems)
        self.place(check(organism))
        return CanvasBuild(organism, text, self.problems)

    def read_top_level(self) -> bool:
        if not isinstance(self.canvas, dict):
            self.report((), "the canvas must be a JSON object with nodes, edges and viewport")
            return False
        for key in self.canvas:
            if key not in CANVAS_KEYS:
                self.report(
                    (str(key),),
                    f"unknown canvas key {quoted(key)} (allowed: nodes, edges, viewport, settings)",
                )
        for key, limit in (("nodes", MAX_CANVAS_NODES), ("edges", MAX_CANVAS_EDGES)):
            value = self.canvas.get(key, [])
            if not isinstance(value, list):
                self.report((key,), f"{key} must be a list (got {quoted(value)})")
            elif len(value) > limit:
                self.report((key,), f"a canvas has at most {limit} {key} (got {len(value)})")
        settings = self.canvas.get("settings", {})
        if not isinstance(settings, dict):
            self.report(("settings",), f"settings must be a mapping (got {quoted(settings)})")
        else:
            for key in settings:
                if key not in SETTINGS_KEYS:
                    self.report(
                        ("settings", str(key)),
                        f"unknown settings key {quoted(key)} (allowed: memory, limits)",
                    )
        return not self.problems

    def read_node(self, index: int, node: Any) -> None:
        at: PathParts = ("nodes", index)
        if not isinstance(node, dict):
            self.report(at, f"a node must be a JSON object (got {quoted(node)})")
            return
        node_id = node.get("id")
        if not isinstance(node_id, str) or not node_id:
            self.report((*at, "id"), "a node needs a non-empty string id")
            return
        if node_id in self.by_id or node_id in self.broken_ids:
            self.report((*at, "id"), f"node id {quoted(node_id)} is used twice", node_id)
            return
        self.broken_ids.add(node_id)  # until the node is known to be usable
        node_type, data = node.get("type"), node.get("data", {})
        if node_type not in NODE_TYPES:
            message = f"unknown node type {quoted(node_type)}; use one of {', '.join(NODE_TYPES)}"
            self.report((*at, "type"), message, node_id)
            return
        if not isinstance(data, dict):
            self.report((*at, "data"), f"data must be a mapping (got {quoted(data)})", node_id)
            return
        is_trigger = node_type == TRIGGER_TYPE
        allowed = TRIGGER_DATA_KEYS if is_trigger else LISTENER_DATA_KEYS
        usable = True
        data = {key: value for key, value in data.items() if value is not None}
        for key, value in data.items():
            if key not in allowed:
                message = f"unknown key {quoted(key)} in {node_type} node data (allowed: "
                self.report((*at, "data", str(key)), message + ", ".join(allowed) + ")", node_id)
            elif (problem := _json_problem(value)) is not None:
                self.report((*at, "data", key), problem, node_id)
                usable = False
        name = data.get("name")
        if not self.check_name(at, node_id, name, is_trigger) or not usable:
            return
        entry = {key: value for key, value in data.items() if key in allowed}
        self.broken_ids.discard(node_id)
        place = _Placed(node_index=index, node_id=node_id)
        if is_trigger:
            self.by_id[node_id] = (True, len(self.triggers))
            self.triggers.append(entry)
            self.trigger_places.append(place)
            return
        entry["handler"] = self.handler_of(at, node_id, str(node_type), data)
        entry["peers"] = []
        if node_type == LOOP_TYPE:
            self.loops.add(len(self.listeners))
        self.by_id[node_id] = (False, len(self.listeners))
        self.listeners.append(entry)
        self.listener_places.append(place)

    def check_name(self, at: PathParts, node_id: str, name: Any, is_trigger: bool) -> bool:
        if name is None:
            self.report((*at, "data", "name"), "missing required key 'name'", node_id)
            return False
        if not isinstance(name, str) or not _NAME.match(name):
            message = f"{quoted(name)} is not a valid name: {_NAME_RULE}"
            self.report((*at, "data", "name"), message, node_id)
            return False
        entries = self.triggers if is_trigger else self.listeners
        places = self.trigger_places if is_trigger else self.listener_places
        for entry, place in zip(entries, places, strict=True):
            if entry["name"] == name:
                noun = "trigger" if is_trigger else "listener"
                where = format_path(("nodes", place.node_index))
                message = f"{noun} name {quoted(name)} is used twice (first at {where})"
                self.report((*at, "data", "name"), message, node_id)
                return False
        return True

    def handler_of(self, at: PathParts, node_id: str, node_type: str, data: dict[str, Any]) -> Any:
        handler = data.get("handler")
        if node_type in IMPLIED_HANDLERS:
            implied = IMPLIED_HANDLERS[node_type]
            if handler is not None and handler != implied:
                message = f"a {node_type} node runs {implied} (got {quoted(handler)})"
                self.report((*at, "data", "handler"), message, node_id)
            return implied
        if node_type == LOOP_TYPE:
            return LOOP_DEFAULT_HANDLER if handler is None else handler
        if handler is None:
            message = "a code node needs a handler: wasm:<module-id>@<version> or tool:<listing>@<version>"
            self.report((*at, "data", "handler"), message, node_id)
            return ""  # reported here; keeps the model from repeating it
        if handler in BUILTIN_HANDLERS:
            kind = next(key for key, value in IMPLIED_HANDLERS.items() if value == handler)
            message = f"a code node runs a WASM module or a tool; use a {kind} node for {handler}"
            self.report((*at, "data", "handler"), message, node_id)
        return handler

    def endpoint(self, at: PathParts, edge: dict[str, Any], role: str) -> tuple[bool, int] | None:
        node_id = edge.get(role)
        if isinstance(node_id, str) and node_id in self.by_id:
            return self.by_id[node_id]
        if not (isinstance(node_id, str) and node_id in self.broken_ids):
            self.report((*at, role), f"edge {role} {quoted(node_id)} is not a node of this canvas")
        return None

    def read_edge(self, index: int, edge: Any) -> None:
        at: PathParts = ("edges", index)
        if not isinstance(edge, dict):
            self.report(at, f"an edge must be a JSON object (got {quoted(edge)})")
            return
        source, target = self.endpoint(at, edge, "source"), self.endpoint(at, edge, "target")
        if source is not None and source[0] and edge.get("target") in self.broken_ids:
            self.aimed_at_broken.add(source[1])
        if source is None or target is None:
            return
        source_is_trigger, source_index = source
        target_is_trigger, target_index = target
        source_id = str(edge["source"])
        if target_is_trigger:
            self.report((*at, "target"), "a trigger cannot receive edges", source_id)
            return
        target_name = self.listeners[target_index]["name"]
        is_error = edge.get("sourceHandle") == ERROR_HANDLE
        if source_is_trigger:
            trigger, place = self.triggers[source_index], self.trigger_places[source_index]
            if is_error:
                self.report((*at, "sourceHandle"), "a trigger has no error output", source_id)
            elif place.edge_of_target is not None:
                message = (
                    f"trigger {quoted(trigger['name'])} already targets {quoted(trigger['target'])}"
                    "; a trigger starts exactly one listener"
                )
                self.report(at, message, source_id)
            else:
                trigger["target"], place.edge_of_target = target_name, index
            return
        listener, place = self.listeners[source_index], self.listener_places[source_index]
        if is_error:
            if place.error_edge is not None:
                message = f"listener {quoted(listener['name'])} already has an error edge (to "
                self.report(at, message + f"{quoted(listener['on_error'])})", source_id)
            else:
                listener["on_error"], place.error_edge = target_name, index
        elif target_name in listener["peers"]:
            first = place.peer_edges[listener["peers"].index(target_name)]
            message = f"this edge duplicates edges[{first}]"
            self.report(at, message, source_id)
        else:
            listener["peers"].append(target_name)
            place.peer_edges.append(index)

    def finish_listeners(self) -> None:
        """A loop node always sends to itself: add the self-peer first unless an edge drew it."""
        for index in sorted(self.loops):
            listener, place = self.listeners[index], self.listener_places[index]
            if listener["name"] not in listener["peers"]:
                listener["peers"].insert(0, listener["name"])
                place.peer_edges.insert(0, None)

    def document(self) -> dict[str, Any]:
        info: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            info["description"] = self.description
        document: dict[str, Any] = {
            "version": 1,
            "organism": info,
            "triggers": self.triggers,
            "listeners": self.listeners,
        }
        settings = self.canvas.get("settings", {})
        for key in SETTINGS_KEYS:
            if key in settings:
                document[key] = settings[key]
        return document

    def place(self, problems: list[RawProblem]) -> None:
        """Translate organism paths to canvas paths and attach node ids."""
        for raw in problems:
            parts, node_id = self.canvas_path(raw.parts)
            self.report(parts, raw.message, node_id)

    def canvas_path(self, parts: PathParts) -> tuple[PathParts, str | None]:
        section, rest = (parts[0], parts[1:]) if parts else ("", ())
        if section in SETTINGS_KEYS:
            return ("settings", *parts), None
        if section not in ("triggers", "listeners") or not rest or not isinstance(rest[0], int):
            return parts, None
        is_trigger = section == "triggers"
        place = (self.trigger_places if is_trigger else self.listener_places)[rest[0]]
        node_at: PathParts = ("nodes", place.node_index)
        key, tail = (rest[1], rest[2:]) if len(rest) > 1 else (None, ())
        edge: int | None = None
        if key == "target":
            edge = place.edge_of_target
        elif key == "on_error":
            edge = place.error_edge
        elif key == "peers" and tail and isinstance(tail[0], int):
            edge = place.peer_edges[tail[0]]
        if edge is not None:
            return ("edges", edge), place.node_id
        data_keys = TRIGGER_DATA_KEYS if is_trigger else LISTENER_DATA_KEYS
        if key in data_keys:
            return (*node_at, "data", *rest[1:]), place.node_id
        return node_at, place.node_id


def build_organism(canvas: Any, *, name: str, description: str | None = None) -> CanvasBuild:
    """The organism (and its YAML) a canvas describes, with every problem found."""
    return _CanvasCompiler(canvas, name, description).compile()
