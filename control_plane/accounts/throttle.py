"""Failed log-ins are throttled per account and per client address, in Redis (shared by every
replica): each attempt counts before its password is checked, a success takes its attempt
back, and once an account or an address has used up its attempts within the window, further
attempts are answered 429 with Retry-After (the rest of the window) without any argon2 work.

Counters are fixed windows that start with the first attempt (`INCR`, then `EXPIRE ... NX`,
so an interrupted attempt can never leave a counter without its expiry). If Redis is away the
attempt goes through unthrottled (logged): log-in keeps working in an outage, and the bounded
hashing pool (`credentials.py`) still caps the work."""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from control_plane.errors import TooManyRequests

log = logging.getLogger(__name__)
KEY_PREFIX = "flowplane:auth:attempts"


@dataclass(frozen=True)
class LoginLimits:
    per_account: int
    per_address: int
    window_seconds: int


@dataclass(frozen=True)
class Attempt:
    """An attempt that counted; `succeeded()` takes it back from both counters."""

    throttle: LoginThrottle
    keys: tuple[str, ...]

    async def succeeded(self) -> None:
        try:
            for key in self.keys:
                await self.throttle.redis.decr(key)
        except RedisError:
            log.warning("login throttle: Redis unreachable, attempt not taken back")


class LoginThrottle:
    def __init__(self, redis: aioredis.Redis, limits: LoginLimits) -> None:
        self.redis = redis
        self.limits = limits

    async def attempt(self, email: str, address: str | None) -> Attempt:
        """Count one attempt for `email` (normalized) and the client `address`, or raise 429."""
        account = hashlib.sha256(email.encode("utf-8")).hexdigest()[:32]
        checks = [(f"{KEY_PREFIX}:account:{account}", self.limits.per_account, "account")]
        if address:
            checks.append((f"{KEY_PREFIX}:address:{address}", self.limits.per_address, "address"))
        counted: list[str] = []
        try:
            for key, limit, what in checks:
                count = int(await self.redis.incr(key))
                await self.redis.expire(key, self.limits.window_seconds, nx=True)
                counted.append(key)
                if count > limit:
                    retry_after = max(1, int(await self.redis.ttl(key)))
                    await Attempt(self, tuple(counted)).succeeded()  # refusals do not count
                    raise TooManyRequests(
                        f"too many failed log-ins for this {what}; try again in {retry_after} s",
                        retry_after=retry_after,
                    )
        except RedisError:
            log.warning("login throttle: Redis unreachable, attempt not throttled")
            return Attempt(self, ())
        return Attempt(self, tuple(counted))
