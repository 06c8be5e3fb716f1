"""A real Docker engine and the pump image, both provided by `infra/docker-engine.sh` (run by
`make test` and `make test-containers`): it starts a private dockerd when none answers, builds
the image, and passes FLOWPLANE_TEST_PUMP_IMAGE (or FLOWPLANE_TEST_DOCKER_UNAVAILABLE)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import docker
import pytest

from control_plane.settings import Settings
from tests.control_plane.pumps.conftest import fast_pump_settings
from tests.services import REQUIRE_SERVICES

PUMP_IMAGE = os.environ.get("FLOWPLANE_TEST_PUMP_IMAGE", "")
UNAVAILABLE = os.environ.get("FLOWPLANE_TEST_DOCKER_UNAVAILABLE", "")
PUMP_MEMORY_BYTES = 256 * 1024 * 1024


@pytest.fixture(scope="session")
def docker_client() -> Iterator[Any]:
    if not PUMP_IMAGE:
        why = UNAVAILABLE or (
            "FLOWPLANE_TEST_PUMP_IMAGE is not set: run these tests through `make test-containers` "
            "(infra/docker-engine.sh starts an engine and builds the pump image)"
        )
        if REQUIRE_SERVICES:
            pytest.fail(f"FLOWPLANE_TEST_REQUIRE_SERVICES=1 but no Docker engine: {why}")
        pytest.skip(f"no Docker engine for the container tests: {why}")
    client = docker.from_env()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def docker_settings(settings: Settings, docker_client: Any) -> Settings:
    """The docker backend with the reconciler and recorder on; pumps share the host network
    (no bridge on this engine) and reach the test Redis on loopback."""
    return fast_pump_settings(
        settings,
        pump_backend="docker",
        pump_image=PUMP_IMAGE,
        docker_network="host",
        pump_memory_bytes=PUMP_MEMORY_BYTES,
        pump_cpu=0.5,
        pump_pids=128,
        pump_open_files=1024,
        background_tasks=True,
        recorder_refresh_seconds=0.2,
        trigger_wait_timeout_seconds=120.0,  # ?wait=true on a busy machine
    )
