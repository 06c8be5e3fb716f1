"""The door of the JSON API: bodies over `api_max_body_bytes` get 413, JSON past the limits of
`json_limits` gets 400 naming the problem, before any route, dependency or database sees them.

Plain ASGI (no BaseHTTPMiddleware task group per request). The body is read once, checked and
handed on unchanged; bodies that are not JSON at all go on too, so FastAPI answers them with its
usual 422 InvalidRequest. Webhooks are not checked here: they read their body with their own
cap and parse it with the same limits (triggers/body.py)."""

from __future__ import annotations

import json
import re

from fastapi import FastAPI
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane.errors import BadRequest, ControlPlaneError, PayloadTooLarge
from control_plane.json_limits import JsonLimitError, loads_limited

BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
WEBHOOK_PATH = re.compile(r"^/api/triggers/[^/]+/webhook/[^/]+$")
NUL_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u0000")  # \u0000 not preceded by an escaping backslash


class JsonLimitsMiddleware:
    def __init__(self, app: ASGIApp, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/"):
            await self.app(scope, receive, send)
            return
        messages: list[Message] = []
        try:
            _check_url(scope)
            if self._applies(scope):
                body, messages = await self._read(scope, receive)
                _check(body)
        except ControlPlaneError as error:
            response = JSONResponse(error.body(), status_code=error.status)
            await response(scope, receive, send)
            return
        pending = list(messages)

        async def replay() -> Message:
            if pending:
                return pending.pop(0)
            return await receive()

        await self.app(scope, replay, send)

    def _applies(self, scope: Scope) -> bool:
        if scope["method"] not in BODY_METHODS or WEBHOOK_PATH.match(scope["path"]):
            return False
        content_type = Headers(scope=scope).get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        return not media_type or media_type == "application/json" or media_type.endswith("+json")

    async def _read(self, scope: Scope, receive: Receive) -> tuple[bytes, list[Message]]:
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: let the app see it
                return b"".join(chunks), [_whole(chunks), message]
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                raise self._too_large()
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks), [_whole(chunks)]

    def _too_large(self) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"the request body is larger than the {self.max_body_bytes:,}-byte limit "
            "(setting FLOWPLANE_API_MAX_BODY_BYTES)",
            limit_bytes=self.max_body_bytes,
        )


def _whole(chunks: list[bytes]) -> Message:
    return {"type": "http.request", "body": b"".join(chunks), "more_body": False}


def _check_url(scope: Scope) -> None:
    """NUL cannot be stored in a Postgres text column nor be part of any id: refuse it early."""
    if "\x00" in scope["path"] or b"%00" in scope["query_string"]:
        raise BadRequest(
            "the URL holds a NUL character (%00)",
            problems=[{"path": "url", "message": "NUL characters are not allowed"}],
        )


def _check(body: bytes) -> None:
    if not body.strip():
        return
    if b"\\u0000" in body and NUL_ESCAPE.search(body):
        raise BadRequest(
            "body: text may not hold NUL characters (\\u0000)",
            problems=[{"path": "body", "message": "NUL characters (\\u0000) are not allowed"}],
        )
    try:
        loads_limited(body)
    except JsonLimitError as error:
        raise json_limit_error(error, "body") from None
    except json.JSONDecodeError:
        return  # not JSON: FastAPI's own 422 names the position


def json_limit_error(error: JsonLimitError, where: str) -> BadRequest:
    """The 400 for a JSON document past the limits, naming where the problem is."""
    path = f"{where}.{error.path}" if error.path else where
    return BadRequest(
        f"{path}: {error.message}", problems=[{"path": path, "message": error.message}]
    )


def install_json_limits(app: FastAPI, max_body_bytes: int) -> None:
    app.add_middleware(JsonLimitsMiddleware, max_body_bytes=max_body_bytes)
