"""Marketplace signatures of `tool:` modules, checked before the pump instantiates one.

The control plane hands the pump, per `tool:<listing>@<version>`, the Ed25519 signature the
marketplace made when the version was published and the capability manifest it signed
(`FLOWPLANE_MODULE_SIGNATURES`), and the marketplace's public key. The pump rebuilds the signed
message from the module's expected content hash (`FLOWPLANE_MODULES`, itself checked against the
bytes before compiling) and that manifest; it refuses the module when the signature does not
verify (a changed row: another hash or manifest) or when what it was granted goes beyond what
was signed (`signature_invalid`). A tampered blob fails the hash check (`module_unavailable`)."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from pump.keys import tool_signature_message
from pump.wasm.abi import InvocationFailure

REASON = "signature_invalid"


class ToolVerifier:
    def __init__(
        self,
        public_key: str,
        signatures: Mapping[str, Mapping[str, Any]],
        grants: Mapping[str, frozenset[str]],
        hosts: Mapping[str, tuple[str, ...]],
    ) -> None:
        self._public_key = public_key
        self._signatures = signatures
        self._grants = grants
        self._hosts = hosts
        self._verified: set[tuple[str, str]] = set()

    def verified(self, key: str, sha256: str) -> bool:
        return (key, sha256) in self._verified

    def check(self, key: str, sha256: str) -> None:
        """Raise `InvocationFailure(signature_invalid)` unless `key` (`<listing>@<version>`)
        with content hash `sha256` carries a valid marketplace signature covering its grants."""
        if (key, sha256) in self._verified:
            return
        listing, _, version = key.rpartition("@")
        entry = self._signatures.get(key)
        if entry is None:
            raise InvocationFailure(REASON, f"tool {key!r} carries no marketplace signature")
        capabilities = entry.get("capabilities")
        signature = entry.get("signature")
        if not isinstance(capabilities, dict) or not isinstance(signature, str):
            raise InvocationFailure(REASON, f"tool {key!r}: malformed signature entry")
        try:
            public = Ed25519PublicKey.from_public_bytes(base64.b64decode(self._public_key))
            public.verify(
                base64.b64decode(signature),
                tool_signature_message(listing, version, sha256, capabilities),
            )
        except (InvalidSignature, ValueError, binascii.Error):
            raise InvocationFailure(
                REASON,
                f"tool {key!r}: the marketplace signature does not match its content hash "
                f"{sha256} and capability manifest (changed after publishing?)",
            ) from None
        beyond = sorted(self._grants.get(key, frozenset()) - set(capabilities))
        if beyond:
            raise InvocationFailure(
                REASON, f"tool {key!r} was granted {beyond}, which its signed manifest lacks"
            )
        hosts = self._hosts.get(key)
        http = capabilities.get("http_fetch")
        signed_hosts = set(http.get("hosts", [])) if isinstance(http, dict) else set()
        if hosts is not None and not set(hosts) <= signed_hosts:
            raise InvocationFailure(
                REASON,
                f"tool {key!r} may reach hosts {sorted(set(hosts) - signed_hosts)} its signed "
                "manifest does not declare",
            )
        self._verified.add((key, sha256))
