"""A local stand-in of Clerk's side: RSA signing keys generated here, their JWKS served over
real HTTP (aiohttp) at /.well-known/jwks.json, session JWTs minted like Clerk's, and user
events signed with Svix's scheme (the `svix` library)."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jwt
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa
from svix.webhooks import Webhook

WEBHOOK_SECRET = "whsec_" + "c3RhbmRpbi1jbGVyay1zZWNyZXQtMDEyMzQ1Njc4OQ=="


def new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@dataclass
class ClerkStandIn:
    key: rsa.RSAPrivateKey = field(default_factory=new_key)
    kid: str = "standin-key-1"
    url: str = ""
    jwks_requests: int = 0
    _runner: web.AppRunner | None = None

    @property
    def issuer(self) -> str:
        return self.url

    async def start(self) -> str:
        app = web.Application()
        app.router.add_get("/.well-known/jwks.json", self._jwks)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.url = f"http://127.0.0.1:{port}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _jwks(self, request: web.Request) -> web.Response:
        self.jwks_requests += 1
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        public.update(kid=self.kid, use="sig", alg="RS256")
        return web.json_response({"keys": [public]})

    def token(
        self,
        sub: str,
        *,
        key: rsa.RSAPrivateKey | None = None,
        kid: str | None = None,
        issuer: str | None = None,
        lifetime: int = 60,
        **claims: Any,
    ) -> str:
        now = int(time.time())
        body = {
            "sub": sub,
            "iss": issuer or self.issuer,
            "iat": now - 1,
            "nbf": now - 1,
            "exp": now + lifetime,
            "sid": f"sess_{uuid.uuid4().hex[:12]}",
            **claims,
        }
        return jwt.encode(
            body, key or self.key, algorithm="RS256", headers={"kid": kid or self.kid}
        )

    @staticmethod
    def unsigned_token(sub: str, issuer: str) -> str:
        now = int(time.time())
        body = {"sub": sub, "iss": issuer, "iat": now, "exp": now + 60}
        return jwt.encode(body, key=None, algorithm="none")  # type: ignore[arg-type]

    @staticmethod
    def user_event(
        kind: str, user_id: str, email: str | None = None, *, at: datetime | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """A Svix-signed Clerk webhook (payload, headers)."""
        data: dict[str, Any] = {"id": user_id, "object": "user"}
        if email is not None:
            data["email_addresses"] = [{"id": "idn_1", "email_address": email}]
            data["primary_email_address_id"] = "idn_1"
        payload = json.dumps({"type": kind, "object": "event", "data": data})
        message_id = f"msg_{uuid.uuid4().hex}"
        moment = at or datetime.now(UTC)
        signature = Webhook(WEBHOOK_SECRET).sign(message_id, moment, payload)
        headers = {
            "svix-id": message_id,
            "svix-timestamp": str(int(moment.timestamp())),
            "svix-signature": signature,
            "content-type": "application/json",
        }
        return payload.encode(), headers
