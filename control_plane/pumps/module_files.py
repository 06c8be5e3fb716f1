"""How a pump gets its flow's WASM modules, and nothing else (DESIGN.md §5, §10).

Local (default, process and docker backends): before each start the modules the flow's organism
resolved to are copied (hard-linked where possible) from the blob store into a fresh directory
`<data_dir>/pump-modules/<flow>-<nonce>/<sha256>.wasm`, which is all the pump gets to see; the
pump verifies each hash before it compiles. The directory is removed when the next start of the
flow has replaced it, or when the pump stops.

Remote (`pump_module_source` = this control plane's URL as pumps reach it; kubernetes): the pump
gets `<url>/api/pump-modules/<token>`, where the token is signed by the control plane and names
the flow and exactly the hashes it may download."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import shutil
from pathlib import Path

from control_plane.blobs import BlobCorrupted, BlobNotFound, BlobStore, is_sha256
from control_plane.errors import ServiceUnavailable
from control_plane.pumps.backends.base import PumpRef, module_files_root
from control_plane.settings import Settings

TOKEN_PURPOSE = "flowplane pump module downloads v1"


class ModuleFiles:
    def __init__(self, settings: Settings, blobs: BlobStore, signing_key: bytes) -> None:
        self.blobs = blobs
        self.root = module_files_root(settings)
        source = settings.pump_module_source.strip()
        self.base_url = source.rstrip("/") if source.startswith(("http://", "https://")) else ""
        if source and not self.base_url:
            raise ValueError(
                "FLOWPLANE_PUMP_MODULE_SOURCE must be empty (modules are staged per flow) or the "
                f"http(s) URL of this control plane as pumps reach it, not {source!r}"
            )
        self._key = signing_key

    async def stage(self, ref: PumpRef, hashes: dict[str, str]) -> Path | None:
        """A fresh directory holding exactly the flow's modules (None: nothing to stage)."""
        if not hashes or self.base_url:
            return None
        self.root.mkdir(parents=True, exist_ok=True, mode=0o755)
        directory = self.root / f"{ref.flow_id}-{secrets.token_hex(4)}"
        directory.mkdir(mode=0o755)
        try:
            by_hash = {sha256: reference for reference, sha256 in sorted(hashes.items())}
            for sha256, reference in by_hash.items():
                await self._copy(reference, sha256, directory / f"{sha256}.wasm")
        except BaseException:
            self.discard(ref, only=directory)
            raise
        return directory

    async def _copy(self, reference: str, sha256: str, target: Path) -> None:
        try:
            await self.blobs.copy_to(sha256, target)
        except BlobNotFound as error:
            raise ServiceUnavailable(
                f"module {reference} cannot be given to the pump: its code ({sha256}) is missing "
                "from the blob store"
            ) from error
        except BlobCorrupted as error:
            raise ServiceUnavailable(
                f"module {reference} cannot be given to the pump: its code in the blob store was "
                f"altered ({error})"
            ) from error

    def source(self, ref: PumpRef, hashes: dict[str, str], directory: Path | None) -> str | None:
        """FLOWPLANE_MODULE_SOURCE for this start."""
        if self.base_url and hashes:
            return f"{self.base_url}/api/pump-modules/{self.token(ref, set(hashes.values()))}"
        return str(directory) if directory is not None else None

    def discard(self, ref: PumpRef, *, keep: Path | None = None, only: Path | None = None) -> None:
        """Remove the flow's staged directories (all but `keep`, or just `only`)."""
        if only is not None:
            shutil.rmtree(only, ignore_errors=True)
            return
        if not self.root.is_dir():
            return
        for directory in self.root.glob(f"{ref.flow_id}-*"):
            if directory != keep:
                shutil.rmtree(directory, ignore_errors=True)

    async def adiscard(self, ref: PumpRef, *, keep: Path | None = None) -> None:
        await asyncio.to_thread(self.discard, ref, keep=keep)

    # --- download tokens (remote source) -------------------------------------------------------

    def token(self, ref: PumpRef, hashes: set[str]) -> str:
        claims = json.dumps([ref.tenant_id, ref.flow_id, sorted(hashes)], separators=(",", ":"))
        body = _b64(claims.encode())
        return f"{body}.{_b64(self._mac(body))}"

    def verify(self, token: str) -> tuple[PumpRef, set[str]] | None:
        """The flow and hashes a token allows, or None when it is not one of ours."""
        body, _, mac = token.partition(".")
        try:
            expected = _b64(self._mac(body))
            if not hmac.compare_digest(mac, expected):
                return None
            tenant_id, flow_id, hashes = json.loads(_unb64(body))
        except (ValueError, TypeError):
            return None
        allowed = {item for item in hashes if isinstance(item, str) and is_sha256(item)}
        return PumpRef(str(tenant_id), str(flow_id)), allowed

    def _mac(self, body: str) -> bytes:
        return hmac.new(self._key, body.encode("ascii"), hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
