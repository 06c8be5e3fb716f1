"""builtin.http: one request through the pump's guarded, pooled client."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pump.handlers.base import HandlerResult, StepContext, StepError
from pump.handlers.core import render_or_fail
from pump.netguard import GuardedHttpClient
from pump.organism.models import HttpConfig


class HttpHandler:
    def __init__(
        self, config: HttpConfig, client: GuardedHttpClient, secrets: Mapping[str, str]
    ) -> None:
        self._config = config
        self._client = client
        self._secrets = secrets
        self._has_json = "json" in config.model_fields_set or config.json_body is not None

    async def __call__(self, context: StepContext, payload: Any) -> HandlerResult:
        config = self._config
        scope = context.template_context(payload)
        url = render_or_fail(config.url, scope, self._secrets)
        if not isinstance(url, str):
            raise StepError("invalid_url", f"url rendered to {url!r}, not a string")
        headers = render_or_fail(config.headers, scope, self._secrets)
        json_body = (
            render_or_fail(config.json_body, scope, self._secrets) if self._has_json else None
        )
        body = (
            render_or_fail(config.body, scope, self._secrets) if config.body is not None else None
        )
        if body is not None and not isinstance(body, str):
            body = str(body)
        response = await self._client.request(
            config.method,
            url,
            headers={str(name): str(value) for name, value in headers.items()},
            json_body=json_body,
            body=body,
            timeout_seconds=config.timeout_seconds,
        )
        return HandlerResult(response.as_payload())
