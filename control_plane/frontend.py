"""Serves the built editor (frontend/dist) at `/` with a single-page-app fallback."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

FRONTEND_DIST = Path(__file__).resolve().parent.parent / "frontend" / "dist"
NOT_SPA_PREFIXES = ("api/", "health", "metrics", "docs", "openapi.json", "redoc")


def mount_frontend(app: FastAPI, dist: Path = FRONTEND_DIST) -> None:
    assets = dist / "assets"
    if assets.is_dir():
        app.mount("/assets", StaticFiles(directory=assets), name="assets")

    @app.get("/{path:path}", include_in_schema=False)
    def single_page_app(path: str, request: Request) -> Response:
        if path.startswith(NOT_SPA_PREFIXES):
            return JSONResponse(
                {"error": "NotFound", "detail": f"no route {request.url.path}"}, status_code=404
            )
        requested = (dist / path).resolve()
        if path and requested.is_file() and dist.resolve() in requested.parents:
            return FileResponse(requested)
        index = dist / "index.html"
        if not index.is_file():
            return JSONResponse(
                {
                    "error": "FrontendNotBuilt",
                    "detail": "frontend/dist is missing: run `make up` (it builds the editor)",
                },
                status_code=404,
            )
        return FileResponse(index)
