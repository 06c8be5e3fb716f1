"""The trigger path's long-lived parts, created at start-up: the flow catalog, usage tracker,
admission workers, completion watcher and backpressure (always), plus the scheduler and the reaper (only
where `background_tasks` is on)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI

from control_plane.metrics import app_metrics
from control_plane.settings import Settings
from control_plane.triggers.admission import Admitter
from control_plane.triggers.backpressure import Backpressure
from control_plane.triggers.catalog import FlowCatalog
from control_plane.triggers.quota import UsageTracker
from control_plane.triggers.waiting import CompletionWatcher


@dataclass
class TriggerRuntime:
    catalog: FlowCatalog
    usage: UsageTracker
    admitter: Admitter
    watcher: CompletionWatcher
    backpressure: Backpressure


def trigger_runtime(app: Any) -> TriggerRuntime:
    runtime: TriggerRuntime = app.state.triggers
    return runtime


@asynccontextmanager
async def triggers_service(app: FastAPI) -> AsyncIterator[None]:
    from control_plane.triggers.reaper import run_reaper
    from control_plane.triggers.scheduler import run_scheduler

    settings: Settings = app.state.settings
    engine = app.state.engine
    redis = app.state.redis.client
    usage = UsageTracker(engine, settings.quota_refresh_seconds)
    admitter = Admitter(
        engine,
        redis,
        usage,
        app_metrics(app),
        workers=settings.trigger_admission_workers,
        max_batch=settings.trigger_admission_max_batch,
        input_max_bytes=settings.execution_input_max_bytes,
    )
    runtime = TriggerRuntime(
        catalog=FlowCatalog(engine, settings.trigger_flow_cache_seconds),
        usage=usage,
        admitter=admitter,
        watcher=CompletionWatcher(redis),
        backpressure=Backpressure(app.state.redis, settings),
    )
    app.state.triggers = runtime
    admitter.start()
    async with AsyncExitStack() as stack:
        stack.push_async_callback(runtime.watcher.close)
        stack.push_async_callback(admitter.close)
        if settings.background_tasks:
            await stack.enter_async_context(run_scheduler(app))
            await stack.enter_async_context(run_reaper(app))
        yield
