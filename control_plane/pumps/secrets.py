"""Flow secrets: `${secrets.NAME}` values the pump substitutes at run time.

Stored encrypted (Fernet: AES-128-CBC + HMAC-SHA256) with the key from FLOWPLANE_SECRETS_KEY,
or, on the embedded default, a key generated once into `<data_dir>/secrets.key` (mode 0600,
outside every pump sandbox). Values are written by `PUT /api/flows/{id}/secrets`, handed to the
pump in its environment at start, and never returned by the API."""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from control_plane.db import utcnow
from control_plane.errors import InvalidInput
from control_plane.flows.models import Flow
from control_plane.pumps.models import FlowSecret
from control_plane.settings import Settings

SECRET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SECRET_BYTES = 64 * 1024
MAX_SECRETS_PER_FLOW = 100
KEY_READ_ATTEMPTS = 250


class SecretBox:
    def __init__(self, key: bytes | str) -> None:
        self._fernet = Fernet(key)
        self._key = key.encode("ascii") if isinstance(key, str) else key

    def derive_key(self, purpose: str) -> bytes:
        """A key for another use (e.g. signing pump module tokens) that reveals nothing of
        this one: HMAC-SHA256 of the purpose under the secrets key."""
        return hmac.new(self._key, purpose.encode("utf-8"), hashlib.sha256).digest()

    @classmethod
    def from_settings(cls, settings: Settings) -> SecretBox:
        if settings.secrets_key:
            return cls(settings.secrets_key)
        return cls(_local_key(settings.data_dir / "secrets.key"))

    def seal(self, value: str) -> str:
        return self._fernet.encrypt(value.encode("utf-8")).decode("ascii")

    def open(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            raise RuntimeError(
                "a flow secret cannot be decrypted: FLOWPLANE_SECRETS_KEY differs from the key "
                "it was stored with"
            ) from error


async def update_secrets(
    session: AsyncSession, box: SecretBox, flow: Flow, changes: dict[str, str | None]
) -> list[str]:
    """Merge `changes` into the flow's secrets (a null value deletes); returns all names."""
    problems = [
        {"path": f"secrets.{name}", "message": message}
        for name, value in changes.items()
        if (message := _problem(name, value)) is not None
    ]
    if problems:
        raise InvalidInput("; ".join(f"{p['path']}: {p['message']}" for p in problems), problems)
    existing = {
        secret.name: secret
        for secret in await session.scalars(select(FlowSecret).where(FlowSecret.flow_id == flow.id))
    }
    removed = [name for name, value in changes.items() if value is None and name in existing]
    if removed:
        await session.execute(
            delete(FlowSecret).where(FlowSecret.flow_id == flow.id, FlowSecret.name.in_(removed))
        )
    now = utcnow()
    for name, value in changes.items():
        if value is None:
            continue
        if name in existing:
            existing[name].value_encrypted = box.seal(value)
            existing[name].updated_at = now
        else:
            session.add(FlowSecret(flow_id=flow.id, name=name, value_encrypted=box.seal(value)))
    names = sorted(
        (set(existing) - set(removed)) | {n for n, v in changes.items() if v is not None}
    )
    if len(names) > MAX_SECRETS_PER_FLOW:
        raise InvalidInput(
            f"a flow can hold at most {MAX_SECRETS_PER_FLOW} secrets; this change would leave {len(names)}"
        )
    await session.flush()
    return names


async def secret_names(session: AsyncSession, flow: Flow) -> list[str]:
    rows = await session.scalars(
        select(FlowSecret.name).where(FlowSecret.flow_id == flow.id).order_by(FlowSecret.name)
    )
    return list(rows)


async def secret_values(session: AsyncSession, box: SecretBox, flow: Flow) -> dict[str, str]:
    rows = await session.scalars(select(FlowSecret).where(FlowSecret.flow_id == flow.id))
    return {secret.name: box.open(secret.value_encrypted) for secret in rows}


def _problem(name: str, value: str | None) -> str | None:
    if not SECRET_NAME.match(name):
        return (
            "a secret name starts with a letter or underscore and has only letters, digits and "
            "underscores (at most 128), as in ${secrets.API_KEY}"
        )
    if value is not None and len(value.encode("utf-8")) > MAX_SECRET_BYTES:
        return f"a secret value is at most {MAX_SECRET_BYTES // 1024} KiB"
    return None


def _local_key(path: Path) -> bytes:
    """The key in `path`, created once, atomically: it is written whole to a temporary file
    and linked into place (which fails if another process got there first; then theirs is
    used), so no process can ever read a partly written key, whatever runs at once."""
    for _ in range(KEY_READ_ATTEMPTS):
        try:
            key = path.read_bytes().strip()
        except FileNotFoundError:
            return _create_key(path)
        if key:
            return key
        time.sleep(0.02)  # an empty file: a writer of an older version is still at it
    raise RuntimeError(f"{path} is empty: delete it or set FLOWPLANE_SECRETS_KEY")


def _create_key(path: Path) -> bytes:
    path.parent.mkdir(parents=True, exist_ok=True)
    key = Fernet.generate_key()
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secrets.key.")
    try:
        with os.fdopen(descriptor, "wb") as handle:  # mkstemp: mode 0600
            handle.write(key)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:  # another process created it first: use theirs
            return path.read_bytes().strip()
        return key
    finally:
        os.unlink(temporary)
