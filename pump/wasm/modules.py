"""Modules by content hash: `FLOWPLANE_MODULES` maps `<id>@<version>` (a `wasm:` module or a
`tool:` listing) to a sha256; the bytes are `<sha256>.wasm` in `FLOWPLANE_MODULE_SOURCE`, a
directory or an http(s) URL. The hash is verified before compiling; compiled modules are cached
by hash for the pump's lifetime."""

from __future__ import annotations

import asyncio
import hashlib
from pathlib import Path

import aiohttp

from pump.organism.models import TOOL_REFERENCE, WASM_REFERENCE
from pump.wasm.abi import InvocationFailure
from pump.wasm.runtime import CompiledModule, WasmEngine
from pump.wasm.signatures import ToolVerifier

MAX_MODULE_BYTES = 64 * 1024 * 1024
FETCH_TIMEOUT_SECONDS = 60


def module_key(reference: str) -> str:
    """`wasm:<id>@<version>` or `tool:<listing>@<version>` -> the FLOWPLANE_MODULES key."""
    match = WASM_REFERENCE.match(reference)
    if match is not None:
        return f"{match.group('module')}@{match.group('version')}"
    match = TOOL_REFERENCE.match(reference)
    if match is not None:
        return f"{match.group('listing')}@{match.group('version')}"
    raise InvocationFailure(
        "module_unavailable", f"{reference!r} is not a wasm: or tool: reference"
    )


class ModuleStore:
    def __init__(
        self,
        engine: WasmEngine,
        modules: dict[str, str],
        source: str | None,
        verifier: ToolVerifier | None = None,
    ) -> None:
        self.engine = engine
        self._verifier = verifier
        self._hashes = modules
        self._source = source
        self._compiled: dict[str, CompiledModule] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    def cached(self, reference: str) -> CompiledModule | None:
        """The compiled module when it needs no further check (a `tool:` module only after
        its signature was verified)."""
        key = module_key(reference)
        sha256 = self._hashes.get(key)
        if not sha256:
            return None
        if reference.startswith("tool:") and (
            self._verifier is None or not self._verifier.verified(key, sha256)
        ):
            return None
        return self._compiled.get(sha256)

    async def get(self, reference: str) -> CompiledModule:
        key = module_key(reference)
        sha256 = self._hashes.get(key)
        if sha256 is None:
            raise InvocationFailure(
                "module_unavailable", f"module {key!r} is not installed for this flow"
            )
        if reference.startswith("tool:"):
            if self._verifier is None:
                raise InvocationFailure(
                    "signature_invalid",
                    f"tool {key!r}: the pump has no marketplace key to verify it with",
                )
            self._verifier.check(key, sha256)
        compiled = self._compiled.get(sha256)
        if compiled is not None:
            return compiled
        lock = self._locks.setdefault(sha256, asyncio.Lock())
        async with lock:
            compiled = self._compiled.get(sha256)
            if compiled is None:
                wasm = await self._fetch(key, sha256)
                compiled = await asyncio.to_thread(self.engine.compile, sha256, wasm)
                self._compiled[sha256] = compiled
        return compiled

    async def _fetch(self, key: str, sha256: str) -> bytes:
        source = self._source
        if not source:
            raise InvocationFailure(
                "module_unavailable", f"module {key!r}: FLOWPLANE_MODULE_SOURCE is not set"
            )
        name = f"{sha256}.wasm"
        try:
            if source.startswith(("http://", "https://")):
                wasm = await _download(f"{source.rstrip('/')}/{name}")
            else:
                wasm = await asyncio.to_thread((Path(source) / name).read_bytes)
        except (OSError, aiohttp.ClientError, TimeoutError) as error:
            raise InvocationFailure(
                "module_unavailable", f"module {key!r} ({name}) could not be loaded: {error}"
            ) from None
        actual = hashlib.sha256(wasm).hexdigest()
        if actual != sha256:
            raise InvocationFailure(
                "module_unavailable",
                f"module {key!r}: content hash {actual} does not match the expected {sha256}",
            )
        return wasm


async def _download(url: str) -> bytes:
    timeout = aiohttp.ClientTimeout(total=FETCH_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(timeout=timeout, trust_env=False) as session:  # noqa: SIM117
        async with session.get(url) as response:
            response.raise_for_status()
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.content.iter_chunked(1 << 20):
                size += len(chunk)
                if size > MAX_MODULE_BYTES:
                    raise OSError(f"larger than {MAX_MODULE_BYTES} bytes")
                chunks.append(chunk)
            return b"".join(chunks)
