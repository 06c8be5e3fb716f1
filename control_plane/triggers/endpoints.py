"""/api/triggers: the per-flow webhook, the Run button; and the webhook token rotation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, FastAPI, Query, Request, Response, status
from starlette.routing import Route

from control_plane.accounts.roles import Editor
from control_plane.callbacks.outbox import expect_callback, validate_callback
from control_plane.db import DatabaseSession
from control_plane.flows.endpoints import base_url
from control_plane.flows.service import webhook_url
from control_plane.triggers import service
from control_plane.triggers.body import read_capped_body
from control_plane.triggers.runtime import trigger_runtime
from control_plane.triggers.schemas import InjectRequest, RunResult, TriggerAccepted, WebhookIssued

router = APIRouter(tags=["triggers"])

REFUSALS: dict[int | str, dict[str, Any]] = {
    402: {"description": "QuotaExceeded: the tier's monthly executions are used up"},
    409: {"description": "Conflict: the flow is stopped or in error, or has no such trigger"},
    429: {
        "description": "TooManyRequests: the flow's queue is full (max_queued_per_flow); "
        "nothing was stored, send it again after Retry-After"
    },
    503: {
        "description": "ServiceUnavailable: the database or Redis is away, or the control plane "
        "is saturated; nothing was stored, send it again after Retry-After"
    },
}


WEBHOOK_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "trigger",
        "in": "query",
        "required": False,
        "schema": {"type": "string"},
        "description": "Webhook trigger of the organism; default: the first",
    },
    {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 255},
        "description": "A repeat returns the first execution with 200",
    },
]


@router.post(
    "/triggers/{flow_id}/webhook/{token}",
    response_model=TriggerAccepted,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Start an execution from a webhook (JSON or form body)",
    openapi_extra={
        "parameters": WEBHOOK_PARAMETERS,
        "requestBody": {
            "content": {
                "application/json": {"schema": {}},
                "application/x-www-form-urlencoded": {"schema": {"type": "object"}},
                "multipart/form-data": {"schema": {"type": "object"}},
            }
        },
    },
    responses={
        200: {
            "description": "A repeated Idempotency-Key: the first execution",
            "model": TriggerAccepted,
        },
        404: {"description": "NotFound: unknown flow or wrong token (indistinguishable)"},
        413: {"description": "PayloadTooLarge: the body is over the size cap"},
        415: {"description": "UnsupportedMediaType: not JSON or a form"},
        **REFUSALS,
    },
)
async def receive_webhook(flow_id: str, token: str, request: Request) -> Response:
    """Declared here for the API schema; requests are served by `WEBHOOK_ROUTE`, which runs
    the same handler ahead of FastAPI's routing."""
    return await _webhook(request, flow_id, token)


async def _webhook(request: Request, flow_id: str, token: str) -> Response:
    """The hot path: query and header are read straight from the request and the answer is
    built here, sparing FastAPI's parameter and response-model machinery per webhook."""
    app = request.app
    backpressure = trigger_runtime(app).backpressure
    backpressure.ensure_open()  # refuse before reading the body when the answer is known
    flow = await service.webhook_flow(app, flow_id, token)
    await backpressure.check(flow)
    callback_url = request.headers.get("x-callback-url")
    if callback_url is not None:
        validate_callback(app, callback_url, "X-Callback-Url")
    body = await read_capped_body(request, app.state.settings.webhook_max_body_bytes)
    admitted = await service.accept_webhook(
        app,
        flow,
        body=body,
        content_type=request.headers.get("content-type"),
        trigger_name=request.query_params.get("trigger") if request.scope["query_string"] else None,
        idempotency_key=request.headers.get("idempotency-key"),
    )
    if callback_url is not None and admitted.created:
        await expect_callback(
            app.state.engine,
            admitted.execution_id,
            callback_url,
            request.headers.get("x-callback-token"),
        )
    return Response(
        b'{"execution_id":"' + admitted.execution_id.encode() + b'"}',
        status_code=status.HTTP_202_ACCEPTED if admitted.created else status.HTTP_200_OK,
        media_type="application/json",
    )


async def _serve_webhook(request: Request) -> Response:
    return await _webhook(request, request.path_params["flow_id"], request.path_params["token"])


# A plain Starlette route, matched before every FastAPI route (install_webhook_route): FastAPI's
# routing and dependency handling cost several times what the handler itself does, at
# thousands of webhooks a second. Domain errors still go through the app's error handlers.
WEBHOOK_ROUTE = Route("/api/triggers/{flow_id}/webhook/{token}", _serve_webhook, methods=["POST"])


def install_webhook_route(app: FastAPI) -> None:
    app.router.routes.insert(0, WEBHOOK_ROUTE)


@router.post(
    "/triggers/{flow_id}/inject",
    response_model=TriggerAccepted | RunResult,
    status_code=status.HTTP_202_ACCEPTED,
    summary="Run a flow now (the Run button); ?wait=true waits for the result",
    responses={
        200: {"description": "?wait=true: the finished execution", "model": RunResult},
        **REFUSALS,
    },
)
async def inject(
    flow_id: str,
    request: Request,
    response: Response,
    principal: Editor,
    session: DatabaseSession,
    body: Annotated[InjectRequest | None, Body()] = None,
    wait: Annotated[bool, Query(description="Wait (bounded) for the execution to finish")] = False,
) -> TriggerAccepted | RunResult:
    body = body or InjectRequest()
    app = request.app
    if body.callback_url is not None:
        validate_callback(app, body.callback_url)
    flow = await service.manual_flow(app, principal, flow_id)
    trigger_request = service.manual_request(flow, body.trigger, body.payload)
    if not wait:
        admitted = await service.submit(app, trigger_request)
        if body.callback_url is not None:
            await expect_callback(
                app.state.engine, admitted.execution_id, body.callback_url, body.callback_token
            )
        return TriggerAccepted(execution_id=admitted.execution_id)
    await session.commit()  # nothing to write: give the connection back for the wait
    result = await service.run_and_wait(
        app, trigger_request, app.state.settings.trigger_wait_timeout_seconds
    )
    if body.callback_url is not None:
        await expect_callback(
            app.state.engine, result.execution_id, body.callback_url, body.callback_token
        )
    if result.status in ("succeeded", "failed"):
        response.status_code = status.HTTP_200_OK
    return result


@router.post(
    "/flows/{flow_id}/webhook/rotate",
    response_model=WebhookIssued,
    summary="Issue a new webhook token (the old one stops working)",
)
async def rotate_webhook(
    flow_id: str, request: Request, principal: Editor, session: DatabaseSession
) -> WebhookIssued:
    box = request.app.state.pumps.secret_box
    token = await service.rotate_webhook_token(session, principal, flow_id, box)
    await session.commit()  # before the catalog forgets the old hash, or it could re-read it
    trigger_runtime(request.app).catalog.invalidate(flow_id)
    return WebhookIssued(url=webhook_url(base_url(request), flow_id, token), token=token)
