"""Checks a WebAssembly binary against the pump's ABI before it is stored (DESIGN.md §5): it
is valid WebAssembly, imports only `flowplane` host functions with their exact signatures,
and exports `memory`, `alloc(i32) -> i32` and `handle(i32, i32) -> i64`.

The import and export sections are read here (a few dozen lines of the binary format) rather
than by compiling the module: untrusted code is never compiled in the control plane's process.
`wasmtime.Module.validate` checks everything else without compiling."""

from __future__ import annotations

import atexit
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import wasmtime

# The pump's host functions (pump/wasm/hostcalls.py HOST_IMPORTS; a test keeps them equal).
HOST_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "log": (("i32", "i32", "i32"), ()),
    "memory_get": (("i32", "i32"), ("i64",)),
    "memory_set": (("i32", "i32", "i32", "i32"), ("i32",)),
    "http_fetch": (("i32", "i32"), ("i64",)),
}
REQUIRED_FUNCTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "alloc": (("i32",), ("i32",)),
    "handle": (("i32", "i32"), ("i64",)),
}
VALUE_TYPES = {0x7F: "i32", 0x7E: "i64", 0x7D: "f32", 0x7C: "f64", 0x7B: "v128"}
REFERENCE_TYPES = {0x70: "funcref", 0x6F: "externref"}
EXTERNAL_KINDS = {0: "function", 1: "table", 2: "memory", 3: "global", 4: "tag"}
Signature = tuple[tuple[str, ...], tuple[str, ...]]


class MalformedWasm(ValueError):
    pass


@dataclass
class WasmInfo:
    imports: list[str] = field(default_factory=list)  # flowplane host functions it uses
    exports: list[dict[str, Any]] = field(default_factory=list)  # [{name, kind, signature}]
    problems: list[dict[str, Any]] = field(default_factory=list)  # [{path, message}]


def signature_text(signature: Signature) -> str:
    parameters, results = signature
    return f"({', '.join(parameters)}) -> {', '.join(results) or '()'}"


def inspect_wasm(wasm: bytes, *, max_bytes: int, path: str = "wasm") -> WasmInfo:
    """What the module imports and exports, and every way it breaks the ABI."""
    info = WasmInfo()
    if len(wasm) > max_bytes:
        info.problems.append(
            {"path": path, "message": f"the module is {len(wasm)} bytes; at most {max_bytes}"}
        )
        return info
    import wasmtime  # imported on first use: a server that never checks a module skips it

    try:
        wasmtime.Module.validate(_engine(), wasm)
    except wasmtime.WasmtimeError as error:
        message = str(error).strip().splitlines()[0] if str(error).strip() else "invalid"
        info.problems.append(
            {"path": path, "message": f"not a valid WebAssembly module: {message}"}
        )
        return info
    try:
        sections = _Sections(wasm)
    except (MalformedWasm, IndexError) as error:
        info.problems.append({"path": path, "message": f"unreadable module: {error}"})
        return info
    for module, name, kind, signature in sections.imports:
        where = f"{module}.{name}"
        if module != "flowplane" or name not in HOST_FUNCTIONS or kind != "function":
            known = ", ".join(f"flowplane.{item}" for item in HOST_FUNCTIONS)
            info.problems.append(
                {
                    "path": f"{path}.imports.{where}",
                    "message": f"the module imports {where} ({kind}); modules may import only "
                    f"these host functions: {known}",
                }
            )
            continue
        if signature is None or signature != HOST_FUNCTIONS[name]:
            info.problems.append(
                {
                    "path": f"{path}.imports.{where}",
                    "message": f"{where} must have the signature "
                    f"{signature_text(HOST_FUNCTIONS[name])}, not "
                    f"{signature_text(signature or ((), ()))}",
                }
            )
            continue
        info.imports.append(name)
    exported = {name: (kind, signature) for name, kind, signature in sections.exports}
    info.exports = [
        {"name": name, "kind": kind, "signature": signature_text(signature) if signature else None}
        for name, kind, signature in sections.exports
    ]
    if exported.get("memory", ("", None))[0] != "memory":
        info.problems.append(
            {"path": f"{path}.exports.memory", "message": "the module must export its `memory`"}
        )
    for name, wanted in REQUIRED_FUNCTIONS.items():
        kind, signature = exported.get(name, ("", None))
        if kind != "function":
            info.problems.append(
                {
                    "path": f"{path}.exports.{name}",
                    "message": f"the module must export the function `{name}` "
                    f"{signature_text(wanted)} (ABI: memory, alloc, handle)",
                }
            )
        elif signature != wanted:
            info.problems.append(
                {
                    "path": f"{path}.exports.{name}",
                    "message": f"`{name}` must have the signature {signature_text(wanted)}, "
                    f"not {signature_text(signature or ((), ()))}",
                }
            )
    info.imports.sort()
    return info


@lru_cache(maxsize=1)
def _engine() -> wasmtime.Engine:
    import wasmtime

    # Dropped at exit, before the interpreter clears wasmtime's module (imported late, it goes
    # before this one), where the engine's finalizer would find wasmtime's functions gone.
    atexit.register(_engine.cache_clear)
    return wasmtime.Engine()


class _Sections:
    """The type, import, function and export sections of a (validated) binary."""

    def __init__(self, wasm: bytes) -> None:
        self.data = wasm
        self.position = 8  # magic and version: validated already
        self.types: list[Signature | None] = []
        self.function_types: list[Signature | None] = []  # imported functions first
        self.imports: list[tuple[str, str, str, Signature | None]] = []
        self.exports: list[tuple[str, str, Signature | None]] = []
        while self.position < len(wasm):
            section_id = self.byte()
            size = self.unsigned()
            end = self.position + size
            if section_id == 1:
                self._types()
            elif section_id == 2:
                self._imports()
            elif section_id == 3:
                for _ in range(self.unsigned()):
                    self.function_types.append(self._type_at(self.unsigned()))
            elif section_id == 7:
                self._exports()
            self.position = end

    def byte(self) -> int:
        value = self.data[self.position]
        self.position += 1
        return value

    def unsigned(self) -> int:
        result = shift = 0
        while True:
            value = self.byte()
            result |= (value & 0x7F) << shift
            if not value & 0x80:
                return result
            shift += 7
            if shift > 35:
                raise MalformedWasm("an integer is too long")

    def name(self) -> str:
        length = self.unsigned()
        text = self.data[self.position : self.position + length].decode("utf-8", "replace")
        self.position += length
        return text

    def value_type(self) -> str:
        code = self.byte()
        if code in VALUE_TYPES:
            return VALUE_TYPES[code]
        if code in REFERENCE_TYPES:
            return REFERENCE_TYPES[code]
        raise MalformedWasm(f"unsupported value type 0x{code:02x}")

    def _type_at(self, index: int) -> Signature | None:
        return self.types[index] if index < len(self.types) else None

    def _types(self) -> None:
        for _ in range(self.unsigned()):
            form = self.byte()
            if form != 0x60:
                raise MalformedWasm(f"unsupported type form 0x{form:02x}")
            parameters = tuple(self.value_type() for _ in range(self.unsigned()))
            results = tuple(self.value_type() for _ in range(self.unsigned()))
            self.types.append((parameters, results))

    def _limits(self) -> None:
        flags = self.byte()
        self.unsigned()
        if flags & 1:
            self.unsigned()

    def _imports(self) -> None:
        for _ in range(self.unsigned()):
            module, name = self.name(), self.name()
            kind_code = self.byte()
            kind = EXTERNAL_KINDS.get(kind_code, f"kind {kind_code}")
            signature = None
            if kind_code == 0:
                signature = self._type_at(self.unsigned())
                self.function_types.append(signature)
            elif kind_code == 1:
                self.value_type()
                self._limits()
            elif kind_code == 2:
                self._limits()
            elif kind_code == 3:
                self.value_type()
                self.byte()
            elif kind_code == 4:
                self.byte()
                self.unsigned()
            else:
                raise MalformedWasm(f"unknown import kind {kind_code}")
            self.imports.append((module, name, kind, signature))

    def _exports(self) -> None:
        for _ in range(self.unsigned()):
            name = self.name()
            kind_code = self.byte()
            index = self.unsigned()
            kind = EXTERNAL_KINDS.get(kind_code, f"kind {kind_code}")
            signature = None
            if kind_code == 0 and index < len(self.function_types):
                signature = self.function_types[index]
            self.exports.append((name, kind, signature))
