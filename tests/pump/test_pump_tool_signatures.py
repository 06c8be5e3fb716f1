"""The pump instantiates a `tool:` module only with a valid marketplace signature over its hash
and manifest, and only within the grants and hosts that manifest declares."""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

import pytest
import wasmtime
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from pump.keys import tool_signature_message
from pump.wasm.abi import InvocationFailure, WasmLimits
from pump.wasm.modules import ModuleStore
from pump.wasm.runtime import WasmEngine
from pump.wasm.signatures import ToolVerifier

WAT = """(module
  (import "flowplane" "http_fetch" (func $fetch (param i32 i32) (result i64)))
  (memory (export "memory") 1)
  (func (export "alloc") (param i32) (result i32) (i32.const 1024))
  (func (export "handle") (param i32 i32) (result i64) (i64.const 0)))"""
MANIFEST = {"http_fetch": {"hosts": ["api.example.com"]}}


@pytest.fixture
def engine() -> WasmEngine:
    return WasmEngine(WasmLimits(10**6, 16 * 2**20, 1.0), concurrent_instances=1)


def _setup(tmp_path: Path) -> tuple[Ed25519PrivateKey, str, str]:
    wasm = bytes(wasmtime.wat2wasm(WAT))
    sha256 = hashlib.sha256(wasm).hexdigest()
    (tmp_path / f"{sha256}.wasm").write_bytes(wasm)
    key = Ed25519PrivateKey.generate()
    public = base64.b64encode(key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw))
    return key, public.decode(), sha256


def _store(
    engine: WasmEngine,
    tmp_path: Path,
    public: str,
    sha256: str,
    signature: bytes,
    capabilities: dict[str, object],
    hosts: tuple[str, ...] = ("api.example.com",),
) -> ModuleStore:
    entry = {"signature": base64.b64encode(signature).decode(), "capabilities": capabilities}
    verifier = ToolVerifier(
        public,
        {"weather@1.0.0": entry},
        {"weather@1.0.0": frozenset({"http_fetch"})},
        {"weather@1.0.0": hosts},
    )
    return ModuleStore(engine, {"weather@1.0.0": sha256}, str(tmp_path), verifier)


async def test_signed_tools_load_and_changed_ones_are_refused(
    engine: WasmEngine, tmp_path: Path
) -> None:
    key, public, sha256 = _setup(tmp_path)
    signature = key.sign(tool_signature_message("weather", "1.0.0", sha256, MANIFEST))
    reference = "tool:weather@1.0.0"

    good = _store(engine, tmp_path, public, sha256, signature, MANIFEST)
    assert good.cached(reference) is None  # nothing is handed out before verification
    compiled = await good.get(reference)
    assert "http_fetch" in compiled.imports and good.cached(reference) is compiled

    wider = {"http_fetch": {"hosts": ["*"]}}  # a row whose manifest was widened
    with pytest.raises(InvocationFailure) as refused:
        await _store(engine, tmp_path, public, sha256, signature, wider, ("*",)).get(reference)
    assert refused.value.reason == "signature_invalid"

    beyond = _store(engine, tmp_path, public, sha256, signature, MANIFEST, ("evil.example",))
    with pytest.raises(InvocationFailure) as hosts:
        await beyond.get(reference)
    assert hosts.value.reason == "signature_invalid" and "evil.example" in hosts.value.message

    forged = Ed25519PrivateKey.generate().sign(
        tool_signature_message("weather", "1.0.0", sha256, MANIFEST)
    )
    with pytest.raises(InvocationFailure) as other_key:
        await _store(engine, tmp_path, public, sha256, forged, MANIFEST).get(reference)
    assert other_key.value.reason == "signature_invalid"

    unsigned = ModuleStore(engine, {"weather@1.0.0": sha256}, str(tmp_path))
    with pytest.raises(InvocationFailure) as no_key:
        await unsigned.get(reference)
    assert no_key.value.reason == "signature_invalid"

    path = tmp_path / f"{sha256}.wasm"
    path.write_bytes(path.read_bytes() + b"\x00")  # the blob changed after publishing
    with pytest.raises(InvocationFailure) as tampered:
        await _store(engine, tmp_path, public, sha256, signature, MANIFEST).get(reference)
    assert tampered.value.reason == "module_unavailable"
    assert "does not match" in tampered.value.message
