"""The app core: health, request ids, error rendering, and `flowplane up` on the embedded default."""

from __future__ import annotations

import gc
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest.mock import patch

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from control_plane.app import SERVING_GC_THRESHOLDS, create_app
from control_plane.settings import Settings, normalize_database_url


async def test_health_reports_database_redis_and_version(client: httpx.AsyncClient) -> None:
    response = await client.get("/health")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["redis"]["ok"] is True


async def test_request_id_is_echoed_or_generated(client: httpx.AsyncClient) -> None:
    given = await client.get("/health", headers={"X-Request-ID": "req-123"})
    assert given.headers["X-Request-ID"] == "req-123"
    generated = await client.get("/health")
    assert len(generated.headers["X-Request-ID"]) == 32


async def test_unknown_api_route_is_a_json_error(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/does-not-exist")
    assert response.status_code == 404
    assert response.json()["error"] == "NotFound"


async def test_malformed_request_names_the_field(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/auth/signup", json={"email": "a@example.com"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "InvalidRequest"
    assert any(problem["path"].endswith("password") for problem in body["problems"])


def test_database_urls_are_normalized_to_async_drivers() -> None:
    assert normalize_database_url("postgres://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("postgresql://u@h/db") == "postgresql+asyncpg://u@h/db"
    assert normalize_database_url("sqlite:///x.db") == "sqlite+aiosqlite:///x.db"
    embedded = Settings(data_dir=Path("/tmp/fp"), database_url="")
    assert embedded.resolved_database_url == "sqlite+aiosqlite:////tmp/fp/flowplane.db"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_flowplane_up_runs_on_the_embedded_default(tmp_path: Path) -> None:
    """Nothing configured: SQLite and an embedded Redis under the working directory's .flowplane."""
    port = _free_port()
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FLOWPLANE_") and key not in {"DATABASE_URL", "REDIS_URL"}
    }
    command = [sys.executable, "-m", "control_plane.cli", "up", "--port", str(port)]
    process = subprocess.Popen(
        command, cwd=tmp_path, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        body = _wait_for_health(port, process)
        assert body["checks"]["database"]["dialect"] == "sqlite"
        assert body["checks"]["redis"]["embedded"] is True
        signup = httpx.post(
            f"http://127.0.0.1:{port}/api/auth/signup",
            json={"email": "first@example.com", "password": "correct horse battery"},
        )
        assert signup.status_code == 201, signup.text
        assert (tmp_path / ".flowplane" / "flowplane.db").is_file()
        assert (tmp_path / ".flowplane" / "redis" / "appendonly.aof").exists() or any(
            (tmp_path / ".flowplane" / "redis").glob("appendonly*")
        )
    finally:
        process.terminate()
        output = process.communicate(timeout=20)[0].decode()
    # uvicorn shuts down gracefully, then re-raises the SIGTERM it caught
    assert process.returncode in (0, -15), output
    redis_processes = subprocess.run(
        ["pgrep", "-f", str(tmp_path / ".flowplane")], capture_output=True, text=True
    )
    assert redis_processes.stdout.strip() == "", "the embedded redis-server outlived the app"


def _wait_for_health(port: int, process: subprocess.Popen[bytes]) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(process.communicate()[0].decode())
        try:
            response = httpx.get(f"http://127.0.0.1:{port}/health", timeout=1)
            if response.status_code == 200:
                return dict(json.loads(response.text))
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError("flowplane up did not become healthy within 60 s")


async def test_opentelemetry_spans_only_when_asked(settings: Settings) -> None:
    """FLOWPLANE_OPENTELEMETRY turns FastAPI's native spans on; by default a request does not
    even look the providers up."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    with patch.object(trace, "get_tracer_provider", return_value=provider):
        for enabled in (False, True):
            app = create_app(settings.model_copy(update={"opentelemetry": enabled}))
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://testserver"
                ) as client,
            ):
                assert (await client.get("/health")).status_code == 200
            names = [span.name for span in exporter.get_finished_spans()]
            assert any("/health" in name for name in names) is enabled, names
            exporter.clear()


async def test_the_cyclic_collector_runs_less_often_while_serving(settings: Settings) -> None:
    before = gc.get_threshold()
    application = create_app(settings)
    async with application.router.lifespan_context(application):
        assert gc.get_threshold() == SERVING_GC_THRESHOLDS
        assert gc.get_freeze_count() > 0  # what startup built is out of the collector's way
    assert gc.get_threshold() == before


def test_the_app_does_not_import_what_only_optional_features_use(tmp_path: Path) -> None:
    """Stripe, Svix, PyJWT and wasmtime cost a server that uses neither billing, Clerk nor
    modules about 20 MB per process: they are imported on first use."""
    optional = ("stripe", "svix", "jwt", "wasmtime")
    script = (
        "import sys\n"
        "from control_plane.app import create_app\n"
        "create_app()\n"
        f"print(','.join(name for name in {optional!r} if name in sys.modules))\n"
    )
    environment = {**os.environ, "FLOWPLANE_DATA_DIR": str(tmp_path)}
    result = subprocess.run(
        [sys.executable, "-c", script], env=environment, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""
