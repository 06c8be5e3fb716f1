"""wasmtime under limits: one Engine, compiled modules cached by content hash, and a fresh Store
and instance for every invocation (DESIGN.md §5).

An invocation runs synchronously on a worker thread (wasmtime releases the GIL while guest code
runs). Fuel bounds computation, `Store.set_limits` bounds linear memory, and a ticker thread
advances the engine epoch so a deadline bounds wall time. The memory reservation is set to the
memory cap so a pump runs under an address-space rlimit."""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass

import wasmtime

from pump.wasm import fastcall, slices
from pump.wasm.abi import InvocationFailure, WasmLimits
from pump.wasm.hostcalls import HOST_IMPORTS, HostContext, current, define_imports

EPOCH_TICK_SECONDS = 0.01
WASM_PAGE = 65536
MAX_RESULT_BYTES = 16 * 1024 * 1024
REQUIRED_EXPORTS = {
    "memory": wasmtime.MemoryType,
    "alloc": wasmtime.FuncType,
    "handle": wasmtime.FuncType,
}


@dataclass(frozen=True)
class CompiledModule:
    sha256: str
    module: wasmtime.Module
    pre: wasmtime.InstancePre
    imports: frozenset[str]  # names imported from `flowplane`


class WasmEngine:
    def __init__(self, limits: WasmLimits, *, concurrent_instances: int = 0) -> None:
        """`concurrent_instances` > 0: the most instances alive at once (one per worker
        thread); lets wasmtime pool instance slots."""
        self.limits = limits
        config = wasmtime.Config()
        config.consume_fuel = True
        config.epoch_interruption = True
        reservation = _round_to_pages(limits.memory_bytes)
        config.memory_reservation = reservation
        config.memory_reservation_for_growth = 0
        config.memory_guard_size = WASM_PAGE
        config.cranelift_opt_level = "speed"
        if concurrent_instances > 0:
            fastcall.use_pooling_allocator(config, concurrent_instances, reservation)
        self.engine = wasmtime.Engine(config)
        self.linker = wasmtime.Linker(self.engine)
        define_imports(self.linker)
        self._deadline_ticks = max(1, math.ceil(limits.timeout_seconds / EPOCH_TICK_SECONDS)) + 1
        self._stop = threading.Event()
        self._ticker = threading.Thread(target=self._tick, name="wasm-epoch", daemon=True)
        self._ticker.start()

    def close(self) -> None:
        self._stop.set()

    def _tick(self) -> None:
        while not self._stop.wait(EPOCH_TICK_SECONDS):
            self.engine.increment_epoch()

    def compile(self, sha256: str, wasm: bytes) -> CompiledModule:
        """Compile and check the module against the ABI; raise InvocationFailure `invalid_module`."""
        try:
            module = wasmtime.Module(self.engine, wasm)
        except wasmtime.WasmtimeError as error:
            raise InvocationFailure(
                "invalid_module", f"not a valid WebAssembly module: {error}"
            ) from None
        exports = {export.name: export.type for export in module.exports}
        for name, kind in REQUIRED_EXPORTS.items():
            if not isinstance(exports.get(name), kind):
                raise InvocationFailure(
                    "invalid_module",
                    f"the module must export {name!r} (ABI: memory, alloc, handle)",
                )
        imported: set[str] = set()
        for item in module.imports:
            if item.module != "flowplane" or item.name not in HOST_IMPORTS:
                raise InvocationFailure(
                    "invalid_module",
                    f"the module imports {item.module}.{item.name}; only flowplane."
                    f"{{{', '.join(sorted(HOST_IMPORTS))}}} exist",
                )
            imported.add(item.name)
        try:
            pre = self.linker.instantiate_pre(module)
        except wasmtime.WasmtimeError as error:
            raise InvocationFailure(
                "invalid_module", f"the module's imports do not link: {error}"
            ) from None
        return CompiledModule(sha256=sha256, module=module, pre=pre, imports=frozenset(imported))

    def invoke(self, compiled: CompiledModule, request: bytes, host: HostContext) -> bytes:
        """One call of `handle` on a fresh instance. Raises InvocationFailure with the reason."""
        store = wasmtime.Store(self.engine)
        store.set_limits(memory_size=self.limits.memory_bytes)
        store.set_fuel(self.limits.fuel)
        # kept alive until the store is closed
        sliced = slices.install(
            store,
            host,
            self._deadline_ticks,
            f"the module ran past its {self.limits.timeout_seconds:g} s deadline",
        )
        host.deadline = time.monotonic() + self.limits.timeout_seconds
        current.context = host
        memory: wasmtime.Memory | None = None
        with host.store_lock:
            if host.abort is not None:  # cancelled before it began
                raise InvocationFailure(*host.abort)
            host.store = store
        try:
            instance = compiled.pre.instantiate(store)
            memory, alloc, handle = fastcall.exports(store, instance)
            pointer = fastcall.call(store, alloc, len(request))
            fastcall.write(store, memory, request, pointer)
            packed = fastcall.call(store, handle, pointer, len(request))
            if host.abort is not None:  # a host call stopped the guest, which returned anyway
                raise InvocationFailure(*host.abort)
            packed &= 0xFFFFFFFFFFFFFFFF
            start, length = packed >> 32, packed & 0xFFFFFFFF
            if length > MAX_RESULT_BYTES or start + length > memory.data_len(store):
                raise InvocationFailure(
                    "invalid_result", f"handle returned an out-of-bounds result ({start}, {length})"
                )
            return fastcall.read(store, memory, start, length)
        except wasmtime.Trap as trap:
            raise self._classify(trap, host, store, memory) from None
        except wasmtime.WasmtimeError as error:
            if host.abort is not None:
                raise InvocationFailure(*host.abort) from None
            text = str(error)
            if "memory" in text and ("limit" in text or "size" in text or "exceed" in text):
                raise InvocationFailure(
                    "memory_limit",
                    f"the module needs more memory than the cap allows: {_trap_text(text)}",
                ) from None
            raise InvocationFailure("trap", _trap_text(text)) from None
        except (IndexError, ValueError) as error:
            raise InvocationFailure(
                "invalid_result", f"the module broke the ABI: {error}"
            ) from None
        finally:
            with host.store_lock:
                host.store = None
            current.context = None
            if host.measure_fuel:
                host.fuel_used = self.limits.fuel - store.get_fuel()
            # free the instance slot now, not when a traceback holding this frame is collected
            store.close()
            del sliced

    def _classify(
        self,
        trap: wasmtime.Trap,
        host: HostContext,
        store: wasmtime.Store,
        memory: wasmtime.Memory | None,
    ) -> InvocationFailure:
        if host.abort is not None:
            return InvocationFailure(*host.abort)
        code = trap.trap_code
        if code == wasmtime.TrapCode.OUT_OF_FUEL:
            return InvocationFailure(
                "out_of_fuel",
                f"the module ran out of fuel ({self.limits.fuel} units per invocation)",
            )
        if code == wasmtime.TrapCode.INTERRUPT:
            return InvocationFailure(
                "deadline",
                f"the module ran past its {self.limits.timeout_seconds:g} s deadline",
            )
        message = _trap_text(trap.message)
        if (
            code == wasmtime.TrapCode.UNREACHABLE
            and memory is not None
            and _near_memory_cap(memory.data_len(store), self.limits.memory_bytes)
        ):
            used = memory.data_len(store)
            return InvocationFailure(
                "memory_limit",
                f"the module trapped ({message}) with its memory at {used} of the "
                f"{self.limits.memory_bytes}-byte cap: it could not grow its memory",
            )
        return InvocationFailure("trap", f"the module trapped: {message}")


def _matches(export: object, signature: str) -> bool:
    if signature == "a memory":
        return isinstance(export, wasmtime.MemoryType)
    if not isinstance(export, wasmtime.FuncType):
        return False
    names = {repr(wasmtime.ValType.i32()): "i32", repr(wasmtime.ValType.i64()): "i64"}
    parameters = ", ".join(names.get(repr(item), "?") for item in export.params)
    results = ", ".join(names.get(repr(item), "?") for item in export.results)
    return f"({parameters}) -> {results}" == signature


def _near_memory_cap(used: int, cap: int) -> bool:
    """A guest that cannot grow traps (memory.grow returned -1). AssemblyScript's allocator first
    asks to double its memory, so a failed growth shows as more than half the cap in use."""
    return used + WASM_PAGE > cap or used * 2 > cap


def _round_to_pages(size: int) -> int:
    return max(WASM_PAGE, (size + WASM_PAGE - 1) // WASM_PAGE * WASM_PAGE)


def _trap_text(text: str) -> str:
    """wasmtime's trap messages start with a backtrace; the cause is on a `wasm trap:` line."""
    for line in text.splitlines():
        if "wasm trap:" in line:
            return line.split("wasm trap:", 1)[1].strip()
    return _first_line(text)


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text
