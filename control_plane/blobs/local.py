"""Blobs in a local directory: `<root>/sha256/<first two hex digits>/<sha256>`, written once
through a temporary file and a rename, read-only (0444) afterwards."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
from contextlib import suppress
from pathlib import Path
from typing import Any

from control_plane.blobs.store import BlobNotFound, is_sha256, sha256_hex, verified


class LocalBlobStore:
    kind = "local"

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def path(self, sha256: str) -> Path:
        if not is_sha256(sha256):
            raise BlobNotFound(f"{sha256!r} is not a sha256")
        return self.root / "sha256" / sha256[:2] / sha256

    async def put(self, data: bytes) -> str:
        sha256 = sha256_hex(data)
        await asyncio.to_thread(self._write, sha256, data)
        return sha256

    def _write(self, sha256: str, data: bytes) -> None:
        target = self.path(sha256)
        if target.exists() and target.stat().st_size == len(data):
            return
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        temporary = target.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
        temporary.write_bytes(data)
        temporary.chmod(0o444)
        temporary.replace(target)

    async def get(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            data = await asyncio.to_thread(path.read_bytes)
        except FileNotFoundError:
            raise BlobNotFound(f"blob {sha256} is not stored") from None
        return verified(sha256, data)

    async def exists(self, sha256: str) -> bool:
        return await asyncio.to_thread(self.path(sha256).exists)

    async def delete(self, sha256: str) -> None:
        with suppress(FileNotFoundError):
            await asyncio.to_thread(self.path(sha256).unlink)

    async def copy_to(self, sha256: str, path: Path) -> None:
        await asyncio.to_thread(self._copy, sha256, path)

    def _copy(self, sha256: str, path: Path) -> None:
        source = self.path(sha256)
        if not source.exists():
            raise BlobNotFound(f"blob {sha256} is not stored")
        verified(sha256, source.read_bytes())
        try:
            os.link(source, path)  # same inode, read-only: nothing to copy
        except OSError:
            shutil.copyfile(source, path)
            path.chmod(0o444)

    def describe(self) -> dict[str, Any]:
        return {"kind": self.kind, "directory": str(self.root)}
