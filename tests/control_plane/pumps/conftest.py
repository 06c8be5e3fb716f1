"""Apps with short pump timings; every app stops the flows it left running."""

from __future__ import annotations

import subprocess
from collections.abc import AsyncIterator

import httpx
import pytest
from fastapi import FastAPI

from control_plane.app import create_app
from control_plane.pumps.backends import process as process_module
from control_plane.settings import Settings
from pump.keys import PumpEnv
from tests.control_plane.pumps.pumps_helpers import stop_every_flow


def fast_pump_settings(settings: Settings, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "pump_stop_timeout_seconds": 10.0,
        "pump_start_timeout_seconds": 30.0,
        "reconcile_interval_seconds": 0.2,
        "pump_restart_backoff_seconds": 0.2,
        "pump_restart_backoff_max_seconds": 1.0,
        "pump_warm_standby": 0,
        **overrides,
    }
    return settings.model_copy(update=values)


@pytest.fixture
def handed(monkeypatch: pytest.MonkeyPatch) -> dict[str, dict[str, str]]:
    """What the process backend handed each flow's pump on its stdin (flow id -> the latest
    environment): a pump's credential and secrets are never in its process environment."""
    seen: dict[str, dict[str, str]] = {}
    original = process_module._hand_environment

    async def recording(child: subprocess.Popen[bytes], env: dict[str, str]) -> None:
        seen[env[PumpEnv.FLOW_ID]] = dict(env)
        await original(child, env)

    monkeypatch.setattr(process_module, "_hand_environment", recording)
    return seen


@pytest.fixture
def pump_settings(settings: Settings) -> Settings:
    return fast_pump_settings(settings)


@pytest.fixture
async def pump_app(pump_settings: Settings) -> AsyncIterator[FastAPI]:
    application = create_app(pump_settings)
    async with application.router.lifespan_context(application):
        try:
            yield application
        finally:
            await stop_every_flow(application)


@pytest.fixture
async def pump_client(pump_app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=pump_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http
