"""Secrets at rest: argon2 password hashes and opaque bearer tokens kept only as SHA-256.

argon2 is deliberately slow (~0.1 s of CPU per hash): it runs on a small thread pool of its
own (`PASSWORD_HASH_WORKERS`), never on the event loop nor on the default executor other work
shares, and at most `PASSWORD_HASH_QUEUE` hashes wait for it; past that a log-in or sign-up is
answered 503 with Retry-After at once instead of queueing behind a flood."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from typing import TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from control_plane.accounts.models import TokenKind
from control_plane.errors import ServiceUnavailable

TOKEN_PREFIXES: dict[TokenKind, str] = {"session": "fps_", "api_key": "fpk_"}
DISPLAY_PREFIX_LENGTH = 12  # "fpk_" and 8 random characters: enough to tell keys apart

_password_hasher = PasswordHasher()
PASSWORD_HASH_WORKERS = 2  # threads hashing at once per process (argon2 releases the GIL)
PASSWORD_HASH_QUEUE = 64  # hashes waiting or running at most, beyond which: 503
_hash_pool = ThreadPoolExecutor(PASSWORD_HASH_WORKERS, thread_name_prefix="argon2")
_pending = 0
T = TypeVar("T")


async def _on_hash_pool(work: Callable[..., T], *args: object) -> T:
    global _pending
    if _pending >= PASSWORD_HASH_QUEUE:
        raise ServiceUnavailable(
            "too many log-ins and sign-ups are being checked at once; try again shortly"
        )
    _pending += 1
    try:
        return await asyncio.get_running_loop().run_in_executor(_hash_pool, work, *args)
    finally:
        _pending -= 1


@dataclass(frozen=True)
class IssuedToken:
    token: str  # handed to the client once, never stored
    token_hash: str
    prefix: str


def issue_token(kind: TokenKind) -> IssuedToken:
    token = TOKEN_PREFIXES[kind] + secrets.token_urlsafe(32)
    return IssuedToken(
        token=token, token_hash=hash_token(token), prefix=token[:DISPLAY_PREFIX_LENGTH]
    )


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


async def hash_password(password: str) -> str:
    return await _on_hash_pool(_password_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches. Without a hash (unknown email, or a user without a local
    password) a dummy hash is checked anyway so the answer takes the same time."""
    return await _on_hash_pool(_verify, password_hash, password)


def _verify(password_hash: str | None, password: str) -> bool:
    try:
        _password_hasher.verify(password_hash or _dummy_hash(), password)
    except (VerificationError, InvalidHashError):
        return False
    return password_hash is not None


def password_needs_rehash(password_hash: str) -> bool:
    return _password_hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _password_hasher.hash(secrets.token_urlsafe(16))
