"""Security headers on every response (plain ASGI, so the webhook path pays next to nothing).

- `X-Content-Type-Options: nosniff`, `X-Frame-Options: DENY`, `Referrer-Policy: no-referrer`
  everywhere.
- `Content-Security-Policy`: the editor's policy on the editor's pages and files (its bundle,
  Monaco and Monaco's workers are all served from this origin, and a worker runs under the
  policy its own script was served with; Monaco adds `<style>` elements at run time, hence
  `'unsafe-inline'` for styles only — never for scripts); a policy that also allows FastAPI's
  CDN assets on `/docs` and `/redoc`; `default-src 'none'` on the API, health and metrics
  (JSON, SSE, text), which no browser should render. Every policy has `frame-ancestors
  'none'`. With Clerk sign-in the editor's policy also lets in what Clerk's browser bundle
  needs: its script and requests from the instance's Frontend API, Cloudflare's bot check
  (script and frame), user images from img.clerk.com."""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CLERK_CHALLENGES = "https://challenges.cloudflare.com"
CLERK_IMAGES = "https://img.clerk.com"


def editor_policy(clerk_frontend_api: str | None = None) -> str:
    """The editor's policy; with the host of a Clerk instance's Frontend API, Clerk's too."""
    clerk = f" https://{clerk_frontend_api}" if clerk_frontend_api else ""
    challenges = f" {CLERK_CHALLENGES}" if clerk_frontend_api else ""
    directives = [
        "default-src 'self'",
        f"script-src 'self'{clerk}{challenges}",
        "style-src 'self' 'unsafe-inline'",
        f"img-src 'self' data: blob:{f' {CLERK_IMAGES}' if clerk_frontend_api else ''}",
        "font-src 'self' data:",
        f"connect-src 'self'{clerk}",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
    if clerk_frontend_api:  # without it frames fall back to default-src 'self'
        directives.append(f"frame-src 'self'{challenges}")
    return "; ".join(directives)


EDITOR_POLICY = editor_policy()
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
MACHINE_PATHS = ("/api/", "/health", "/metrics", "/openapi.json")

COMMON = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
]


def policy_for(path: str, editor: str = EDITOR_POLICY) -> str:
    if path.startswith(DOCS_PATHS):
        return DOCS_POLICY
    if path.startswith(MACHINE_PATHS):
        return NOTHING_POLICY
    return editor


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, clerk_frontend_api: str | None = None) -> None:
        self.app = app
        self.editor_policy = editor_policy(clerk_frontend_api)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                present = {name.lower() for name, _ in headers}
                extra = [(name, value) for name, value in COMMON if name not in present]
                if b"content-security-policy" not in present:
                    policy = policy_for(path, self.editor_policy).encode("latin-1")
                    extra.append((b"content-security-policy", policy))
                message = {**message, "headers": headers + extra}
            await send(message)

        await self.app(scope, receive, send_with_headers)
