"""The OpenAPI document as the API really answers: every error is `ErrorBody`.

FastAPI documents request-validation errors as `HTTPValidationError` (`detail` an array); our
one error handler (errors.py) answers `{"error": Name, "detail": "...", "problems": [...]}`
for those and for every domain error. This replaces that schema, gives every documented error
response the `ErrorBody` content, and documents the errors any API operation can answer (a body
past the JSON limits, an oversized body, a missing or revoked token)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.openapi.utils import get_openapi
from fastapi.responses import HTMLResponse

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
ERROR_SCHEMAS: dict[str, Any] = {
    "ErrorBody": {
        "title": "ErrorBody",
        "type": "object",
        "required": ["error", "detail"],
        "properties": {
            "error": {"type": "string", "description": "The error's name, e.g. NotFound"},
            "detail": {"type": "string", "description": "What went wrong, for a person"},
            "problems": {
                "type": "array",
                "items": {"$ref": "#/components/schemas/Problem"},
                "description": "Each problem with the field, YAML path or header it concerns",
            },
        },
        "additionalProperties": True,
    },
    "Problem": {
        "title": "Problem",
        "type": "object",
        "required": ["path", "message"],
        "properties": {
            "path": {"type": "string"},
            "message": {"type": "string"},
            "line": {"type": ["integer", "null"]},
            "column": {"type": ["integer", "null"]},
            "node_id": {"type": ["string", "null"]},
        },
        "additionalProperties": True,
    },
}
COMMON_ERRORS: dict[str, str] = {
    "400": "BadRequest: the body is past the JSON limits (depth 64, 64-bit integers, finite "
    "numbers, valid UTF-8, no NUL) or the URL holds a NUL",
    "413": "PayloadTooLarge: the body is over the size cap",
    "422": "InvalidRequest or InvalidInput: each problem with its path",
    "429": "TooManyRequests: retry after the `Retry-After` header's seconds",
    "503": "ServiceUnavailable: the database or Redis is away (restarting, loading) or the app "
    "is saturated; nothing was done, retry after the `Retry-After` header's seconds",
}
AUTH_ERROR = "Unauthorized: no bearer token, or an invalid, expired or revoked one"
NOT_FOUND = "NotFound: no such object in this workspace (another workspace's is the same)"
BODY_METHODS = ("post", "put", "patch", "delete")


def install_openapi(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            document = get_openapi(
                title=app.title, version=app.version, routes=app.routes, description=app.description
            )
            app.openapi_schema = with_error_bodies(document)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def install_docs(app: FastAPI) -> None:
    """`/docs`: Swagger UI from the editor's build (frontend/dist/swagger/, copied from
    swagger-ui-dist by vite), so the API docs work offline. Install before the SPA fallback."""

    @app.get("/docs", include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title=f"{app.title} API",
            swagger_js_url="/swagger/swagger-ui-bundle.js",
            swagger_css_url="/swagger/swagger-ui.css",
            swagger_favicon_url="/swagger/favicon-32x32.png",
        )


def with_error_bodies(document: dict[str, Any]) -> dict[str, Any]:
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    schemas.pop("HTTPValidationError", None)
    schemas.pop("ValidationError", None)
    schemas.update(ERROR_SCHEMAS)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            responses: dict[str, Any] = operation["responses"]
            if path.startswith("/api/"):
                for code, description in COMMON_ERRORS.items():
                    if code == "413" and method not in BODY_METHODS:
                        continue
                    responses.setdefault(code, {"description": description})
                if operation.get("security"):
                    responses.setdefault("401", {"description": AUTH_ERROR})
                if "{" in path:
                    responses.setdefault("404", {"description": NOT_FOUND})
            for code, response in responses.items():
                if code.isdigit() and int(code) >= 400:
                    response["content"] = {"application/json": {"schema": ERROR_REF}}
    return document
