"""One error hierarchy, rendered by one handler as `{"error": Name, "detail": ...}`."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse


class ControlPlaneError(Exception):
    status: int = 400
    retry_after: int | None = None  # seconds, sent as the Retry-After header

    def __init__(
        self,
        detail: str,
        *,
        status: int | None = None,
        retry_after: int | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail)
        self.detail = detail
        if status is not None:
            self.status = status
        if retry_after is not None:
            self.retry_after = retry_after
        self.extra = extra

    @property
    def name(self) -> str:
        return type(self).__name__

    def body(self) -> dict[str, Any]:
        return {"error": self.name, "detail": self.detail, **self.extra}


class BadRequest(ControlPlaneError):
    status = 400


class Unauthorized(ControlPlaneError):
    status = 401


class QuotaExceeded(ControlPlaneError):
    """A plan limit is reached: `quota` names it, `limit` is its value on the workspace's plan,
    `used` what the workspace has (raise it through `billing.tiers.check_quota`)."""

    status = 402

    def __init__(
        self,
        detail: str,
        *,
        limit: int | str,
        quota: str | None = None,
        used: int | None = None,
        upgrade_url: str = "/settings/billing",
    ) -> None:
        extra: dict[str, Any] = {"limit": limit, "upgrade_url": upgrade_url}
        if quota is not None:
            extra["quota"] = quota
        if used is not None:
            extra["used"] = used
        super().__init__(detail, **extra)


class Forbidden(ControlPlaneError):
    status = 403


class NotFound(ControlPlaneError):
    status = 404


class Conflict(ControlPlaneError):
    status = 409


class TooManyRequests(ControlPlaneError):
    """Backpressure: this flow has as much work waiting as it may; try again shortly."""

    status = 429
    retry_after = 1


class PayloadTooLarge(ControlPlaneError):
    status = 413


class UnsupportedMediaType(ControlPlaneError):
    status = 415


class InvalidInput(ControlPlaneError):
    """A well-formed request whose content is refused; `problems` name each field or YAML path."""

    status = 422

    def __init__(self, detail: str, problems: list[dict[str, Any]] | None = None) -> None:
        super().__init__(detail, problems=problems or [])


class InvalidOrganism(InvalidInput):
    pass


class ServiceUnavailable(ControlPlaneError):
    """A part the request needs (database, Redis) is away, or the app is saturated: nothing
    was done, and the same request may be sent again after Retry-After."""

    status = 503
    retry_after = 1


def render(error: ControlPlaneError) -> JSONResponse:
    headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    async def render_domain_error(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ControlPlaneError)
        return render(error)

    async def render_malformed_request(_: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [
            {"path": ".".join(str(part) for part in item["loc"]), "message": item["msg"]}
            for item in error.errors()
        ]
        summary = "; ".join(f"{p['path']}: {p['message']}" for p in problems)
        return JSONResponse(
            {"error": "InvalidRequest", "detail": summary, "problems": problems}, status_code=422
        )

    app.add_exception_handler(ControlPlaneError, render_domain_error)
    app.add_exception_handler(RequestValidationError, render_malformed_request)
