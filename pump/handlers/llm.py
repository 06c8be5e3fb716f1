"""builtin.llm: OpenAI-compatible chat completions or Anthropic messages over the guarded client.

The thread buffer's earlier LLM turns of the same execution are the conversation history.
With `agent: true` the model must call the tool `route_to` to choose one of `peers`; in text
mode the tool carries `message` (the payload becomes `{text, peer}`), in JSON mode it carries
`payload` (an object, sent as is)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pump.handlers.base import HandlerResult, StepContext, StepError
from pump.handlers.core import render_or_fail
from pump.netguard import GuardedHttpClient
from pump.organism.models import Listener, LlmConfig

OPENAI_BASE_URL = "https://api.openai.com/v1"
ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
DEFAULT_TIMEOUT_SECONDS = 120.0
DEFAULT_ANTHROPIC_MAX_TOKENS = 1024
ROUTE_TOOL = "route_to"
JSON_INSTRUCTION = "Answer with one JSON object and nothing else."
FENCE = re.compile(r"^```(?:json)?\s*(.*?)\s*```$", re.DOTALL)


@dataclass(slots=True)
class Reply:
    text: str
    tool_arguments: dict[str, Any] | None
    usage: dict[str, int]


class LlmHandler:
    def __init__(
        self,
        config: LlmConfig,
        listener: Listener,
        client: GuardedHttpClient,
        secrets: Mapping[str, str],
    ) -> None:
        self._config = config
        self._peers = list(listener.peers) if listener.agent else []
        self._agent = listener.agent
        self._client = client
        self._secrets = secrets
        self._timeout = listener.timeout_seconds or DEFAULT_TIMEOUT_SECONDS

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        config = self._config
        scope = context.template_context(payload)
        prompt = _as_text(render_or_fail(config.prompt, scope, self._secrets))
        system = (
            _as_text(render_or_fail(config.system, scope, self._secrets)) if config.system else None
        )
        api_key = render_or_fail(config.api_key, scope, self._secrets) if config.api_key else None
        if self._agent and not self._peers:
            raise StepError("routing_error", "an agent listener needs at least one peer to choose")
        messages = [*_history(context.thread), {"role": "user", "content": prompt}]
        if config.provider == "anthropic":
            reply = await self._anthropic(system, messages, api_key)
        else:
            reply = await self._openai(system, messages, api_key)
        result, route, said = self._interpret(reply)
        conversation = [
            {"role": "user", "content": prompt},
            {"role": "assistant", "content": said},
        ]
        return HandlerResult(result, route=route, usage=reply.usage, conversation=conversation)

    def _interpret(self, reply: Reply) -> tuple[Any, list[str] | None, str]:
        json_mode = self._config.output == "json"
        if not self._agent:
            return (
                (_parse_json(reply.text) if json_mode else {"text": reply.text}),
                None,
                reply.text,
            )
        arguments = reply.tool_arguments
        if arguments is None:
            raise StepError(
                "routing_error", f"the model did not call {ROUTE_TOOL} to choose a peer"
            )
        peer = arguments.get("peer")
        if peer not in self._peers:
            raise StepError(
                "routing_error", f"the model chose {peer!r}, which is not one of {self._peers}"
            )
        said = reply.text or json.dumps(arguments, separators=(",", ":"))
        if json_mode:
            chosen = arguments.get("payload")
            if not isinstance(chosen, dict):
                chosen = _parse_json(reply.text) if reply.text.strip() else {}
            return chosen, [peer], said
        message = arguments.get("message")
        text = message if isinstance(message, str) and message else reply.text
        return {"text": text, "peer": peer}, [peer], said

    def _route_tool_schema(self) -> dict[str, Any]:
        properties: dict[str, Any] = {
            "peer": {"type": "string", "enum": self._peers, "description": "who handles it next"}
        }
        if self._config.output == "json":
            properties["payload"] = {"type": "object", "description": "the JSON object to send"}
        else:
            properties["message"] = {"type": "string", "description": "what to send to the peer"}
        return {"type": "object", "properties": properties, "required": ["peer"]}

    async def _post(self, url: str, headers: dict[str, str], body: dict[str, Any]) -> Any:
        response = await self._client.request(
            "POST", url, headers=headers, json_body=body, timeout_seconds=self._timeout
        )
        payload = response.as_payload()
        if response.status >= 400 or "json" not in payload:
            detail = payload.get("json", payload.get("body", ""))
            raise StepError(
                "llm_error",
                f"{self._config.provider} answered {response.status}: {str(detail)[:500]}",
            )
        return payload["json"]

    async def _openai(
        self, system: str | None, messages: list[dict[str, str]], api_key: str | None
    ) -> Reply:
        config = self._config
        body: dict[str, Any] = {"model": config.model, "messages": messages}
        if system:
            body["messages"] = [{"role": "system", "content": system}, *messages]
        if config.temperature is not None:
            body["temperature"] = config.temperature
        if config.max_tokens is not None:
            body["max_tokens"] = config.max_tokens
        if self._agent:
            body["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": ROUTE_TOOL,
                        "description": "Choose the listener that handles this next.",
                        "parameters": self._route_tool_schema(),
                    },
                }
            ]
            body["tool_choice"] = "required"
        elif config.output == "json":
            body["response_format"] = {"type": "json_object"}
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        base = (config.base_url or OPENAI_BASE_URL).rstrip("/")
        data = await self._post(f"{base}/chat/completions", headers, body)
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError):
            raise StepError("llm_error", f"unexpected chat completion: {str(data)[:500]}") from None
        arguments = None
        for call in message.get("tool_calls") or []:
            function = call.get("function") or {}
            if function.get("name") == ROUTE_TOOL:
                arguments = _tool_arguments(function.get("arguments"))
                break
        usage = data.get("usage") or {}
        return Reply(
            text=message.get("content") or "",
            tool_arguments=arguments,
            usage=_usage(usage.get("prompt_tokens"), usage.get("completion_tokens")),
        )

    async def _anthropic(
        self, system: str | None, messages: list[dict[str, str]], api_key: str | None
    ) -> Reply:
        config = self._config
        if config.output == "json" and not self._agent:
            system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
        body: dict[str, Any] = {
            "model": config.model,
            "messages": messages,
            "max_tokens": config.max_tokens or DEFAULT_ANTHROPIC_MAX_TOKENS,
        }
        if system:
            body["system"] = system
        if config.temperature is not None:
            body["temperature"] = min(config.temperature, 1.0)
        if self._agent:
            body["tools"] = [
                {
                    "name": ROUTE_TOOL,
                    "description": "Choose the listener that handles this next.",
                    "input_schema": self._route_tool_schema(),
                }
            ]
            body["tool_choice"] = {"type": "any"}
        headers = {"anthropic-version": ANTHROPIC_VERSION}
        if api_key:
            headers["x-api-key"] = api_key
        base = (config.base_url or ANTHROPIC_BASE_URL).rstrip("/")
        data = await self._post(f"{base}/v1/messages", headers, body)
        blocks = data.get("content") if isinstance(data, dict) else None
        if not isinstance(blocks, list):
            raise StepError("llm_error", f"unexpected messages response: {str(data)[:500]}")
        texts = [block.get("text", "") for block in blocks if block.get("type") == "text"]
        arguments = next(
            (
                block.get("input")
                for block in blocks
                if block.get("type") == "tool_use" and block.get("name") == ROUTE_TOOL
            ),
            None,
        )
        usage = data.get("usage") or {}
        return Reply(
            text="".join(texts),
            tool_arguments=arguments if isinstance(arguments, dict) else None,
            usage=_usage(usage.get("input_tokens"), usage.get("output_tokens")),
        )


def _history(thread: list[dict[str, Any]]) -> list[dict[str, str]]:
    turns: list[dict[str, str]] = []
    for entry in thread:
        turns.extend(entry.get("conversation") or [])
    return turns


def _as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))


def _usage(input_tokens: Any, output_tokens: Any) -> dict[str, int]:
    used_in = int(input_tokens or 0)
    used_out = int(output_tokens or 0)
    return {"input_tokens": used_in, "output_tokens": used_out, "total_tokens": used_in + used_out}


def _tool_arguments(raw: Any) -> dict[str, Any] | None:
    if isinstance(raw, dict):
        return raw
    try:
        parsed = json.loads(raw) if isinstance(raw, str) else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def _parse_json(text: str) -> Any:
    candidate = text.strip()
    fenced = FENCE.match(candidate)
    if fenced:
        candidate = fenced.group(1)
    try:
        return json.loads(candidate)
    except ValueError:
        start, end = candidate.find("{"), candidate.rfind("}")
        if 0 <= start < end:
            try:
                return json.loads(candidate[start : end + 1])
            except ValueError:
                pass
    raise StepError("invalid_output", f"the model's answer is not JSON: {text[:300]!r}")
