"""Secrets at rest: argon2 password hashes and opaque bearer tokens kept only as SHA-256."""

from __future__ import annotations

import asyncio
import hashlib
import secrets
from dataclasses import dataclass
from functools import lru_cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from control_plane.accounts.models import TokenKind

TOKEN_PREFIXES: dict[TokenKind, str] = {"session": "fps_", "api_key": "fpk_"}
DISPLAY_PREFIX_LENGTH = 12  # "fpk_" and 8 random characters: enough to tell keys apart

_password_hasher = PasswordHasher()


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
    # argon2 is deliberately slow (~0.1 s of CPU): keep it off the event loop.
    return await asyncio.to_thread(_password_hasher.hash, password)


async def verify_password(password_hash: str | None, password: str) -> bool:
    """Whether `password` matches. Without a hash (unknown email, or a user without a local
    password) a dummy hash is checked anyway so the answer takes the same time."""
    return await asyncio.to_thread(_verify, password_hash, password)


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
