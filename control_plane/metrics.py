"""`/metrics` in the Prometheus text format, from one `CollectorRegistry` per app.

- `flowplane_flows_total{status}`: flows by status, read from the database at each scrape.
- `flowplane_executions_total{status}`: executions this instance created (`queued`) and saw
  finish (`succeeded`, `failed`) — summed over replicas, each execution is counted once per
  status because the recorder's consumer group hands each event to one replica.
- `flowplane_pump_messages_total`: messages pumps handled (one per recorded step).
- `flowplane_api_requests_total{route,status}`: by route template (`/api/flows/{flow_id}`),
  never the raw path, so the label set stays bounded.
- `flowplane_trigger_to_start_seconds`: trigger accepted -> pump started the execution.
- `flowplane_flow_queue_depth{flow_id}`: triggers waiting or running per flow whose desired
  state is `running`, read from Redis at each scrape (absent while Redis is away).

`/metrics` is not public: a scrape sends `Authorization: Bearer <token>`, the token being
FLOWPLANE_METRICS_TOKEN or, when that is empty, one generated once into
`<data_dir>/metrics.token` (mode 0600; Prometheus reads it with `credentials_file`)."""

from __future__ import annotations

import hmac
import os
import secrets
import tempfile
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.exposition import generate_latest
from redis.asyncio import Redis
from redis.exceptions import RedisError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.routing import Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from control_plane.errors import Unauthorized, render
from control_plane.flows.models import Flow
from control_plane.pumps.queue import queue_depths
from pump.keys import FlowKeys

FLOW_STATUSES = ("stopped", "starting", "running", "idle", "error", "over_plan")
UNMATCHED_ROUTE = "<unmatched>"
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.flows = Gauge(
            "flowplane_flows_total", "Flows by status", ["status"], registry=self.registry
        )
        self.executions = Counter(
            "flowplane_executions",
            "Executions created (queued) and finished (succeeded, failed)",
            ["status"],
            registry=self.registry,
        )
        self.stalled = Counter(
            "flowplane_executions_stalled",
            "Executions marked failed with reason stalled (running, silent past their limits)",
            registry=self.registry,
        )
        self.pump_messages = Counter(
            "flowplane_pump_messages",
            "Messages handled by pumps (one per recorded step)",
            registry=self.registry,
        )
        self.api_requests = Counter(
            "flowplane_api_requests",
            "HTTP requests by route template and status code",
            ["route", "status"],
            registry=self.registry,
        )
        self.queue_depth = Gauge(
            "flowplane_flow_queue_depth",
            "Triggers waiting or running per flow (flows whose desired state is running)",
            ["flow_id"],
            registry=self.registry,
        )
        self.trigger_to_start = Histogram(
            "flowplane_trigger_to_start_seconds",
            "Seconds from an accepted trigger to its execution's start in the pump",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )

    async def refresh_flow_gauge(self, engine: AsyncEngine) -> None:
        async with engine.connect() as connection:
            rows = await connection.execute(select(Flow.status, func.count()).group_by(Flow.status))
            counts: dict[str, int] = {status: 0 for status in FLOW_STATUSES}
            counts.update({str(status): int(count) for status, count in rows})
        for status, count in counts.items():
            self.flows.labels(status).set(count)

    async def refresh_queue_gauge(self, engine: AsyncEngine, redis: Redis) -> None:
        async with engine.connect() as connection:
            flows = (
                await connection.execute(
                    select(Flow.tenant_id, Flow.id).where(Flow.desired_state == "running")
                )
            ).all()
        self.queue_depth.clear()
        try:
            depths = await queue_depths(redis, [FlowKeys(t, f).triggers for t, f in flows])
        except (RedisError, OSError):
            return
        for (_, flow_id), depth in zip(flows, depths, strict=True):
            self.queue_depth.labels(flow_id).set(depth.depth)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestMetricsMiddleware:
    """Counts every HTTP request by the template of the route that served it (plain ASGI, so
    it costs the hot webhook path next to nothing)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_with_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_with_status)
        finally:
            self.metrics.api_requests.labels(route_template(scope), str(status)).inc()


def route_template(scope: Scope) -> str:
    """The matched route's full path template. FastAPI keeps the template with the include
    prefix (`/api/...`) in its effective route context; `scope["route"]` has it without."""
    fastapi_scope = scope.get("fastapi")
    if isinstance(fastapi_scope, dict):
        path = getattr(fastapi_scope.get("effective_route_context"), "path", None)
        if isinstance(path, str) and path:
            return path
    path = getattr(scope.get("route"), "path", None)
    if isinstance(path, str) and path:
        return path
    endpoint = scope.get("endpoint")  # a plain Starlette route (the webhook's fast path)
    if endpoint is not None and "app" in scope:
        for route in scope["app"].router.routes:
            if isinstance(route, Route) and route.endpoint is endpoint:
                return route.path
    return UNMATCHED_ROUTE


def app_metrics(app: Any) -> Metrics:
    metrics: Metrics = app.state.metrics
    return metrics


def install_metrics(app: FastAPI) -> None:
    """Give `app` its own registry, the request counter and `GET /metrics`."""
    metrics = Metrics()
    app.state.metrics = metrics
    app.add_middleware(RequestMetricsMiddleware, metrics=metrics)

    @app.get("/metrics", include_in_schema=False)
    async def prometheus_metrics(request: Request) -> Response:
        expected = metrics_token(request.app.state.settings)
        given = request.headers.get("authorization", "")
        scheme, _, token = given.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            token.strip().encode(), expected.encode()
        ):
            return render(
                Unauthorized(
                    "/metrics needs 'Authorization: Bearer <token>': FLOWPLANE_METRICS_TOKEN, "
                    "or the token in <data_dir>/metrics.token when that setting is empty"
                )
            )
        await metrics.refresh_flow_gauge(request.app.state.engine)
        await metrics.refresh_queue_gauge(request.app.state.engine, request.app.state.redis.client)
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)


def metrics_token(settings: Any) -> str:
    """FLOWPLANE_METRICS_TOKEN, or the token generated once into `<data_dir>/metrics.token`."""
    configured: str = settings.metrics_token
    if configured:
        return configured
    path: Path = settings.data_dir / "metrics.token"
    try:
        existing = path.read_text().strip()
    except FileNotFoundError:
        existing = ""
    return existing or _create_token(path)


def _create_token(path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".metrics.token.")
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 0600
            handle.write(token + "\n")
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_text().strip()
        return token
    finally:
        os.unlink(temporary)
