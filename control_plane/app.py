"""`create_app()`: wires settings, database, Redis, domain routers and background services."""

from __future__ import annotations

import asyncio
import gc
import inspect
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any

from fastapi import APIRouter, FastAPI

from control_plane import __version__
from control_plane.accounts.clerk import frontend_api_host
from control_plane.accounts.clerk_webhooks import router as clerk_webhooks
from control_plane.accounts.endpoints import router as accounts_router
from control_plane.accounts.runtime import accounts_service
from control_plane.accounts.team_endpoints import router as teams_router
from control_plane.authoring.endpoints import router as authoring_router
from control_plane.billing.endpoints import router as billing_router
from control_plane.billing.endpoints import webhooks as billing_webhooks
from control_plane.billing.runtime import billing_service
from control_plane.blobs import blob_store_from_settings
from control_plane.callbacks.endpoints import router as callbacks_router
from control_plane.data_dir import prepare_data_dir, tighten
from control_plane.db import create_engine, create_sessionmaker, migrate
from control_plane.errors import install_error_handlers
from control_plane.executions.endpoints import router as executions_router
from control_plane.executions.runtime import executions_service
from control_plane.flows.endpoints import router as flows_router
from control_plane.frontend import mount_frontend
from control_plane.health.endpoints import router as health_router
from control_plane.jobs.endpoints import router as jobs_router
from control_plane.marketplace.endpoints import router as marketplace_router
from control_plane.marketplace.runtime import marketplace_service
from control_plane.metrics import install_metrics
from control_plane.modules.endpoints import router as modules_router
from control_plane.modules.runtime import modules_service
from control_plane.observability import configure_logging, install_request_ids
from control_plane.openapi import install_docs, install_openapi
from control_plane.organism_editor.endpoints import router as organism_router
from control_plane.outages import install_outage_handlers
from control_plane.pumps.endpoints import module_downloads as pump_modules_router
from control_plane.pumps.endpoints import router as pumps_router
from control_plane.pumps.lifespan import pumps_service
from control_plane.redis import RedisConnections
from control_plane.request_limits import install_json_limits
from control_plane.security_headers import SecurityHeadersMiddleware
from control_plane.settings import Settings, get_settings
from control_plane.triggers.endpoints import install_webhook_route
from control_plane.triggers.endpoints import router as triggers_router
from control_plane.triggers.runtime import triggers_service
from control_plane.waits.endpoints import router as waits_router
from control_plane.waits.runtime import waits_service

# the cyclic collector's thresholds while serving (bench/README.md: 7 % less control-plane CPU
# per execution under load)
SERVING_GC_THRESHOLDS = (10_000, 20, 100)


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        prepare_data_dir(settings.data_dir)
        database_url = settings.resolved_database_url
        redis = RedisConnections(settings)
        # side by side: after a crash both the migration check and Redis' reload take time
        starting = [redis.start(), *([migrate(database_url)] if settings.run_migrations else [])]
        outcomes = await asyncio.gather(*starting, return_exceptions=True)
        failure = next((item for item in outcomes if isinstance(item, BaseException)), None)
        if failure is not None:
            await redis.close()
            raise failure
        tighten(settings.data_dir)  # the database file the migration may just have created
        engine = create_engine(database_url)
        app.state.settings = settings
        app.state.engine = engine
        app.state.sessionmaker = create_sessionmaker(engine)
        app.state.redis = redis
        app.state.blobs = blob_store_from_settings(settings)
        async with AsyncExitStack() as services:
            for start_service in SERVICES:
                await services.enter_async_context(start_service(app))
            # What startup built lives as long as the app: kept out of the cyclic collector's
            # full passes, which otherwise walk it again and again under load (bench/README.md).
            gc.collect()
            gc.freeze()
            # Nearly everything a request allocates is freed by reference counting, yet at the
            # default threshold every 700 net allocations start a young-generation pass.
            thresholds = gc.get_threshold()
            gc.set_threshold(*SERVING_GC_THRESHOLDS)
            try:
                yield
            finally:
                gc.set_threshold(*thresholds)
                gc.unfreeze()
                await services.aclose()
                await redis.close()
                await engine.dispose()

    # /docs is served by install_openapi with Swagger UI from frontend/dist (no CDN).
    app = FastAPI(
        title="Flowplane",
        version=__version__,
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        **telemetry_options(settings.opentelemetry),
    )
    install_error_handlers(app)
    install_outage_handlers(app)
    install_request_ids(app)
    install_metrics(app)
    install_json_limits(app, settings.api_max_body_bytes)
    app.add_middleware(
        SecurityHeadersMiddleware,
        clerk_frontend_api=frontend_api_host(settings.clerk_publishable_key)
        if settings.clerk_enabled
        else None,
    )
    app.include_router(health_router)
    for router in API_ROUTERS:
        app.include_router(router, prefix="/api")
    install_webhook_route(app)
    app.include_router(billing_webhooks)
    app.include_router(clerk_webhooks)
    install_docs(app)
    mount_frontend(app)
    install_openapi(app)
    return app


# Background services: async context managers taking the app, entered in order at start-up and
# closed in reverse order at shutdown. The pump orchestrator comes first because triggers and the
# recorder use app.state.pumps; they close before it, so triggers drain first.
SERVICES: list[Callable[[FastAPI], AbstractAsyncContextManager[None]]] = [
    accounts_service,
    billing_service,
    modules_service,
    marketplace_service,  # before the pumps: they get its public key
    pumps_service,
    executions_service,
    triggers_service,
    waits_service,
]
API_ROUTERS: list[APIRouter] = [
    accounts_router,
    teams_router,
    authoring_router,
    flows_router,
    organism_router,
    pumps_router,
    triggers_router,
    executions_router,
    waits_router,
    jobs_router,
    callbacks_router,
    modules_router,
    pump_modules_router,
    billing_router,
    marketplace_router,
]


def telemetry_options(enabled: bool) -> dict[str, Any]:
    """FastAPI's `telemetry` argument (FastAPI 0.165 and later), every signal on or off."""
    if "telemetry" not in inspect.signature(FastAPI.__init__).parameters:
        return {}
    return {"telemetry": {"tracing": enabled, "metrics": enabled, "logs": enabled}}
