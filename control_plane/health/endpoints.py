"""`GET /health`: database and Redis checks plus the version; 503 (with Retry-After) when a
check fails, including while the embedded Redis restarts or loads its dataset."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text

from control_plane import __version__

router = APIRouter(tags=["health"])

# Extra checks other domains register (e.g. the pump backend's sandbox warning).
HEALTH_CHECKS: list[Any] = []


@router.get("/health")
async def health(request: Request) -> JSONResponse:
    checks: dict[str, Any] = {
        "database": await _check_database(request),
        "redis": await _check_redis(request),
    }
    for extra_check in HEALTH_CHECKS:
        name, result = await extra_check(request)
        checks[name] = result
    healthy = all(check.get("ok", True) for check in checks.values())
    body = {"status": "ok" if healthy else "unavailable", "version": __version__, "checks": checks}
    headers = None if healthy else {"Retry-After": "1"}
    return JSONResponse(body, status_code=200 if healthy else 503, headers=headers)


async def _check_database(request: Request) -> dict[str, Any]:
    try:
        async with request.app.state.engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
        return {"ok": True, "dialect": request.app.state.engine.dialect.name}
    except Exception as error:
        return {"ok": False, "error": str(error)}


async def _check_redis(request: Request) -> dict[str, Any]:
    """Ok when Redis answers and has loaded its dataset; reports the server and its version
    (and, embedded, the supervisor's state and restarts)."""
    connections = request.app.state.redis
    body: dict[str, Any] = connections.health()
    try:
        await connections.client.ping()
    except Exception as error:
        return {**body, "ok": False, "error": str(error)}
    if not connections.ready:
        return {**body, "ok": False, "error": "Redis is starting or loading its dataset"}
    return {**body, "ok": True}
