"""Organism -> canvas (React Flow JSON): deterministic node and edge ids, positions kept from a
previous canvas by node name, and a layered left-to-right layout for everything else."""

from __future__ import annotations

import copy
import math
from collections import deque
from typing import Any

from pump.organism.canvas import CODE_TYPE, ERROR_HANDLE, IMPLIED_HANDLERS, LOOP_TYPE, TRIGGER_TYPE
from pump.organism.emitter import listener_document, number, trigger_document
from pump.organism.models import Organism

LAYER_WIDTH = 300
ROW_HEIGHT = 150
DEFAULT_VIEWPORT: dict[str, Any] = {"x": 0, "y": 0, "zoom": 1}
_TYPE_OF_HANDLER = {handler: node_type for node_type, handler in IMPLIED_HANDLERS.items()}

Position = dict[str, Any]


def node_ids(organism: Organism) -> tuple[list[str], list[str]]:
    """`trigger:<name>` and `listener:<name>`; a repeated name (an invalid organism still shown
    on the canvas) gets `~2`, `~3`, ... so ids stay unique."""

    def unique(prefix: str, names: list[str]) -> list[str]:
        seen: dict[str, int] = {}
        ids: list[str] = []
        for name in names:
            seen[name] = seen.get(name, 0) + 1
            suffix = f"~{seen[name]}" if seen[name] > 1 else ""
            ids.append(f"{prefix}:{name}{suffix}")
        return ids

    return (
        unique("trigger", [item.name for item in organism.triggers]),
        unique("listener", [item.name for item in organism.listeners]),
    )


def node_type(handler: str, peers: list[str], name: str) -> str:
    if name in peers:
        return LOOP_TYPE
    return _TYPE_OF_HANDLER.get(handler, CODE_TYPE)


def _point(value: Any) -> Position | None:
    if not isinstance(value, dict):
        return None
    x, y = value.get("x"), value.get("y")
    for coordinate in (x, y):
        if isinstance(coordinate, bool) or not isinstance(coordinate, int | float):
            return None
        if not math.isfinite(coordinate):
            return None
    return {"x": x, "y": y}


def _viewport(previous: dict[str, Any] | None) -> dict[str, Any]:
    viewport = previous.get("viewport") if isinstance(previous, dict) else None
    point = _point(viewport)
    if point is None or not isinstance(viewport, dict):
        return dict(DEFAULT_VIEWPORT)
    zoom = viewport.get("zoom")
    if isinstance(zoom, bool) or not isinstance(zoom, int | float) or not 0 < zoom < math.inf:
        return dict(DEFAULT_VIEWPORT)
    return {**point, "zoom": zoom}


def _previous_nodes(previous: dict[str, Any] | None) -> dict[str, tuple[str, str]]:
    """Previous node id -> (trigger | listener, name)."""
    nodes = previous.get("nodes") if isinstance(previous, dict) else None
    found: dict[str, tuple[str, str]] = {}
    for node in nodes if isinstance(nodes, list) else []:
        if not isinstance(node, dict) or not isinstance(node.get("data"), dict):
            continue
        name, node_id = node["data"].get("name"), node.get("id")
        if isinstance(name, str) and isinstance(node_id, str):
            role = "trigger" if node.get("type") == TRIGGER_TYPE else "listener"
            found.setdefault(node_id, (role, name))
    return found


def _previous_positions(previous: dict[str, Any] | None) -> dict[tuple[str, str], Position]:
    nodes = previous.get("nodes") if isinstance(previous, dict) else None
    named = _previous_nodes(previous)
    positions: dict[tuple[str, str], Position] = {}
    for node in nodes if isinstance(nodes, list) else []:
        if isinstance(node, dict) and isinstance(node.get("id"), str) and node["id"] in named:
            point = _point(node.get("position"))
            if point is not None:
                positions.setdefault(named[node["id"]], point)
    return positions


def _previous_handles(
    previous: dict[str, Any] | None,
) -> dict[tuple[str, str, str], dict[str, Any]]:
    """(kind, source name, target name) -> the handles the editor gave that edge."""
    edges = previous.get("edges") if isinstance(previous, dict) else None
    named = _previous_nodes(previous)
    handles: dict[tuple[str, str, str], dict[str, Any]] = {}
    for edge in edges if isinstance(edges, list) else []:
        if not isinstance(edge, dict):
            continue
        source, target = named.get(str(edge.get("source"))), named.get(str(edge.get("target")))
        if source is None or target is None:
            continue
        source_handle = edge.get("sourceHandle")
        kind = "error" if source_handle == ERROR_HANDLE else source[0]
        kept = {
            key: edge[key]
            for key in ("sourceHandle", "targetHandle")
            if isinstance(edge.get(key), str) and not (key == "sourceHandle" and kind == "error")
        }
        handles.setdefault((kind, source[1], target[1]), kept)
    return handles


def _layers(organism: Organism) -> tuple[list[int], list[int]]:
    """Layer of each trigger (0) and listener (distance from the triggers; unreachable
    listeners go one layer after the farthest)."""
    index_of: dict[str, int] = {}
    for index, listener in enumerate(organism.listeners):
        index_of.setdefault(listener.name, index)
    distance: dict[int, int] = {}
    queue: deque[int] = deque()
    for trigger in organism.triggers:
        target = index_of.get(trigger.target)
        if target is not None and target not in distance:
            distance[target] = 1
            queue.append(target)
    while queue:
        current = queue.popleft()
        listener = organism.listeners[current]
        for name in [*listener.peers, *([listener.on_error] if listener.on_error else [])]:
            following = index_of.get(name)
            if following is not None and following not in distance:
                distance[following] = distance[current] + 1
                queue.append(following)
    unreachable = max(distance.values(), default=0) + 1
    listener_layers = [distance.get(index, unreachable) for index in range(len(organism.listeners))]
    return [0] * len(organism.triggers), listener_layers


def _auto_positions(layers: list[int]) -> list[Position]:
    rows: dict[int, int] = {}
    positions: list[Position] = []
    for layer in layers:
        row = rows.get(layer, 0)
        rows[layer] = row + 1
        positions.append({"x": layer * LAYER_WIDTH, "y": row * ROW_HEIGHT})
    return positions


def _edge(edge_id: str, source: str, target: str, handles: dict[str, Any]) -> dict[str, Any]:
    return {"id": edge_id, "source": source, "target": target, **handles}


def organism_to_canvas(
    organism: Organism, previous: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The canvas of `organism`. Nodes of `previous` (matched by trigger/listener name) keep
    their positions, and its viewport is kept; other nodes are laid out automatically."""
    trigger_ids, listener_ids = node_ids(organism)
    listener_id_by_name: dict[str, str] = {}
    for listener, listener_id in zip(organism.listeners, listener_ids, strict=True):
        listener_id_by_name.setdefault(listener.name, listener_id)
    trigger_layers, listener_layers = _layers(organism)
    auto = _auto_positions(trigger_layers + listener_layers)
    kept_positions = _previous_positions(previous)
    keys = [("trigger", item.name) for item in organism.triggers]
    keys += [("listener", item.name) for item in organism.listeners]
    positions = [kept_positions.get(key) for key in keys]
    kept_bottom = max((point["y"] for point in positions if point is not None), default=None)
    if kept_bottom is not None:  # new nodes go below the ones the user placed
        auto = [{"x": point["x"], "y": point["y"] + kept_bottom + ROW_HEIGHT} for point in auto]
    placed = [point if point is not None else auto[i] for i, point in enumerate(positions)]

    typed: list[tuple[str, str, dict[str, Any]]] = []
    for trigger, trigger_id in zip(organism.triggers, trigger_ids, strict=True):
        data = trigger_document(trigger)
        del data["target"]
        typed.append((trigger_id, TRIGGER_TYPE, data))
    for listener, listener_id in zip(organism.listeners, listener_ids, strict=True):
        data = listener_document(listener)
        data.pop("peers", None)
        data.pop("on_error", None)
        kind = node_type(listener.handler, listener.peers, listener.name)
        typed.append((listener_id, kind, data))
    nodes = [
        {"id": node_id, "type": kind, "position": point, "data": data}
        for (node_id, kind, data), point in zip(typed, placed, strict=True)
    ]

    handles = _previous_handles(previous)
    edges: list[dict[str, Any]] = []
    for trigger, trigger_id in zip(organism.triggers, trigger_ids, strict=True):
        target_id = listener_id_by_name.get(trigger.target)
        if target_id is not None:
            kept = handles.get(("trigger", trigger.name, trigger.target), {})
            edge_id = f"trigger:{trigger.name}->{trigger.target}"
            edges.append(_edge(edge_id, trigger_id, target_id, kept))
    for listener, listener_id in zip(organism.listeners, listener_ids, strict=True):
        drawn: set[str] = set()
        for peer in listener.peers:
            target_id = listener_id_by_name.get(peer)
            if target_id is None or peer in drawn:
                continue
            drawn.add(peer)
            kept = handles.get(("listener", listener.name, peer), {})
            edges.append(_edge(f"peer:{listener.name}->{peer}", listener_id, target_id, kept))
        error_target = listener_id_by_name.get(listener.on_error or "")
        if listener.on_error and error_target is not None:
            kept = {"sourceHandle": ERROR_HANDLE}
            kept.update(handles.get(("error", listener.name, listener.on_error), {}))
            edge_id = f"error:{listener.name}->{listener.on_error}"
            edges.append(_edge(edge_id, listener_id, error_target, kept))
    canvas: dict[str, Any] = {
        "nodes": nodes,
        "edges": _unique_edge_ids(edges),
        "viewport": _viewport(previous),
        "settings": {
            "memory": {"project": organism.memory.project},
            "limits": organism_limits(organism),
        },
    }
    notes = _previous_notes(previous)
    if notes:
        canvas["notes"] = notes
    return copy.deepcopy(canvas)


MAX_NOTES = 200
MAX_NOTE_TEXT = 4000


def _previous_notes(previous: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Sticky notes of the canvas: layout only (never compiled), kept across YAML edits. Only
    well-formed ones are kept: `{id, position: {x, y}, text}`."""
    notes = previous.get("notes") if isinstance(previous, dict) else None
    kept: list[dict[str, Any]] = []
    for note in notes if isinstance(notes, list) else []:
        if len(kept) >= MAX_NOTES or not isinstance(note, dict):
            continue
        note_id, text, point = note.get("id"), note.get("text", ""), _point(note.get("position"))
        if not isinstance(note_id, str) or not 0 < len(note_id) <= 64 or point is None:
            continue
        kept.append({"id": note_id, "position": point, "text": str(text)[:MAX_NOTE_TEXT]})
    return kept


def _unique_edge_ids(edges: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Only an invalid organism (repeated names) can repeat an edge id; keep ids unique."""
    seen: dict[str, int] = {}
    for edge in edges:
        seen[edge["id"]] = seen.get(edge["id"], 0) + 1
        if seen[edge["id"]] > 1:
            edge["id"] = f"{edge['id']}~{seen[edge['id']]}"
    return edges


def organism_limits(organism: Organism) -> dict[str, Any]:
    return {
        "max_steps": organism.limits.max_steps,
        "timeout_seconds": number(organism.limits.timeout_seconds),
    }
