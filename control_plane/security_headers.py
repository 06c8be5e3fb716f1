"""Security headers on every response (plain ASGI, so the webhook path pays next to nothing).

- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`
  everywhere.
- `Content-Security-Policy`: the editor's policy on HTML pages (its bundle, Monaco and Monaco's
  workers are all served from this origin; Monaco adds `<style>` elements at run time, hence
  `'unsafe-inline'` for styles only — never for scripts); a policy that also allows FastAPI's
  CDN assets on `/docs` and `/redoc`; `default-src 'none'` on everything else (JSON, SSE,
  metrics), which no browser should render. Every policy has `frame-ancestors 'none'`."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

EDITOR_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)
# FastAPI's Swagger UI and ReDoc pages load their assets from jsDelivr and start with an inline
# script.
DOCS_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net",
        "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com",
        "font-src 'self' https://fonts.gstatic.com",
        "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly",
        "worker-src 'self' blob:",
        "connect-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "frame-ancestors 'none'",
    ]
)
NOTHING_POLICY = "default-src 'none'; frame-ancestors 'none'"
DOCS_PATHS = ("/docs", "/redoc")

COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def policy_for(path: str, content_type: str) -> str:
    if path.startswith(DOCS_PATHS):
        return DOCS_POLICY
    if content_type.startswith("text/html"):
        return EDITOR_POLICY
    return NOTHING_POLICY


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                content_type = next(
                    (
                        value.decode("latin-1")
                        for name, value in headers
                        if name.lower() == b"content-type"
                    ),
                    "",
                )
                extra = [(name, value) for name, value in COMMON if name not in present]
                if b"content-security-policy" not in present:
                    policy = policy_for(path, content_type).encode("latin-1")
                    extra.append((b"content-security-policy", policy))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
