"""The platform's Ed25519 key that signs every published version (one platform key, not one
per workspace: the pump and installers trust one key, and a workspace cannot sign for itself).

`FLOWPLANE_MARKETPLACE_SIGNING_KEY` (base64 of the raw 32-byte private key) or, when empty, a
key generated once into `<data_dir>/marketplace-signing.key` (mode 0600, never in any pump's
sandbox). Every replica must use the same key. Tools are signed over
`pump.keys.tool_signature_message` (listing, version, module hash, capability manifest); flow
templates over their content hash and what they require."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from control_plane.settings import Settings
from pump.keys import tool_signature_message

KEY_FILE = "marketplace-signing.key"
FLOW_SIGNATURE_DOMAIN = "flowplane marketplace flow template v1"


@dataclass(frozen=True)
class Signer:
    private: Ed25519PrivateKey

    @classmethod
    def from_settings(cls, settings: Settings) -> Signer:
        text = settings.marketplace_signing_key.strip()
        raw = _decode(text) if text else _local_key(settings.data_dir / KEY_FILE)
        return cls(Ed25519PrivateKey.from_private_bytes(raw))

    @property
    def public_bytes(self) -> bytes:
        return self.private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)

    @property
    def public_key(self) -> str:
        """base64 of the raw public key (FLOWPLANE_MARKETPLACE_PUBLIC_KEY of every pump)."""
        return base64.b64encode(self.public_bytes).decode("ascii")

    @property
    def key_id(self) -> str:
        return hashlib.sha256(self.public_bytes).hexdigest()[:16]

    def sign(self, message: bytes) -> str:
        return base64.b64encode(self.private.sign(message)).decode("ascii")

    def verify(self, message: bytes, signature: str) -> bool:
        public: Ed25519PublicKey = self.private.public_key()
        try:
            public.verify(base64.b64decode(signature), message)
        except (InvalidSignature, ValueError, binascii.Error):
            return False
        return True


def tool_message(slug: str, version: str, sha256: str, capabilities: dict[str, Any]) -> bytes:
    return tool_signature_message(slug, version, sha256, capabilities)


def flow_message(
    slug: str, version: str, sha256: str, secrets: list[str], tools: list[str]
) -> bytes:
    document = {
        "domain": FLOW_SIGNATURE_DOMAIN,
        "listing": slug,
        "version": version,
        "sha256": sha256,
        "required_secrets": secrets,
        "required_tools": tools,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")


def template_sha256(organism_yaml: str, canvas_state: dict[str, Any]) -> str:
    canvas = json.dumps(canvas_state, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(f"{organism_yaml}\n{canvas}".encode()).hexdigest()


def _decode(text: str) -> bytes:
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as error:
        raise ValueError(f"FLOWPLANE_MARKETPLACE_SIGNING_KEY is not base64: {error}") from error
    if len(raw) != 32:
        raise ValueError(
            "FLOWPLANE_MARKETPLACE_SIGNING_KEY must be base64 of a raw 32-byte Ed25519 key"
        )
    return raw


def _local_key(path: Path) -> bytes:
    """The key in `path`, created once atomically (written whole, then linked into place; a
    process that loses the race uses the winner's)."""
    try:
        return _decode(path.read_text().strip())
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    raw = os.urandom(32)
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{KEY_FILE}.")
    try:
        with os.fdopen(descriptor, "w") as handle:  # mkstemp: mode 0600
            handle.write(base64.b64encode(raw).decode("ascii"))
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(temporary, path)
        except FileExistsError:
            return _decode(path.read_text().strip())
        return raw
    finally:
        os.unlink(temporary)
