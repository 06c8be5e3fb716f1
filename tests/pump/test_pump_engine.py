"""The routing engine (DESIGN.md §4) with real handlers, in-process, against the real Redis."""

from __future__ import annotations

import asyncio

from pump_testkit import in_process

from pump.keys import EXECUTION_STATE_TTL_SECONDS

HEADER = """
version: 1
organism: {name: engine-test}
triggers: [{name: run, kind: manual, target: start}]
"""


async def test_fan_out_reaches_every_peer_and_outputs_are_collected(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: builtin.transform, peers: [left, right], config: {set: {seen: true}}}
  - {name: left, handler: builtin.output, config: {expression: "{side: 'left', n: payload.n}"}}
  - {name: right, handler: builtin.output, config: {expression: "{side: 'right', n: payload.n}"}}
"""
    )
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({"n": 7})
    assert result.outcome.status == "completed"
    assert result.outcome.outputs == [{"side": "left", "n": 7}, {"side": "right", "n": 7}]
    assert result.types() == [
        "execution.started",
        "step.started", "step.completed", "message.routed", "message.routed",
        "step.started", "step.completed",
        "step.started", "step.completed",
        "execution.completed",
    ]  # fmt: skip
    started = result.of("execution.started")[0].data
    assert started == {"trigger": "run", "target": "start", "payload": {"n": 7}}
    first = result.of("step.started")[0]
    assert (first.step, first.listener) == (1, "start")
    assert first.data == {"listener": "start", "handler": "builtin.transform", "input": {"n": 7}}
    completed = result.of("step.completed")[0].data
    assert completed["output"] == {"n": 7, "seen": True}
    assert completed["routed_to"] == ["left", "right"]
    assert completed["duration_ms"] >= 0
    routed = [e.data for e in result.of("message.routed")]
    assert routed == [{"source": "start", "target": "left"}, {"source": "start", "target": "right"}]
    final = result.of("execution.completed")[0].data
    assert final["outputs"] == result.outcome.outputs
    assert final["steps"] == 3
    assert final["duration_ms"] >= 0


async def test_branch_sends_to_the_first_matching_case_then_default(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - name: start
    handler: builtin.branch
    peers: [high, low]
    config:
      cases: [{when: "payload.priority == 'high'", to: high}, {when: "payload.count > `10`", to: high}]
      default: low
  - {name: high, handler: builtin.output, config: {expression: "'high'"}}
  - {name: low, handler: builtin.output, config: {expression: "'low'"}}
"""
    )
    async with in_process(redis_url, organism) as flow:
        high = await flow.run({"priority": "high"})
        counted = await flow.run({"priority": "low", "count": 11})
        low = await flow.run({"priority": "low", "count": 0})
    assert high.outcome.outputs == ["high"]
    assert counted.outcome.outputs == ["high"]
    assert low.outcome.outputs == ["low"]
    assert low.of("step.completed")[0].data["routed_to"] == ["low"]


async def test_bounded_loop_runs_until_the_branch_leaves_it(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: builtin.transform, peers: [check], config: {set: {count: 0}}}
  - name: check
    handler: builtin.branch
    peers: [bump, done]
    config: {cases: [{when: "payload.count < `3`", to: bump}], default: done}
  - name: bump
    handler: builtin.transform
    peers: [check]
    max_iterations: 5
    config: {expression: "merge(payload, {count: sum([payload.count, `1`])})"}
  - {name: done, handler: builtin.output}
"""
    )
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({})
    assert result.outcome.status == "completed"
    assert result.outcome.outputs == [{"count": 3}]
    listeners = [e.listener for e in result.of("step.completed")]
    assert listeners == [
        "start",
        "check",
        "bump",
        "check",
        "bump",
        "check",
        "bump",
        "check",
        "done",
    ]


async def test_max_iterations_fails_the_execution_with_a_named_reason(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: builtin.transform, peers: [start], max_iterations: 3}
"""
    )
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({})
    assert result.outcome.status == "failed"
    failed = result.of("execution.failed")[0].data
    assert failed["reason"] == "max_iterations_exceeded"
    assert "max_iterations (3)" in failed["error"]
    assert failed["listener"] == "start"
    assert len(result.of("step.completed")) == 3


async def test_max_steps_fails_the_execution(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: builtin.transform, peers: [start], max_iterations: 1000}
limits: {max_steps: 4}
"""
    )
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({})
    failed = result.of("execution.failed")[0].data
    assert failed["reason"] == "max_steps_exceeded"
    assert "limits.max_steps (4)" in failed["error"]
    assert failed["steps"] == 5


async def test_execution_timeout_fails_with_reason_timeout(redis_url: str) -> None:
    from aiohttp import web
    from pump_testkit import serve

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async with serve([web.get("/slow", slow)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - {{name: start, handler: builtin.http, config: {{url: "{server.url}/slow"}}}}
limits: {{timeout_seconds: 0.3}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({})
    failed = result.of("execution.failed")[0].data
    assert failed["reason"] == "timeout"
    assert "limits.timeout_seconds (0.3 s)" in failed["error"]


async def test_listener_timeout_fails_the_step_and_on_error_routes_it(redis_url: str) -> None:
    from aiohttp import web
    from pump_testkit import serve

    async def slow(_: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async with serve([web.get("/slow", slow)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: start
    handler: builtin.http
    timeout_seconds: 0.2
    on_error: recover
    peers: [done]
    config: {{url: "{server.url}/slow"}}
  - {{name: done, handler: builtin.output}}
  - {{name: recover, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({"ticket": 1})
    assert result.outcome.status == "completed"
    step_failed = result.of("step.failed")[0]
    assert step_failed.listener == "start"
    assert step_failed.data["reason"] == "timeout"
    assert "timeout_seconds (0.2 s)" in step_failed.data["error"]
    (output,) = result.outcome.outputs
    assert output["error"]["reason"] == "timeout"
    assert output["error"]["listener"] == "start"
    assert output["payload"] == {"ticket": 1}
    routed = result.of("message.routed")[0].data
    assert routed == {"source": "start", "target": "recover", "on_error": True}


async def test_a_trigger_targeting_no_listener_is_a_routing_error(redis_url: str) -> None:
    organism = HEADER + "listeners:\n  - {name: start, handler: builtin.output}\n"
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({}, target="nowhere")
    failed = result.of("execution.failed")[0].data
    assert failed["reason"] == "routing_error"
    assert "'nowhere'" in failed["error"]


async def test_expression_errors_fail_the_step_with_a_clear_message(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - {name: start, handler: builtin.transform, config: {expression: "sum(payload.items)"}}
"""
    )
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({"items": ["a", "b"]})
    failed = result.of("step.failed")[0].data
    assert failed["reason"] == "expression_error"
    assert "sum(payload.items)" in failed["error"]


async def test_templates_see_payload_and_execution(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - name: start
    handler: builtin.transform
    peers: [done]
    config: {set: {id: "{{ execution.id }}", greeting: "hi {{ payload.name }} #{{ payload.n }}",
                   n: "{{ payload.n }}", listener: "{{ execution.listener }}"}}
  - {name: done, handler: builtin.output}
"""
    )
    async with in_process(redis_url, organism) as flow:
        result = await flow.run({"name": "Ada", "n": 3})
    (output,) = result.outcome.outputs
    assert output["id"] == result.outcome.execution_id
    assert output["greeting"] == "hi Ada #3"
    assert output["n"] == 3  # a whole-value template keeps the JSON type
    assert output["listener"] == "start"


async def test_secrets_are_resolved_from_literal_text_only_and_redacted(redis_url: str) -> None:
    organism = (
        HEADER
        + """
listeners:
  - name: start
    handler: builtin.transform
    peers: [done]
    config: {set: {auth: "Bearer ${secrets.TOKEN}", echoed: "{{ payload.text }}"}}
  - {name: done, handler: builtin.output}
  - {name: broken, handler: builtin.transform, config: {set: {x: "${secrets.MISSING}"}}}
"""
    )
    async with in_process(redis_url, organism, secrets={"TOKEN": "s3cr3t-value"}) as flow:
        result = await flow.run({"text": "${secrets.TOKEN}"})
        missing = await flow.run({}, target="broken")
    (output,) = result.outcome.outputs
    assert output["auth"] == "Bearer s3cr3t-value"
    assert output["echoed"] == "${secrets.TOKEN}"  # a payload cannot ask for a secret
    failed = missing.of("step.failed")[0].data
    assert failed["reason"] == "missing_secret"
    assert "'MISSING'" in failed["error"]


async def test_thread_buffer_is_written_only_around_waiting_steps_and_deleted(
    redis_url: str,
) -> None:
    from aiohttp import web
    from pump_testkit import new_keys, serve

    from pump.server import redis_client

    keys = new_keys()
    observer = redis_client(redis_url)
    seen_buffers: list[list[str]] = []

    async def peek(request: web.Request) -> web.Response:
        seen_buffers.append(await observer.lrange(request.headers["X-Buffer"], 0, -1))
        return web.json_response({"ok": True})

    async with serve([web.get("/peek", peek)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - {{name: start, handler: builtin.transform, peers: [call], config: {{set: {{a: 1}}}}}}
  - name: call
    handler: builtin.http
    peers: [done]
    config:
      url: "{server.url}/peek"
      headers: {{X-Buffer: "{keys.prefix}buffer:{{{{ execution.id }}}}"}}
  - {{name: done, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism, keys=keys) as flow:
            result = await flow.run({})
            execution_id = result.outcome.execution_id
            state = await flow.client.get(keys.execution_state(execution_id))
            ttl = await flow.client.ttl(keys.execution_state(execution_id))
            buffer_after = await flow.client.exists(keys.buffer(execution_id))
    await observer.aclose()
    assert result.outcome.status == "completed"
    # while the HTTP step waited, the buffer held the step before it
    assert len(seen_buffers) == 1 and len(seen_buffers[0]) == 1
    assert '"listener":"start"' in seen_buffers[0][0]
    assert buffer_after == 0
    assert state == "completed"
    assert 0 < ttl <= EXECUTION_STATE_TTL_SECONDS


async def test_an_execution_writes_its_events_as_one_entry_per_step_that_waits_on_io(
    redis_url: str,
) -> None:
    from aiohttp import web
    from pump_testkit import new_keys, serve

    from pump.events import Event
    from pump.server import redis_client

    keys = new_keys()
    observer = redis_client(redis_url)
    seen_during_step: list[list[str]] = []

    async def peek_events(_: web.Request) -> web.Response:
        for _attempt in range(200):  # the writer sends what was queued before the request
            entries = await observer.xrange(keys.events)
            if entries:
                break
            await asyncio.sleep(0.01)
        seen_during_step.append([e.type for _, f in entries for e in Event.decode_all(f)])
        return web.json_response({"ok": True})

    async with serve([web.get("/events", peek_events)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - {{name: start, handler: builtin.transform, peers: [call], config: {{set: {{a: 1}}}}}}
  - {{name: call, handler: builtin.http, peers: [done], config: {{url: "{server.url}/events"}}}}
  - {{name: done, handler: builtin.output}}
"""
        )
        quick = HEADER + "listeners:\n  - {name: start, handler: builtin.output}\n"
        async with in_process(redis_url, quick) as flow:
            result = await flow.run({"n": 1})
            [(_, fields)] = await flow.client.xrange(flow.keys.events)
        assert fields["type"] == "execution.completed", "the entry's own event is the last one"
        assert [e.type for e in result.events] == [
            "execution.started",
            "step.started",
            "step.completed",
            "execution.completed",
        ]
        assert result.of("step.started")[0].data["input"] == {"n": 1}

        async with in_process(redis_url, organism, keys=keys) as flow:
            result = await flow.run({})
            entries = await flow.client.xrange(keys.events)
    await observer.aclose()
    assert result.outcome.status == "completed"
    # the HTTP step's start was written before its request went out
    assert seen_during_step == [
        ["execution.started", "step.started", "step.completed", "message.routed", "step.started"]
    ]
    assert len(entries) == 2
    assert [e.type for e in result.events][5:] == [
        "step.completed",
        "message.routed",
        "step.started",
        "step.completed",
        "execution.completed",
    ]
    assert [e.step for e in result.events if e.type.startswith("step.")] == [1, 1, 2, 2, 3, 3]
