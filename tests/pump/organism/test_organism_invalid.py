"""Invalid organisms: each gives the expected YAML path and a human message."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from pump.organism import OrganismError, parse_organism

BASE: dict[str, Any] = {
    "version": 1,
    "organism": {"name": "triage", "description": "Base of the invalid cases"},
    "triggers": [
        {"name": "inbound", "kind": "webhook", "target": "classify"},
        {
            "name": "nightly",
            "kind": "schedule",
            "cron": "0 2 * * *",
            "timezone": "UTC",
            "target": "classify",
        },
    ],
    "listeners": [
        {
            "name": "classify",
            "handler": "builtin.llm",
            "peers": ["route"],
            "config": {
                "model": "gpt-4o-mini",
                "prompt": "Priority of {{ payload.body }}",
                "api_key": "${secrets.OPENAI_API_KEY}",
            },
        },
        {
            "name": "route",
            "handler": "builtin.branch",
            "peers": ["escalate", "archive"],
            "config": {
                "cases": [{"when": "payload.priority == 'high'", "to": "escalate"}],
                "default": "archive",
            },
        },
        {
            "name": "escalate",
            "handler": "builtin.http",
            "peers": ["archive"],
            "config": {
                "method": "POST",
                "url": "https://hooks.example.com/{{ payload.id }}",
                "headers": {"X-Id": "{{ execution.id }}"},
                "json": {"ticket": "{{ payload }}"},
            },
        },
        {
            "name": "shape",
            "handler": "builtin.transform",
            "peers": ["archive"],
            "config": {"set": {"total": "{{ sum(payload.prices) }}"}},
        },
        {
            "name": "remember",
            "handler": "builtin.memory",
            "config": {"op": "set", "key": "last:{{ payload.id }}", "value": "{{ payload }}"},
        },
        {"name": "module", "handler": "wasm:sentiment@1.0.0", "config": {"token": "x"}},
        {"name": "archive", "handler": "builtin.output", "config": {"expression": "payload"}},
    ],
    "memory": {"project": False},
    "limits": {"max_steps": 100, "timeout_seconds": 60},
}
CLASSIFY, ROUTE, ESCALATE, SHAPE, REMEMBER, MODULE, ARCHIVE = range(7)

Mutation = Callable[[dict[str, Any]], None]


def listener(index: int, **changes: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["listeners"][index].update(changes)

    return mutate


def config(index: int, **changes: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["listeners"][index]["config"].update(changes)

    return mutate


def trigger(index: int, **changes: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["triggers"][index].update(changes)

    return mutate


def without(*path: str | int) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        target: Any = document
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


def top(**changes: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document.update(changes)

    return mutate


def both(*mutations: Mutation) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        for mutation in mutations:
            mutation(document)

    return mutate


def branch_case(**changes: Any) -> Mutation:
    def mutate(document: dict[str, Any]) -> None:
        document["listeners"][ROUTE]["config"]["cases"][0].update(changes)

    return mutate


CASES: list[tuple[str, Mutation, str, str]] = [
    # structure: unknown keys, missing keys, wrong types and values
    ("unknown top-level key", top(extras=1), "extras", "unknown key 'extras' (allowed: version"),
    ("unknown listener key", listener(0, colour="red"), "listeners[0].colour", "unknown key"),
    ("unknown trigger key", trigger(0, secret="x"), "triggers[0].secret", "unknown key 'secret'"),
    ("unknown limits key", top(limits={"max_step": 5}), "limits.max_step", "unknown key"),
    (
        "missing handler",
        without("listeners", 0, "handler"),
        "listeners[0].handler",
        "missing required key 'handler'",
    ),
    ("missing organism", without("organism"), "organism", "missing required key 'organism'"),
    (
        "missing trigger target",
        without("triggers", 0, "target"),
        "triggers[0].target",
        "missing required key 'target'",
    ),
    ("wrong version", top(version=2), "version", "version must be 1 (got 2)"),
    ("listeners not a list", top(listeners={"a": 1}), "listeners", "listeners must be a list"),
    ("listener not a mapping", top(listeners=["classify"]), "listeners[0]", "must be a mapping"),
    (
        "timeout not a number",
        listener(0, timeout_seconds="soon"),
        "listeners[0].timeout_seconds",
        "timeout_seconds must be a number (got 'soon')",
    ),
    (
        "negative timeout",
        listener(0, timeout_seconds=-1),
        "listeners[0].timeout_seconds",
        "must be greater than 0",
    ),
    (
        "zero max_iterations",
        listener(3, max_iterations=0),
        "listeners[3].max_iterations",
        "must be at least 1",
    ),
    (
        "bad listener name",
        listener(0, name="bad name"),
        "listeners[0].name",
        "'bad name' is not a valid name",
    ),
    (
        "bad organism name",
        top(organism={"name": "Ticket Triage"}),
        "organism.name",
        "is not a valid name: use lowercase letters",
    ),
    (
        "unknown trigger kind",
        trigger(0, kind="cron"),
        "triggers[0].kind",
        "must be 'webhook', 'schedule' or 'manual'",
    ),
    (
        "trigger payload not a mapping",
        trigger(0, payload=[1]),
        "triggers[0].payload",
        "must be a mapping",
    ),
    (
        "memory flag not a boolean",
        top(memory={"project": "maybe"}),
        "memory.project",
        "must be true or false",
    ),
    ("zero max_steps", top(limits={"max_steps": 0}), "limits.max_steps", "at least 1"),
    # names and references
    (
        "duplicate listener name",
        listener(SHAPE, name="classify"),
        "listeners[3].name",
        "listener name 'classify' is used twice (first at listeners[0])",
    ),
    (
        "duplicate trigger name",
        trigger(1, name="inbound"),
        "triggers[1].name",
        "trigger name 'inbound' is used twice",
    ),
    (
        "unknown peer",
        listener(ESCALATE, peers=["archve"]),
        "listeners[2].peers[0]",
        "peer 'archve' is not a listener of this organism",
    ),
    (
        "peer listed twice",
        listener(ROUTE, peers=["escalate", "archive", "escalate"]),
        "listeners[1].peers[2]",
        "peer 'escalate' is listed twice",
    ),
    (
        "unknown trigger target",
        trigger(0, target="clasify"),
        "triggers[0].target",
        "target 'clasify' is not a listener of this organism",
    ),
    (
        "unknown on_error",
        listener(0, on_error="fallback"),
        "listeners[0].on_error",
        "on_error 'fallback' is not a listener",
    ),
    # handler references
    (
        "python import path",
        listener(0, handler="os.system"),
        "listeners[0].handler",
        "never a Python import path",
    ),
    (
        "unknown builtin",
        listener(0, handler="builtin.exec"),
        "listeners[0].handler",
        "unknown built-in handler 'builtin.exec'",
    ),
    (
        "malformed wasm reference",
        listener(MODULE, handler="wasm:Sentiment"),
        "listeners[5].handler",
        "not a valid WASM reference; use wasm:<module-id>@<version>",
    ),
    (
        "malformed tool reference",
        listener(MODULE, handler="tool:scraper"),
        "listeners[5].handler",
        "not a valid tool reference",
    ),
    (
        "agent that is not an llm",
        listener(ESCALATE, agent=True),
        "listeners[2].agent",
        "only builtin.llm listeners can be agents",
    ),
    # cycles
    (
        "unbounded cycle",
        listener(ARCHIVE, peers=["classify"]),
        "listeners[0].max_iterations",
        "listeners 'classify', 'route', 'escalate', 'archive' form a cycle with no max_iterations",
    ),
    (
        "unbounded self-loop",
        listener(SHAPE, peers=["shape", "archive"]),
        "listeners[3].max_iterations",
        "listener 'shape' sends to itself",
    ),
    (
        "cycle through on_error",
        listener(ARCHIVE, on_error="route"),
        "listeners[1].max_iterations",
        "form a cycle",
    ),
    (
        "inner cycle of unbounded listeners",
        both(listener(ARCHIVE, peers=["escalate"]), listener(ROUTE, max_iterations=3)),
        "listeners[2].max_iterations",
        "listeners 'escalate', 'archive' form a cycle",
    ),
    # schedules
    (
        "schedule without cron",
        without("triggers", 1, "cron"),
        "triggers[1].cron",
        "a schedule trigger needs a cron expression",
    ),
    (
        "out-of-range cron",
        trigger(1, cron="61 * * * *"),
        "triggers[1].cron",
        "is not a valid cron expression",
    ),
    ("cron with three fields", trigger(1, cron="0 2 *"), "triggers[1].cron", "must have 5 fields"),
    (
        "unknown timezone",
        trigger(1, timezone="Mars/Olympus_Mons"),
        "triggers[1].timezone",
        "unknown timezone 'Mars/Olympus_Mons'",
    ),
    (
        "cron on a webhook",
        trigger(0, cron="0 2 * * *"),
        "triggers[0].cron",
        "only schedule triggers have a cron expression",
    ),
    (
        "timezone on a webhook",
        trigger(0, timezone="UTC"),
        "triggers[0].timezone",
        "only schedule triggers have a timezone",
    ),
    # expressions and templates
    (
        "invalid branch expression",
        branch_case(when="payload.priority =="),
        "listeners[1].config.cases[0].when",
        "invalid JMESPath expression 'payload.priority =='",
    ),
    (
        "branch target not a peer",
        branch_case(to="shape"),
        "listeners[1].config.cases[0].to",
        "branch target 'shape' is not one of this listener's peers",
    ),
    (
        "branch default not a listener",
        config(ROUTE, default="archiv"),
        "listeners[1].config.default",
        "branch target 'archiv' is not a listener",
    ),
    (
        "invalid template in url",
        config(ESCALATE, url="https://x/{{ payload. }}"),
        "listeners[2].config.url",
        "in template '{{ payload. }}': invalid JMESPath",
    ),
    (
        "invalid template in header",
        config(ESCALATE, headers={"X-Id": "{{ ] }}"}),
        'listeners[2].config.headers["X-Id"]',
        "invalid JMESPath",
    ),
    (
        "empty template in json",
        config(ESCALATE, json={"ticket": "{{ }}"}),
        "listeners[2].config.json.ticket",
        "the expression is empty",
    ),
    (
        "invalid template in prompt",
        config(CLASSIFY, prompt="Hi {{ payload.[ }}"),
        "listeners[0].config.prompt",
        "invalid JMESPath",
    ),
    (
        "invalid template in system",
        config(CLASSIFY, system="{{ ?? }}"),
        "listeners[0].config.system",
        "invalid JMESPath",
    ),
    (
        "invalid template in memory key",
        config(REMEMBER, key="k:{{ payload.id. }}"),
        "listeners[4].config.key",
        "invalid JMESPath",
    ),
    (
        "invalid template in transform set",
        config(SHAPE, set={"total": "{{ sum( }}"}),
        "listeners[3].config.set.total",
        "invalid JMESPath",
    ),
    (
        "invalid transform expression",
        listener(SHAPE, config={"expression": "a[?"}),
        "listeners[3].config.expression",
        "invalid JMESPath expression 'a[?'",
    ),
    (
        "invalid output expression",
        config(ARCHIVE, expression="payload.."),
        "listeners[6].config.expression",
        "invalid JMESPath",
    ),
    # handler settings
    (
        "transform with expression and set",
        config(SHAPE, expression="payload"),
        "listeners[3].config",
        "either 'expression' or 'set', not both",
    ),
    (
        "http with json and body",
        config(ESCALATE, body="raw"),
        "listeners[2].config",
        "either 'json' or 'body', not both",
    ),
    (
        "http without url",
        without("listeners", ESCALATE, "config", "url"),
        "listeners[2].config.url",
        "missing required key 'url'",
    ),
    (
        "http method",
        config(ESCALATE, method="FETCH"),
        "listeners[2].config.method",
        "must be 'GET', 'POST'",
    ),
    (
        "unknown llm setting",
        config(CLASSIFY, temprature=0.2),
        "listeners[0].config.temprature",
        "unknown key 'temprature' (allowed: provider, base_url, model",
    ),
    (
        "llm output format",
        config(CLASSIFY, output="xml"),
        "listeners[0].config.output",
        "must be 'text' or 'json' (got 'xml')",
    ),
    (
        "llm temperature",
        config(CLASSIFY, temperature=3),
        "listeners[0].config.temperature",
        "must be at most 2",
    ),
    (
        "memory op",
        config(REMEMBER, op="list"),
        "listeners[4].config.op",
        "must be 'get', 'set' or 'delete'",
    ),
    (
        "branch case without when",
        branch_case(when=None),
        "listeners[1].config.cases[0].when",
        "must be a string",
    ),
    (
        "malformed secret",
        config(CLASSIFY, api_key="${secrets.OPENAI-KEY}"),
        "listeners[0].config.api_key",
        "malformed secret reference '${secrets.OPENAI-KEY}'",
    ),
    (
        "malformed secret in a module config",
        config(MODULE, token="Bearer ${secrets}"),
        "listeners[5].config.token",
        "malformed secret reference",
    ),
    (
        "unclosed secret",
        config(ESCALATE, headers={"X-Token": "${secrets.TOKEN"}),
        'listeners[2].config.headers["X-Token"]',
        "malformed secret reference",
    ),
]


def test_the_base_document_is_valid() -> None:
    parse_organism(yaml.safe_dump(BASE))


@pytest.mark.parametrize(
    ("mutation", "path", "fragment"),
    [pytest.param(mutation, path, fragment, id=name) for name, mutation, path, fragment in CASES],
)
def test_invalid_organism(mutation: Mutation, path: str, fragment: str) -> None:
    document = copy.deepcopy(BASE)
    mutation(document)
    with pytest.raises(OrganismError) as caught:
        parse_organism(yaml.safe_dump(document, sort_keys=False))
    problems = caught.value.problems
    assert [item.path for item in problems] == [path], [item.model_dump() for item in problems]
    assert fragment in problems[0].message
    assert problems[0].line is not None


def test_every_problem_is_reported_at_once() -> None:
    document = copy.deepcopy(BASE)
    for mutation in (
        trigger(0, target="nowhere"),
        listener(ESCALATE, peers=["archve"]),
        config(CLASSIFY, prompt="{{ ] }}"),
        trigger(1, cron="bad"),
        listener(MODULE, handler="os.system"),
    ):
        mutation(document)
    with pytest.raises(OrganismError) as caught:
        parse_organism(yaml.safe_dump(document, sort_keys=False))
    assert len(caught.value.problems) == 5
    assert "5 problems" in str(caught.value)


def test_there_are_more_than_thirty_cases() -> None:
    assert len(CASES) >= 30
