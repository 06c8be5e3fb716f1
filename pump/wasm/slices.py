"""Epoch deadlines in slices, so that a running guest can be stopped from outside.

A store's epoch deadline is cached by the compiled code until the epoch passes it, so moving
the deadline while the guest runs does nothing. Instead the deadline is set `SLICE_TICKS`
ahead, and wasmtime calls back each time the epoch reaches it (about every 100 ms): the
callback traps the guest when the invocation was cancelled (`host.abort` set, pump cancel) or
its wall time is used up, else grants one more slice. wasmtime-py has no wrapper for the
callback, so it is registered through its C API bindings."""

from __future__ import annotations

import ctypes
from typing import Any

import wasmtime
from wasmtime import _bindings as ffi

from pump.wasm.hostcalls import HostContext

SLICE_TICKS = 10
_CONTINUE = 0  # WASMTIME_UPDATE_DEADLINE_CONTINUE
_CALLBACK = ffi._wasmtime_store_epoch_deadline_callback.argtypes[1]
_FINALIZER = ffi._wasmtime_store_epoch_deadline_callback.argtypes[3]
_NO_FINALIZER = _FINALIZER()


def install(store: wasmtime.Store, host: HostContext, total_ticks: int, deadline: str) -> Any:
    """Run the store's guest in slices of `SLICE_TICKS` up to `total_ticks`; past them, or once
    `host.abort` is set, trap it (the abort, or ("deadline", `deadline`), says why). Returns
    the callback, which the caller keeps alive while the store runs."""
    used = [0]

    def on_deadline(_context: Any, _data: Any, delta: Any, kind: Any) -> int:
        used[0] += SLICE_TICKS
        if host.abort is None and used[0] >= total_ticks:
            host.abort = ("deadline", deadline)
        if host.abort is not None:
            error = ffi.wasmtime_error_new(host.abort[1].encode())
            return int(ctypes.cast(error, ctypes.c_void_p).value or 0)
        delta[0] = SLICE_TICKS
        kind[0] = _CONTINUE
        return 0

    callback = _CALLBACK(on_deadline)
    ffi.wasmtime_store_epoch_deadline_callback(store.ptr(), callback, None, _NO_FINALIZER)
    store.set_epoch_deadline(SLICE_TICKS)
    return callback
