"""Parsing, emitting and the loader's bounds (DESIGN.md §3)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pump.organism import (
    MAX_DOCUMENT_BYTES,
    Organism,
    OrganismError,
    content_hash,
    emit_organism,
    loader,
    parse_organism,
    validate_organism,
)

FIXTURES = Path(__file__).parent / "fixtures"
DESIGN_EXAMPLE = (FIXTURES / "ticket_triage.yaml").read_text()
LOADERS = [loader.PythonOrganismLoader]
if hasattr(loader, "LibyamlOrganismLoader"):
    LOADERS.append(loader.LibyamlOrganismLoader)


@pytest.fixture(params=LOADERS, ids=lambda cls: cls.__name__)
def each_loader(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run the test with libyaml events (the default when PyYAML has it) and pure Python."""
    monkeypatch.setattr(loader, "OrganismLoader", request.param)


def problems_of(text: str | bytes) -> list[tuple[str, str, int | None]]:
    with pytest.raises(OrganismError) as caught:
        parse_organism(text)
    return [(item.path, item.message, item.line) for item in caught.value.problems]


def test_the_design_example_parses(each_loader: None) -> None:
    organism = parse_organism(DESIGN_EXAMPLE)
    assert organism.organism.name == "ticket-triage"
    assert [item.name for item in organism.triggers] == ["inbound", "nightly", "run"]
    assert [item.name for item in organism.listeners] == [
        "classify",
        "route",
        "escalate",
        "poll",
        "archive",
    ]
    assert organism.triggers[1].payload == {"mode": "batch"}
    assert organism.listener("poll") is not None
    assert organism.listeners[3].peers == ["poll", "archive"]
    assert organism.listeners[2].config["json"] == "{{ payload }}"
    assert organism.limits.max_steps == 1000
    assert validate_organism(organism) == []


@pytest.mark.parametrize(
    ("handler", "config"),
    [
        ("builtin.transform", "{expression: 'payload.items[0]'}"),
        ("builtin.transform", "{set: {total: '{{ sum(payload.prices) }}', note: fixed}}"),
        ("builtin.transform", "{}"),
        ("builtin.branch", "{cases: [{when: 'payload.ok', to: done}], default: done}"),
        (
            "builtin.http",
            "{method: PUT, url: 'https://api.example.com/items/{{ payload.id }}',"
            " headers: {Authorization: 'Bearer ${secrets.API_TOKEN}'}, body: '{{ payload.text }}',"
            " timeout_seconds: 10}",
        ),
        (
            "builtin.llm",
            "{provider: anthropic, base_url: 'https://llm.internal/v1', model: claude,"
            " system: Be brief, prompt: '{{ payload.question }}', temperature: 0.2,"
            " max_tokens: 300, output: text, api_key: '${secrets.ANTHROPIC_KEY}'}",
        ),
        ("builtin.output", "{expression: 'payload.result'}"),
        ("builtin.output", "{}"),
        ("builtin.memory", "{op: get, key: 'customer:{{ payload.id }}'}"),
        ("builtin.memory", "{op: set, key: last, value: '{{ payload }}'}"),
        ("builtin.memory", "{op: delete, key: last}"),
        ("wasm:sentiment@1.2.0", "{anything: [1, {goes: here}], '{{ not checked': x}"),
        ("tool:acme/scraper@2.0.0", "{depth: 3}"),
    ],
)
def test_every_handler_of_the_design_table_parses(handler: str, config: str) -> None:
    text = f"""
version: 1
organism: {{name: handlers}}
triggers: [{{name: go, kind: manual, target: step}}]
listeners:
  - {{name: step, handler: "{handler}", peers: [done], config: {config}}}
  - {{name: done, handler: builtin.output}}
"""
    organism = parse_organism(text)
    assert organism.listeners[0].handler == handler


def test_emission_is_canonical_and_stable() -> None:
    organism = parse_organism(DESIGN_EXAMPLE)
    emitted = emit_organism(organism)
    assert parse_organism(emitted) == organism
    assert emit_organism(parse_organism(emitted)) == emitted
    assert emitted.startswith("version: 1\norganism:\n  name: ticket-triage\n")
    assert "    peers: [poll, archive]\n    max_iterations: 5\n" in emitted
    assert "timeout_seconds: 30\n" in emitted  # not 30.0
    assert "agent" not in emitted  # defaults are omitted inside listeners
    assert "memory:\n  project: false\nlimits:\n  max_steps: 1000\n" in emitted
    assert content_hash(emitted) == content_hash(emit_organism(parse_organism(emitted)))
    assert len(content_hash(emitted)) == 64


def test_multiline_and_unicode_text_round_trips() -> None:
    organism = parse_organism(DESIGN_EXAMPLE)
    classify = organism.listeners[0]
    classify.config["prompt"] = "Priorität von:\n  {{ payload.body }}\n\nAntworte kurz. ✓\n"
    classify.description = "x" * 500 + " end"
    emitted = emit_organism(organism)
    assert "prompt: |\n" in emitted
    assert "✓" in emitted
    assert ("x" * 500 + " end") in emitted  # never folded
    assert parse_organism(emitted) == organism
    assert emit_organism(parse_organism(emitted)) == emitted


def test_yaml_1_1_surprises_do_not_apply(each_loader: None) -> None:
    text = DESIGN_EXAMPLE.replace(
        "payload: {mode: batch}", "payload: {country: NO, answer: yes, on: 1, day: 2024-01-02}"
    )
    organism = parse_organism(text)
    assert organism.triggers[1].payload == {
        "country": "NO",
        "answer": "yes",
        "on": 1,
        "day": "2024-01-02",
    }
    assert parse_organism(emit_organism(organism)) == organism


def test_aliases_within_the_bound_are_expanded() -> None:
    text = """
version: 1
organism: {name: aliases}
triggers: [{name: go, kind: manual, target: a, payload: &shared {x: 1}}]
listeners:
  - {name: a, handler: builtin.output, config: {expression: "payload"}}
  - {name: b, handler: "wasm:mod@1", config: {copy: *shared}}
"""
    organism = parse_organism(text)
    assert organism.listeners[1].config == {"copy": {"x": 1}}
    assert "&" not in emit_organism(organism) and "*" not in emit_organism(organism)


@pytest.mark.timeout(10)
@pytest.mark.parametrize("as_bytes", [False, True])
def test_a_one_megabyte_document_is_refused_before_parsing(as_bytes: bool) -> None:
    text = DESIGN_EXAMPLE.replace(
        "description: Classify inbound tickets", "description: " + "a" * (1024 * 1024)
    )
    started = time.monotonic()
    problems = problems_of(text.encode() if as_bytes else text)
    assert problems == [("$", problems[0][1], None)]
    assert "larger than 256 KiB" in problems[0][1]
    assert time.monotonic() - started < 5


def test_a_document_just_under_the_cap_is_read() -> None:
    padding = MAX_DOCUMENT_BYTES - len(DESIGN_EXAMPLE.encode()) - 100
    text = DESIGN_EXAMPLE.replace("Classify inbound tickets", "c" * padding)
    assert parse_organism(text).organism.description == "c" * padding


BILLION_LAUGHS = """
a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]
b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]
c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]
d: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]
e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]
f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]
g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]
h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]
i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]
"""
# Under the alias budget (2 aliases a level) but 2**40 values once expanded.
DOUBLING_BOMB = "l0: &l0 [lol, lol]\n" + "".join(
    f"l{level}: &l{level} [*l{level - 1}, *l{level - 1}]\n" for level in range(1, 25)
)


@pytest.mark.timeout(10)
@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        (BILLION_LAUGHS, "more than 50 YAML aliases"),
        (DOUBLING_BOMB, "expands to more than 100000 values"),
        ("organism: &x {name: *x}\n", "alias refers to a value that contains it"),
        ("a: " + "[" * 150 + "]" * 150 + "\n", "nest deeper than 100 levels"),
    ],
)
def test_alias_bombs_and_deep_nesting_are_refused_fast(
    document: str, fragment: str, each_loader: None
) -> None:
    started = time.monotonic()
    problems = problems_of(document)
    assert len(problems) == 1 and fragment in problems[0][1]
    assert problems[0][2] is not None  # points at a line
    assert time.monotonic() - started < 5


@pytest.mark.parametrize(
    "tag",
    [
        "!!python/object/apply:os.system",
        "!!python/object/new:os.system",
        "!!python/object/apply:subprocess.check_output",
    ],
)
def test_python_tags_are_refused_without_running_anything(
    tag: str, tmp_path: Path, each_loader: None
) -> None:
    witness = tmp_path / "executed"
    text = f"""version: 1
organism:
  name: {tag} ["touch {witness}"]
triggers: []
listeners: []
"""
    problems = problems_of(text)
    assert problems == [
        (
            "organism.name",
            f"the tag '{tag}' is not allowed; organisms hold plain YAML values only",
            3,
        )
    ]
    assert not witness.exists()


def test_python_name_tag_and_local_tags_are_refused() -> None:
    problems = problems_of("version: !!python/name:os.system\norganism: !secret {name: x}\n")
    assert [(path, line) for path, _, line in problems] == [("version", 1), ("organism", 2)]
    assert "'!!python/name:os.system'" in problems[0][1]
    assert "'!secret'" in problems[1][1]


@pytest.mark.parametrize(
    ("document", "path", "fragment", "line"),
    [
        ("version: 1\nversion: 1\n", "version", "duplicate key 'version'", 2),
        ("- version: 1\n", "$", "must be a mapping", 1),
        ("version: 1\n1: x\n", "$", "mapping keys must be strings; 1 is not", 2),
        (
            "organism: {name: x}\nlimits: {timeout_seconds: 1.0e+999}\n",
            "limits.timeout_seconds",
            "not a finite number",
            2,
        ),
        ("version: [1\n", "$", "invalid YAML", 2),
        ("", "$", "the document is empty", None),
        ("version: 1\n---\nversion: 1\n", "$", "expected a single document", 2),
        ("version: \x07\n", "$", "U+0007 is not allowed", 1),
        (b"version: \xff\n", "$", "not valid UTF-8", None),
    ],
)
def test_documents_that_are_not_plain_yaml_mappings(
    document: str | bytes, path: str, fragment: str, line: int | None, each_loader: None
) -> None:
    problems = problems_of(document)
    assert problems[0][0] == path
    assert fragment in problems[0][1]
    assert problems[0][2] == line


SEMANTIC_ERRORS = """\
version: 1
organism:
  name: triage
triggers:
  - name: inbound
    kind: webhook
    target: clasify
  - name: nightly
    kind: schedule
    cron: "0 2 * *"
    target: classify
listeners:
  - name: classify
    handler: builtin.llm
    peers: [route, archve]
    config:
      model: gpt-4o-mini
      prompt: "Priority of {{ payload. }}"
  - name: route
    handler: builtin.branch
    peers: [route]
    config:
      cases:
        - when: "payload.priority =="
          to: route
"""


def test_semantic_problems_carry_lines_and_columns(each_loader: None) -> None:
    with pytest.raises(OrganismError) as caught:
        parse_organism(SEMANTIC_ERRORS)
    found = [(item.path, item.line, item.column) for item in caught.value.problems]
    assert found == [
        ("triggers[0].target", 7, 5),
        ("triggers[1].cron", 10, 5),
        ("listeners[0].peers[1]", 15, 20),
        ("listeners[0].config.prompt", 18, 7),
        ("listeners[1].config.cases[0].when", 24, 11),
        ("listeners[1].max_iterations", 19, 5),  # missing key: the listener's line
    ]
    messages = [item.message for item in caught.value.problems]
    assert messages[0] == "target 'clasify' is not a listener of this organism"
    assert messages[2] == "peer 'archve' is not a listener of this organism"
    assert "route" in messages[5] and "max_iterations" in messages[5]
    assert "5 problems" not in str(caught.value) and "6 problems" in str(caught.value)


STRUCTURAL_ERRORS = """\
version: 1
organism:
  name: triage
triggers:
  - name: inbound
    kind: hook
    target: classify
listeners:
  - name: classify
    peers: [route]
    colour: red
  - name: route
    handler: builtin.output
    timeout_seconds: soon
"""


def test_structural_problems_carry_lines(each_loader: None) -> None:
    with pytest.raises(OrganismError) as caught:
        parse_organism(STRUCTURAL_ERRORS)
    found = {(item.path, item.line) for item in caught.value.problems}
    assert found == {
        ("triggers[0].kind", 6),
        ("listeners[0].handler", 9),
        ("listeners[0].colour", 11),
        ("listeners[1].timeout_seconds", 14),
    }
    by_path = {item.path: item.message for item in caught.value.problems}
    assert by_path["listeners[0].colour"].startswith("unknown key 'colour' (allowed: name, handler")
    assert by_path["listeners[0].handler"] == "missing required key 'handler'"
    assert by_path["triggers[0].kind"] == (
        "kind must be 'webhook', 'schedule' or 'manual' (got 'hook')"
    )
    assert (
        by_path["listeners[1].timeout_seconds"] == "timeout_seconds must be a number (got 'soon')"
    )


def test_validate_organism_accepts_a_built_model() -> None:
    organism = Organism.model_validate(
        {
            "organism": {"name": "built"},
            "triggers": [{"name": "go", "kind": "manual", "target": "nowhere"}],
        }
    )
    problems = validate_organism(organism)
    assert [(item.path, item.line) for item in problems] == [("triggers[0].target", None)]
