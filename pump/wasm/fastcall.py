"""Integer calls and export lookups on wasmtime's C API, for the invocation hot path.

wasmtime-py's `Func.__call__` rebuilds the function's type and converts every value through
several Python objects: about 35 µs a call, where the call itself costs 2 µs. The ABI needs
only `alloc(i32) -> i32` and `handle(i32, i32) -> i64`, so this module fills the C value array
itself and uses the checked `wasmtime_func_call` (wasmtime still verifies argument count and
types). Traps are raised exactly as wasmtime-py raises them (through its `enter_wasm`). If a
future wasmtime-py moves these internals, `available` is False and callers use the public API."""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime

try:  # wasmtime-py internals: checked at import, with the public API as the fallback
    from wasmtime import _ffi as ffi
    from wasmtime._func import enter_wasm

    _I32 = ffi.WASMTIME_I32.value
    _I64 = ffi.WASMTIME_I64.value
    _EXTERN_FUNC = ffi.WASMTIME_EXTERN_FUNC.value
    _EXTERN_MEMORY = ffi.WASMTIME_EXTERN_MEMORY.value
    _ValArray2: Any = ffi.wasmtime_val_t * 2
    _ValArray1: Any = ffi.wasmtime_val_t * 1
    _ABI_EXPORTS = (
        (b"memory", _EXTERN_MEMORY),
        (b"alloc", _EXTERN_FUNC),
        (b"handle", _EXTERN_FUNC),
    )
    available = all(
        hasattr(ffi, name)
        for name in ("wasmtime_func_call", "wasmtime_instance_export_get", "wasmtime_extern_t")
    )
    pooling_available = all(
        hasattr(ffi, name)
        for name in (
            "wasmtime_pooling_allocation_config_new",
            "wasmtime_pooling_allocation_config_total_memories_set",
            "wasmtime_pooling_allocation_config_total_tables_set",
            "wasmtime_pooling_allocation_config_total_core_instances_set",
            "wasmtime_pooling_allocation_config_max_memory_size_set",
            "wasmtime_pooling_allocation_config_total_stacks_set",
            "wasmtime_pooling_allocation_strategy_set",
        )
    )
except (ImportError, AttributeError):  # pragma: no cover - depends on the installed wasmtime
    available = pooling_available = False


def use_pooling_allocator(config: wasmtime.Config, slots: int, memory_bytes: int) -> bool:
    """Let the engine reuse `slots` pre-reserved instance slots (memory, table, instance)
    instead of mapping and unmapping memory for every Store: a third of an invocation's cost.
    Reserves `slots` x `memory_bytes` of address space up front; at most `slots` instances
    can exist at once (one per WASM worker thread). False if this wasmtime cannot."""
    if not pooling_available:
        return False
    pool = ffi.wasmtime_pooling_allocation_config_new()
    ffi.wasmtime_pooling_allocation_config_total_memories_set(pool, slots)
    ffi.wasmtime_pooling_allocation_config_total_tables_set(pool, slots)
    ffi.wasmtime_pooling_allocation_config_total_core_instances_set(pool, slots)
    ffi.wasmtime_pooling_allocation_config_max_memory_size_set(pool, memory_bytes)
    ffi.wasmtime_pooling_allocation_config_total_stacks_set(pool, 0)  # no async: 2 GiB saved
    ffi.wasmtime_pooling_allocation_strategy_set(config.ptr(), pool)
    return True


def call(store: wasmtime.Store, func: wasmtime.Func, *arguments: int) -> int:
    """Call `func` with i32 arguments; return its single i32 or i64 result."""
    if not available:
        result = func(store, *arguments)
        if not isinstance(result, int):
            raise wasmtime.WasmtimeError("the function must return one integer")
        return result
    count = len(arguments)
    parameters = _ValArray2() if count == 2 else (ffi.wasmtime_val_t * count)()
    for index, argument in enumerate(arguments):
        parameters[index].kind = _I32
        parameters[index].of.i32 = argument
    results = _ValArray1()
    with enter_wasm(store) as trap:
        error = ffi.wasmtime_func_call(
            store._context(), ctypes.byref(func._func), parameters, count, results, 1, trap
        )
        if error:
            raise wasmtime.WasmtimeError._from_ptr(error)
    kind = results[0].kind
    if kind == _I64:
        return int(results[0].of.i64)
    if kind == _I32:
        return int(results[0].of.i32) & 0xFFFFFFFF
    raise wasmtime.WasmtimeError("the function must return an i32 or i64")


def write(store: wasmtime.Store, memory: wasmtime.Memory, data: bytes, pointer: int) -> None:
    """Copy `data` into linear memory at `pointer` (bounds-checked), without the intermediate
    bytearray `Memory.write` makes."""
    if pointer < 0 or pointer + len(data) > memory.data_len(store):
        raise IndexError(f"({pointer}, {len(data)}) is outside the module's memory")
    base = ctypes.addressof(memory.data_ptr(store).contents)
    ctypes.memmove(base + pointer, data, len(data))


def read(store: wasmtime.Store, memory: wasmtime.Memory, pointer: int, length: int) -> bytes:
    """`length` bytes of linear memory at `pointer` (bounds-checked), copied once."""
    if pointer < 0 or length < 0 or pointer + length > memory.data_len(store):
        raise IndexError(f"({pointer}, {length}) is outside the module's memory")
    base = ctypes.addressof(memory.data_ptr(store).contents)
    return ctypes.string_at(base + pointer, length)


def exports(
    store: wasmtime.Store, instance: wasmtime.Instance
) -> tuple[wasmtime.Memory, wasmtime.Func, wasmtime.Func]:
    """The ABI's exports `memory`, `alloc` and `handle` (their kinds were checked at compile)."""
    if not available:
        found = instance.exports(store)
        memory, alloc, handle = found["memory"], found["alloc"], found["handle"]
        assert isinstance(memory, wasmtime.Memory)
        assert isinstance(alloc, wasmtime.Func) and isinstance(handle, wasmtime.Func)
        return memory, alloc, handle
    context = store._context()
    items = []
    for name, kind in (
        (b"memory", _EXTERN_MEMORY),
        (b"alloc", _EXTERN_FUNC),
        (b"handle", _EXTERN_FUNC),
    ):
        item = ffi.wasmtime_extern_t()
        exists = ffi.wasmtime_instance_export_get(
            context, ctypes.byref(instance._instance), name, len(name), ctypes.byref(item)
        )
        if not exists or int(item.kind) != kind:
            raise wasmtime.WasmtimeError(f"the module does not export {name.decode()!r}")
        items.append(item)
    return (
        wasmtime.Memory._from_raw(items[0].of.memory),
        wasmtime.Func._from_raw(items[1].of.func),
        wasmtime.Func._from_raw(items[2].of.func),
    )
