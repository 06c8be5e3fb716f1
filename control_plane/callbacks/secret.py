"""The flow's callback signing secret, stored sealed with the secrets key like flow secrets and
webhook tokens: a copy of the database alone cannot sign a callback. Made on first use; a
value stored in clear by an earlier version is sealed at start-up (and on its first read)."""

from __future__ import annotations

import secrets

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from control_plane.flows.models import Flow
from control_plane.pumps.secrets import SecretBox

SEALED_PREFIX = "gAAAAA"  # every Fernet token (version byte 0x80, then a 64-bit timestamp)


def new_sealed_secret(box: SecretBox) -> str:
    return box.seal(secrets.token_hex(32))


async def signing_secret(engine: AsyncEngine, box: SecretBox, flow_id: str) -> str:
    async with engine.begin() as connection:
        stored = await connection.scalar(select(Flow.signing_secret).where(Flow.id == flow_id))
        if stored and stored.startswith(SEALED_PREFIX):
            return box.open(stored)
        sealed = box.seal(stored) if stored else new_sealed_secret(box)
        # conditional: a concurrent first use (or rotation) keeps its own value
        await connection.execute(
            update(Flow).where(Flow.id == flow_id, _stored_is(stored)).values(signing_secret=sealed)
        )
        current = await connection.scalar(select(Flow.signing_secret).where(Flow.id == flow_id))
    if current and not current.startswith(SEALED_PREFIX):
        return current  # written in clear meanwhile by a replica of an earlier version
    return box.open(current or sealed)


async def seal_clear_secrets(engine: AsyncEngine, box: SecretBox) -> int:
    """Seal every secret stored in clear; returns how many there were."""
    async with engine.begin() as connection:
        rows = await connection.execute(
            select(Flow.id, Flow.signing_secret).where(
                Flow.signing_secret.is_not(None), Flow.signing_secret.not_like(f"{SEALED_PREFIX}%")
            )
        )
        clear = [(flow_id, value) for flow_id, value in rows if value is not None]
        for flow_id, value in clear:
            await connection.execute(
                update(Flow)
                .where(Flow.id == flow_id, Flow.signing_secret == value)
                .values(signing_secret=box.seal(value))
            )
    return len(clear)


def _stored_is(stored: str | None) -> ColumnElement[bool]:
    return Flow.signing_secret.is_(None) if stored is None else Flow.signing_secret == stored
