"""Failed log-ins are throttled per account and per client address, in Redis (shared by every
replica): each attempt counts before its password is checked, a success takes its attempt
back, and once an account or an address has used up its attempts within the window, further
attempts are answered 429 with Retry-After (the rest of the window) without any argon2 work.

Sign-ups are counted per client address the same way, successful or not (a script creating
workspaces, or probing which emails have accounts through the 409, is what this stops).

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
                await _take_back(self.throttle.redis, key)
        except RedisError:
            log.warning("login throttle: Redis unreachable, attempt not taken back")


async def _count(redis: aioredis.Redis, key: str, limit: int, window_seconds: int) -> int | None:
    """Count one attempt on `key`: None while within `limit`, else the seconds left in the
    window (the refused attempt is taken back: refusals do not count)."""
    count = int(await redis.incr(key))
    await redis.expire(key, window_seconds, nx=True)
    if count <= limit:
        return None
    retry_after = max(1, int(await redis.ttl(key)))
    await _take_back(redis, key)
    return retry_after


async def _take_back(redis: aioredis.Redis, key: str) -> None:
    # a counter whose window ended meanwhile would come back as -1 without expiry
    if int(await redis.decr(key)) <= 0:
        await redis.delete(key)


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
                retry_after = await _count(self.redis, key, limit, self.limits.window_seconds)
                if retry_after is not None:
                    await Attempt(self, tuple(counted)).succeeded()  # refusals do not count
                    raise TooManyRequests(
                        f"too many failed log-ins for this {what}; try again in {retry_after} s",
                        retry_after=retry_after,
                    )
                counted.append(key)
        except RedisError:
            log.warning("login throttle: Redis unreachable, attempt not throttled")
            return Attempt(self, ())
        return Attempt(self, tuple(counted))


class SignupThrottle:
    def __init__(self, redis: aioredis.Redis, per_address: int, window_seconds: int) -> None:
        self.redis = redis
        self.per_address = per_address
        self.window_seconds = window_seconds

    async def attempt(self, address: str | None) -> None:
        """Count one sign-up from the client `address`, or raise 429."""
        if not address:
            return
        key = f"{KEY_PREFIX}:signup:{address}"
        try:
            retry_after = await _count(self.redis, key, self.per_address, self.window_seconds)
        except RedisError:
            log.warning("sign-up throttle: Redis unreachable, attempt not throttled")
            return
        if retry_after is not None:
            raise TooManyRequests(
                f"too many sign-ups from this address; try again in {retry_after} s",
                retry_after=retry_after,
            )
