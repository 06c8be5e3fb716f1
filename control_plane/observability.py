"""JSON structured logs (structlog) and request ids."""

from __future__ import annotations

import logging
import re
import time

import structlog
from fastapi import FastAPI
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane.random_ids import random_hex

REQUEST_ID_HEADER = "X-Request-ID"
# Paths that carry a credential (a webhook's token, a pump's module download token, an
# invitation's token): logged
# with the credential replaced, so logs never hold a working secret.
_CREDENTIAL_IN_PATH = re.compile(r"(/webhook/|/pump-modules/|/invitations/)[^/]+")


def loggable_path(path: str) -> str:
    return _CREDENTIAL_IN_PATH.sub(r"\1***", path)


def configure_logging(level: str, json_logs: bool) -> None:
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if json_logs else structlog.dev.ConsoleRenderer()
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        cache_logger_on_first_use=True,
    )


def install_request_ids(app: FastAPI) -> None:
    app.add_middleware(RequestIdMiddleware)


class RequestIdMiddleware:
    """Echo `X-Request-ID` (or make one), bind it to every log line of the request. Plain
    ASGI rather than `@app.middleware("http")`: Starlette's BaseHTTPMiddleware costs a task
    group and memory streams per request, most of a webhook's CPU time at high rates."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.log = structlog.get_logger("control_plane.http")

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = Headers(scope=scope).get(REQUEST_ID_HEADER) or random_hex(16)
        started = time.perf_counter()
        status = 500

        async def send_with_request_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                MutableHeaders(scope=message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        structlog.contextvars.bind_contextvars(request_id=request_id)
        try:
            await self.app(scope, receive, send_with_request_id)
        except Exception:
            path = loggable_path(scope["path"])
            self.log.exception("request.failed", method=scope["method"], path=path)
            raise
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        self.log.debug(
            "request",
            method=scope["method"],
            path=loggable_path(scope["path"]),
            status=status,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
            request_id=request_id,
        )
