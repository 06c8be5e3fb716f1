"""Bounded, safe YAML loading: size cap, alias and expansion caps, plain tags only, and a map
from every path in the document to its line and column (so problems point at the right line).

Scalars follow the YAML 1.2 core schema where YAML 1.1 surprises people: only true/false are
booleans (`on`, `yes`, `no` stay strings), there are no timestamps, octal or sexagesimal
numbers. Everything an organism holds is therefore a JSON value."""

from __future__ import annotations

import math
import re
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

import yaml
from yaml.composer import Composer
from yaml.constructor import SafeConstructor
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader, ReaderError
from yaml.resolver import Resolver
from yaml.scanner import Scanner

from pump.organism.problems import (
    ROOT_PATH,
    OrganismError,
    PathParts,
    Problem,
    format_path,
    quoted,
)

MAX_DOCUMENT_BYTES = 256 * 1024
MAX_ALIASES = 50
MAX_NODES = 100_000
MAX_DEPTH = 100

_TAG = "tag:yaml.org,2002:"
_STR, _INT, _FLOAT, _BOOL, _NULL = (_TAG + name for name in ("str", "int", "float", "bool", "null"))
_MAP, _SEQ, _MERGE = _TAG + "map", _TAG + "seq", _TAG + "merge"
_ALLOWED_TAGS = frozenset({_STR, _INT, _FLOAT, _BOOL, _NULL, _MAP, _SEQ})
_NON_FINITE = frozenset({".inf", "+.inf", "-.inf", ".nan"})


def _core_resolvers() -> dict[Any, list[tuple[str, re.Pattern[str]]]]:
    """Implicit resolvers: null and merge as PyYAML has them; bool, int and float narrowed to a
    subset of YAML 1.1 (so anything PyYAML's dumper writes unquoted reads back as a string)."""
    kept: dict[Any, list[tuple[str, re.Pattern[str]]]] = {}
    for first, entries in yaml.SafeLoader.yaml_implicit_resolvers.items():
        for tag, pattern in entries:
            if tag in (_NULL, _MERGE):
                kept.setdefault(first, []).append((tag, pattern))
    narrowed = [
        (_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), "tTfF"),
        (_INT, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$"), "-+0123456789"),
        (
            _FLOAT,
            re.compile(r"^[-+]?(?:[0-9][0-9_]*\.[0-9_]*|\.[0-9_]+)(?:[eE][-+][0-9]+)?$"),
            "-+0123456789.",
        ),
    ]
    for tag, pattern, firsts in narrowed:
        for first in firsts:
            kept.setdefault(first, []).append((tag, pattern))
    return kept


class _Marked(Protocol):
    line: int
    column: int


class LoadLimitError(Exception):
    """A document beyond the loader's bounds (aliases, expansion, nesting)."""

    def __init__(self, problem: str, problem_mark: _Marked) -> None:
        super().__init__(problem)
        self.problem = problem
        self.line, self.column = problem_mark.line + 1, problem_mark.column + 1


class _BoundedComposer(Composer):
    """PyYAML's composer with an alias budget and a nesting bound. Composition stays in
    Python (so the bounds hold) whichever parser produces the events."""

    if TYPE_CHECKING:  # provided by the parser half of the loader

        def check_event(self, *choices: Any) -> bool: ...
        def peek_event(self) -> Any: ...

    def __init__(self) -> None:
        super().__init__()
        self.alias_count = 0
        self.depth = 0

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        if self.check_event(AliasEvent):
            self.alias_count += 1
            if self.alias_count > MAX_ALIASES:
                mark = self.peek_event().start_mark
                raise LoadLimitError(
                    problem=f"more than {MAX_ALIASES} YAML aliases; write the values out instead",
                    problem_mark=mark,
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                mark = self.peek_event().start_mark
                raise LoadLimitError(
                    problem=f"values nest deeper than {MAX_DEPTH} levels", problem_mark=mark
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class PythonOrganismLoader(_BoundedComposer, Reader, Scanner, Parser, SafeConstructor, Resolver):
    """Pure-Python events: used when PyYAML was built without libyaml."""

    yaml_implicit_resolvers = _core_resolvers()

    def __init__(self, stream: str) -> None:
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        _BoundedComposer.__init__(self)
        SafeConstructor.__init__(self)
        Resolver.__init__(self)


OrganismLoader: type[PythonOrganismLoader] = PythonOrganismLoader

if yaml.__with_libyaml__:
    from yaml._yaml import CParser

    class LibyamlOrganismLoader(_BoundedComposer, CParser, SafeConstructor, Resolver):
        """libyaml scans and parses (several times faster); composing stays bounded."""

        yaml_implicit_resolvers = _core_resolvers()

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            _BoundedComposer.__init__(self)
            SafeConstructor.__init__(self)
            Resolver.__init__(self)

    OrganismLoader = LibyamlOrganismLoader  # type: ignore[assignment]


class LoadedDocument(NamedTuple):
    data: Any
    marks: dict[str, tuple[int, int]]
    """Formatted path -> (line, column), both 1-based."""


def _problem(message: str, mark: _Marked | None = None, path: str = ROOT_PATH) -> Problem:
    if mark is None:
        return Problem(path=path, message=message)
    return Problem(path=path, message=message, line=mark.line + 1, column=mark.column + 1)


def decode_document(text: str | bytes) -> str:
    """The document as text, refusing it (before any parsing) when it is over the size cap."""
    too_large = (
        f"the document is larger than {MAX_DOCUMENT_BYTES // 1024} KiB; "
        "organisms must stay under that size"
    )
    if isinstance(text, bytes):
        if len(text) > MAX_DOCUMENT_BYTES:
            raise OrganismError([_problem(too_large)])
        try:
            return text.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            message = f"the document is not valid UTF-8 (byte {error.start})"
            raise OrganismError([_problem(message)]) from error
    if len(text) > MAX_DOCUMENT_BYTES or len(text.encode("utf-8", "surrogatepass")) > (
        MAX_DOCUMENT_BYTES
    ):
        raise OrganismError([_problem(too_large)])
    return text


def _yaml_problem(error: yaml.YAMLError, text: str) -> Problem:
    if isinstance(error, yaml.MarkedYAMLError):
        description = " ".join(part for part in (error.context, error.problem) if part)
        return _problem(f"invalid YAML: {description}", error.problem_mark or error.context_mark)
    if isinstance(error, ReaderError):
        line = text.count("\n", 0, error.position) + 1
        column = error.position - (text.rfind("\n", 0, error.position) + 1) + 1
        message = (
            f"invalid YAML: the character U+{error.character:04X} is not allowed in a document"
        )
        return Problem(path=ROOT_PATH, message=message, line=line, column=column)
    return _problem(f"invalid YAML: {error}")


def _expanded_size(root: Node) -> int:
    """How many nodes the document has once aliases are expanded, refusing recursive aliases
    and expansions beyond the bounds without ever expanding anything."""
    sizes: dict[int, int] = {}
    active: set[int] = set()

    def size(node: Node, depth: int) -> int:
        if depth > MAX_DEPTH:
            raise LoadLimitError(
                problem=f"values nest deeper than {MAX_DEPTH} levels once aliases are expanded",
                problem_mark=node.start_mark,
            )
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            raise LoadLimitError(
                problem="a YAML alias refers to a value that contains it",
                problem_mark=node.start_mark,
            )
        active.add(key)
        total = 1
        for child in _children(node):
            total += size(child, depth + 1)
            if total > MAX_NODES:
                raise LoadLimitError(
                    problem=f"the document expands to more than {MAX_NODES} values "
                    "(YAML aliases are bounded)",
                    problem_mark=node.start_mark,
                )
        active.discard(key)
        sizes[key] = total
        return total

    return size(root, 1)


def _children(node: Node) -> list[Node]:
    if isinstance(node, SequenceNode):
        return list(node.value)
    if isinstance(node, MappingNode):
        return [item for pair in node.value for item in pair]
    return []


def _short_tag(tag: str) -> str:
    return "!!" + tag[len(_TAG) :] if tag.startswith(_TAG) else tag


def _non_finite(node: ScalarNode) -> bool:
    value = str(node.value).replace("_", "").lower()
    if value in _NON_FINITE:
        return True
    try:
        return not math.isfinite(float(value))
    except ValueError:
        return False


class _Inspector:
    """Walks the composed tree once: records marks per path, and collects what a JSON-only,
    plain-tag document must not contain (custom tags, non-string or duplicate keys, inf/nan)."""

    def __init__(self) -> None:
        self.marks: dict[str, tuple[int, int]] = {}
        self.problems: list[Problem] = []
        self.checked: set[int] = set()

    def mark(self, parts: PathParts, mark: _Marked) -> None:
        self.marks.setdefault(format_path(parts), (mark.line + 1, mark.column + 1))

    def report(self, parts: PathParts, message: str, mark: _Marked) -> None:
        self.problems.append(_problem(message, mark, format_path(parts)))

    def walk(self, node: Node, parts: PathParts) -> None:
        first_visit = id(node) not in self.checked
        self.checked.add(id(node))
        if first_visit and node.tag not in _ALLOWED_TAGS:
            tag = _short_tag(node.tag)
            message = f"the tag '{tag}' is not allowed; organisms hold plain YAML values only"
            self.report(parts, message, node.start_mark)
            return
        if isinstance(node, ScalarNode):
            if first_visit and node.tag == _FLOAT and _non_finite(node):
                message = f"{node.value} is not a finite number; organisms hold JSON values only"
                self.report(parts, message, node.start_mark)
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                self.mark((*parts, index), item.start_mark)
                self.walk(item, (*parts, index))
        elif isinstance(node, MappingNode):
            self.walk_mapping(node, parts, first_visit)

    def walk_mapping(self, node: MappingNode, parts: PathParts, first_visit: bool) -> None:
        seen: set[str] = set()
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                merged = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                merges.extend(merged)
                continue
            if not isinstance(key_node, ScalarNode) or key_node.tag != _STR:
                if first_visit:
                    shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                    message = f"mapping keys must be strings; {shown} is not (quote it)"
                    self.report(parts, message, key_node.start_mark)
                continue
            key = str(key_node.value)
            if key in seen and first_visit:
                self.report((*parts, key), f"duplicate key {quoted(key)}", key_node.start_mark)
            seen.add(key)
            self.mark((*parts, key), key_node.start_mark)
            self.walk(value_node, (*parts, key))
        for source in merges:  # after the explicit keys, whose marks win
            self.walk(source, parts)


def load_document(text: str | bytes) -> LoadedDocument:
    """Parse one YAML document within the bounds; raise OrganismError listing what is wrong."""
    source = decode_document(text)
    try:
        loader = OrganismLoader(source)
    except yaml.YAMLError as error:
        raise OrganismError([_yaml_problem(error, source)]) from error
    try:
        root = loader.get_single_node()
        if root is None:
            raise OrganismError([_problem("the document is empty")])
        _expanded_size(root)
        inspector = _Inspector()
        inspector.mark((), root.start_mark)
        inspector.walk(root, ())
        if inspector.problems:
            raise OrganismError(inspector.problems)
        data = loader.construct_document(root)
    except yaml.YAMLError as error:
        raise OrganismError([_yaml_problem(error, source)]) from error
    except LoadLimitError as error:
        limit = Problem(path=ROOT_PATH, message=error.problem, line=error.line, column=error.column)
        raise OrganismError([limit]) from error
    except (ValueError, TypeError, OverflowError) as error:
        raise OrganismError([_problem(f"a value does not match its YAML tag: {error}")]) from error
    finally:
        loader.dispose()
    return LoadedDocument(data=data, marks=inspector.marks)
