"""builtin.llm against local OpenAI-compatible and Anthropic-compatible servers (real HTTP)."""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from pump_testkit import in_process, serve

HEADER = """
version: 1
organism: {name: llm-test}
triggers: [{name: run, kind: manual, target: ask}]
"""


def fake_openai(answers: list[dict[str, Any]]) -> web.RouteDef:
    """Answers chat completions in order; each answer is {content} or {tool: {...arguments}}."""

    async def chat(request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("Authorization") != "Bearer sk-test":
            return web.json_response({"error": {"message": "bad key"}}, status=401)
        answer = answers.pop(0)
        message: dict[str, Any] = {"role": "assistant", "content": answer.get("content")}
        if "tool" in answer:
            assert body["tool_choice"] == "required"
            message["tool_calls"] = [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "route_to", "arguments": json.dumps(answer["tool"])},
                }
            ]
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
            }
        )

    return web.post("/v1/chat/completions", chat)


def fake_anthropic(answers: list[dict[str, Any]]) -> web.RouteDef:
    async def messages(request: web.Request) -> web.Response:
        body = await request.json()
        if request.headers.get("x-api-key") != "ant-test" or not request.headers.get(
            "anthropic-version"
        ):
            return web.json_response({"type": "error"}, status=401)
        answer = answers.pop(0)
        content: list[dict[str, Any]] = []
        if "text" in answer:
            content.append({"type": "text", "text": answer["text"]})
        if "tool" in answer:
            assert body["tool_choice"] == {"type": "any"}
            content.append(
                {"type": "tool_use", "id": "tu_1", "name": "route_to", "input": answer["tool"]}
            )
        return web.json_response(
            {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": content,
                "stop_reason": "end_turn",
                "usage": {"input_tokens": 20, "output_tokens": 7},
            }
        )

    return web.post("/v1/messages", messages)


async def test_openai_text_then_json_with_history_and_usage(redis_url: str) -> None:
    answers = [{"content": "It looks urgent."}, {"content": '{"priority": "high"}'}]
    async with serve([fake_openai(answers)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: ask
    handler: builtin.llm
    peers: [classify]
    config: {{base_url: "{server.url}/v1", model: gpt-test, api_key: "${{secrets.KEY}}",
             system: "You triage tickets.", prompt: "Read: {{{{ payload.body }}}}", temperature: 0.2}}
  - name: classify
    handler: builtin.llm
    peers: [done]
    config: {{base_url: "{server.url}/v1", model: gpt-test, api_key: "${{secrets.KEY}}",
             prompt: "Priority as JSON", output: json, max_tokens: 50}}
  - {{name: done, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism, secrets={"KEY": "sk-test"}) as flow:
            result = await flow.run({"body": "the site is down"})
    assert result.outcome.status == "completed", result.outcome.error
    assert result.outcome.outputs == [{"priority": "high"}]
    first, second = (request["json"] for request in server.requests)
    assert first["model"] == "gpt-test" and first["temperature"] == 0.2
    assert first["messages"] == [
        {"role": "system", "content": "You triage tickets."},
        {"role": "user", "content": "Read: the site is down"},
    ]
    assert "response_format" not in first
    assert second["response_format"] == {"type": "json_object"}
    assert second["max_tokens"] == 50
    # the thread buffer's earlier exchange is the history of the next call
    assert second["messages"] == [
        {"role": "user", "content": "Read: the site is down"},
        {"role": "assistant", "content": "It looks urgent."},
        {"role": "user", "content": "Priority as JSON"},
    ]
    completed = result.of("step.completed")
    assert completed[0].data["output"] == {"text": "It looks urgent."}
    assert completed[0].data["usage"] == {
        "input_tokens": 11,
        "output_tokens": 5,
        "total_tokens": 16,
    }


async def test_openai_agent_chooses_a_peer_through_route_to(redis_url: str) -> None:
    answers = [{"tool": {"peer": "escalate", "message": "page the on-call"}}]
    async with serve([fake_openai(answers)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: ask
    handler: builtin.llm
    agent: true
    peers: [escalate, archive]
    config: {{base_url: "{server.url}/v1", model: gpt-test, api_key: sk-test, prompt: "Decide"}}
  - {{name: escalate, handler: builtin.output}}
  - {{name: archive, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({})
    assert result.outcome.outputs == [{"text": "page the on-call", "peer": "escalate"}]
    assert result.of("step.completed")[0].data["routed_to"] == ["escalate"]
    tools = server.requests[0]["json"]["tools"]
    assert tools[0]["function"]["name"] == "route_to"
    assert tools[0]["function"]["parameters"]["properties"]["peer"]["enum"] == [
        "escalate",
        "archive",
    ]


async def test_an_agent_choosing_outside_its_peers_fails_with_routing_error(
    redis_url: str,
) -> None:
    answers = [{"tool": {"peer": "delete_everything"}}]
    async with serve([fake_openai(answers)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: ask
    handler: builtin.llm
    agent: true
    peers: [archive]
    config: {{base_url: "{server.url}/v1", model: m, api_key: sk-test, prompt: "Decide"}}
  - {{name: archive, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({})
    failed = result.of("execution.failed")[0].data
    assert failed["reason"] == "routing_error"
    assert "delete_everything" in failed["error"]


async def test_anthropic_json_mode_and_agent(redis_url: str) -> None:
    fenced = '```json\n{"priority": "low", "tags": ["billing"]}\n```'
    answers = [
        {"text": fenced},
        {"tool": {"peer": "archive", "payload": {"closed": True}}},
    ]
    async with serve([fake_anthropic(answers)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: ask
    handler: builtin.llm
    peers: [route]
    config: {{provider: anthropic, base_url: "{server.url}", model: claude-test,
             api_key: ant-test, prompt: "Classify {{{{ payload.subject }}}}", output: json}}
  - name: route
    handler: builtin.llm
    agent: true
    peers: [archive, escalate]
    config: {{provider: anthropic, base_url: "{server.url}", model: claude-test,
             api_key: ant-test, prompt: "Route it", output: json, system: "Be brief."}}
  - {{name: archive, handler: builtin.output}}
  - {{name: escalate, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({"subject": "invoice"})
    assert result.outcome.status == "completed", result.outcome.error
    assert result.outcome.outputs == [{"closed": True}]
    first, second = (request["json"] for request in server.requests)
    assert "JSON" in first["system"]
    assert first["max_tokens"] == 1024
    assert first["messages"] == [{"role": "user", "content": "Classify invoice"}]
    assert second["system"] == "Be brief."
    assert second["tools"][0]["input_schema"]["properties"]["peer"]["enum"] == [
        "archive",
        "escalate",
    ]
    assert second["messages"][:2] == [
        {"role": "user", "content": "Classify invoice"},
        {"role": "assistant", "content": fenced},
    ]
    usage = result.of("step.completed")[0].data["usage"]
    assert usage == {"input_tokens": 20, "output_tokens": 7, "total_tokens": 27}
    assert result.of("step.completed")[0].data["output"] == {"priority": "low", "tags": ["billing"]}


async def test_provider_errors_and_non_json_answers_fail_the_step(redis_url: str) -> None:
    answers = [{"content": "not json at all"}]
    async with serve([fake_openai(answers)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: ask
    handler: builtin.llm
    config: {{base_url: "{server.url}/v1", model: m, api_key: sk-test, prompt: p, output: json}}
  - name: unauthorized
    handler: builtin.llm
    config: {{base_url: "{server.url}/v1", model: m, api_key: wrong-key, prompt: p}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            not_json = await flow.run({})
            refused = await flow.run({}, target="unauthorized")
    assert not_json.of("step.failed")[0].data["reason"] == "invalid_output"
    failed = refused.of("step.failed")[0].data
    assert failed["reason"] == "llm_error"
    assert "401" in failed["error"]
    assert "wrong-key" not in failed["error"]
