"""builtin.wait: parks the execution until a timer fires, an event arrives or someone decides.

The handler only works out what is awaited (templates rendered against the step's payload);
the engine records the continuation and hands the wait to the control plane (engine.py)."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from pump.handlers.base import HandlerResult, StepContext, StepError
from pump.handlers.core import render_or_fail
from pump.organism.models import WaitConfig

MAX_CORRELATION_CHARS = 255
MAX_MESSAGE_CHARS = 2_000


class WaitHandler:
    def __init__(self, config: WaitConfig, secrets: Mapping[str, str]) -> None:
        self._config = config
        self._secrets = secrets

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        config = self._config
        scope = context.template_context(payload)
        now = time.time()
        spec: dict[str, Any] = {"kind": config.kind}
        if config.kind == "timer":
            if config.until is not None:
                spec["fire_at"] = _moment(render_or_fail(config.until, scope, self._secrets))
            else:
                spec["fire_at"] = now + (config.seconds or 0.0)
        elif config.kind == "event":
            correlation = render_or_fail(config.correlation or "", scope, self._secrets)
            text = correlation if isinstance(correlation, str) else _json_text(correlation)
            if not 0 < len(text) <= MAX_CORRELATION_CHARS:
                raise StepError(
                    "invalid_wait",
                    f"the correlation id must be 1 to {MAX_CORRELATION_CHARS} characters "
                    f"(it rendered to {text[:80]!r})",
                )
            spec["topic"] = config.topic
            spec["correlation_id"] = text
        elif config.message is not None:
            message = render_or_fail(config.message, scope, self._secrets)
            spec["message"] = (message if isinstance(message, str) else _json_text(message))[
                :MAX_MESSAGE_CHARS
            ]
        if config.timeout_seconds is not None:
            spec["timeout_at"] = now + config.timeout_seconds
        if config.on_timeout is not None:
            spec["on_timeout"] = config.on_timeout
        return HandlerResult(payload, wait=spec)


def _moment(value: Any) -> float:
    if not isinstance(value, str):
        raise StepError("invalid_wait", f"'until' must be an ISO 8601 time, not {value!r}")
    try:
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise StepError(
            "invalid_wait", f"'until' must be an ISO 8601 time, not {value[:80]!r}"
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _json_text(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), default=str)
