"""The imports a module may use, all from module `flowplane` (pump/README.md, "WASM ABI").

Host functions run on the invocation's worker thread; anything that needs the event loop
(Redis, HTTP) is handed to it and awaited with the invocation's remaining deadline. A host
function never raises into wasmtime: to stop the guest it records the reason and drains the
store's fuel, so the guest traps at its next fuel check and the runtime reports that reason."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from typing import Any, TypeVar

import wasmtime

from pump.handlers.base import StepError
from pump.memory import ProjectMemory
from pump.netguard import GuardedHttpClient, HostScope
from pump.wasm.abi import (
    LOG_LEVEL_NAMES,
    MEMORY_DISABLED,
    MEMORY_GET_DISABLED,
    MEMORY_INVALID,
    MEMORY_OK,
    MEMORY_QUOTA_EXCEEDED,
)

MAX_LOG_BYTES = 8192
MAX_LOG_LINES = 100
MAX_HOST_INPUT_BYTES = 1024 * 1024
DEFAULT_FETCH_TIMEOUT_SECONDS = 30.0
T = TypeVar("T")


@dataclass
class HostContext:
    loop: asyncio.AbstractEventLoop
    log: Callable[[str, str], None]  # runs on the loop
    memory: ProjectMemory
    http: GuardedHttpClient | None  # set only when the module was granted http_fetch
    hosts: HostScope | None = None  # the hosts http_fetch may reach; None: any public host
    deadline: float = 0.0  # time.monotonic() at which the invocation's wall time ends
    measure_fuel: bool = False  # record `fuel_used` (the module test panel shows it)
    fuel_used: int | None = None
    abort: tuple[str, str] | None = None
    log_lines: int = 0
    # The store running the guest (set by the invoking thread while it runs).
    store: Any = None
    store_lock: threading.Lock = field(default_factory=threading.Lock)

    def interrupt(self, reason: str, message: str) -> None:
        """Stop the guest: at its next epoch slice (within about 100 ms, wasm/slices.py), or
        before it starts."""
        with self.store_lock:
            if self.abort is None:
                self.abort = (reason, message)

    def emit_log(self, level: str, message: str) -> None:
        self.log_lines += 1
        if self.log_lines > MAX_LOG_LINES:
            if self.log_lines == MAX_LOG_LINES + 1:
                message, level = (
                    f"more than {MAX_LOG_LINES} log lines; the rest are dropped",
                    "warning",
                )
            else:
                return
        self.loop.call_soon_threadsafe(self.log, level, message)

    def remaining(self) -> float:
        return self.deadline - time.monotonic()


class _Current(threading.local):
    context: HostContext | None = None


current = _Current()


class _Stop(Exception):
    """Raised inside a host function to leave it after `_stop_guest`."""


def _context() -> HostContext:
    context = current.context
    if context is None:
        raise RuntimeError("a flowplane host function ran outside an invocation")
    return context


def _stop_guest(caller: wasmtime.Caller, context: HostContext, reason: str, message: str) -> None:
    if context.abort is None:
        context.abort = (reason, message)
    wasmtime.Store.set_fuel(caller, 0)  # type: ignore[arg-type]  # only needs the store context


def _read(caller: wasmtime.Caller, pointer: int, length: int, limit: int) -> bytes:
    memory = caller.get("memory")
    if not isinstance(memory, wasmtime.Memory):
        raise ValueError("the module exports no memory")
    if pointer < 0 or length < 0 or length > limit or pointer + length > memory.data_len(caller):
        raise ValueError(f"out-of-bounds or oversized argument ({pointer}, {length})")
    return bytes(memory.read(caller, pointer, pointer + length))


def _give(caller: wasmtime.Caller, data: bytes) -> int:
    """Copy `data` into guest memory through the guest's `alloc`; return ptr << 32 | len."""
    alloc = caller.get("alloc")
    memory = caller.get("memory")
    if not isinstance(alloc, wasmtime.Func) or not isinstance(memory, wasmtime.Memory):
        raise ValueError("the module exports no alloc/memory")
    pointer = alloc(caller, len(data))
    if not isinstance(pointer, int):
        raise ValueError("alloc must return an i32")
    if data:
        memory.write(caller, data, pointer)
    return (pointer << 32) | len(data)


def _await(context: HostContext, make: Callable[[], Coroutine[Any, Any, T]], what: str) -> T:
    remaining = context.remaining()
    if remaining <= 0:
        raise TimeoutError(what)
    future = asyncio.run_coroutine_threadsafe(make(), context.loop)
    try:
        return future.result(timeout=remaining)
    except concurrent.futures.TimeoutError:
        future.cancel()
        raise TimeoutError(what) from None


def _guarded(name: str, fallback: int | None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Turn every failure of a host function into a stopped guest with a named reason."""

    def wrap(function: Callable[..., Any]) -> Callable[..., Any]:
        def host_function(caller: wasmtime.Caller, *args: int) -> Any:
            context = _context()
            try:
                return function(caller, context, *args)
            except _Stop:
                pass
            except TimeoutError:
                _stop_guest(
                    caller,
                    context,
                    "deadline",
                    f"the host call {name} ran past the module's deadline",
                )
            except (ValueError, UnicodeDecodeError) as error:
                _stop_guest(caller, context, "invalid_abi", f"bad arguments to {name}: {error}")
            except Exception as error:
                _stop_guest(caller, context, "host_error", f"{name} failed: {error}")
            return fallback

        return host_function

    return wrap


@_guarded("log", None)
def _log(
    caller: wasmtime.Caller, context: HostContext, level: int, pointer: int, length: int
) -> None:
    text = _read(caller, pointer, min(length, MAX_LOG_BYTES), MAX_LOG_BYTES)
    name = LOG_LEVEL_NAMES[level] if 0 <= level < len(LOG_LEVEL_NAMES) else "info"
    context.emit_log(name, text.decode("utf-8", errors="replace"))


@_guarded("memory_get", MEMORY_GET_DISABLED)
def _memory_get(caller: wasmtime.Caller, context: HostContext, pointer: int, length: int) -> int:
    refusal = context.memory.access.refusal
    if refusal is not None:
        context.emit_log("warning", f"memory_get refused: {refusal}")
        return MEMORY_GET_DISABLED
    key = _read(caller, pointer, length, 4096).decode("utf-8")
    try:
        value = _await(context, lambda: context.memory.get(key), "memory_get")
    except StepError as error:
        context.emit_log("warning", f"memory_get refused: {error.message}")
        return MEMORY_GET_DISABLED
    return _give(caller, json.dumps(value, separators=(",", ":")).encode())


@_guarded("memory_set", MEMORY_INVALID)
def _memory_set(
    caller: wasmtime.Caller,
    context: HostContext,
    key_pointer: int,
    key_length: int,
    value_pointer: int,
    value_length: int,
) -> int:
    refusal = context.memory.access.refusal
    if refusal is not None:
        context.emit_log("warning", f"memory_set refused: {refusal}")
        return MEMORY_DISABLED
    key = _read(caller, key_pointer, key_length, 4096).decode("utf-8")
    raw = _read(caller, value_pointer, value_length, MAX_HOST_INPUT_BYTES)
    try:
        if not raw:
            _await(context, lambda: context.memory.delete(key), "memory_set")
            return MEMORY_OK
        value = json.loads(raw)
        _await(context, lambda: context.memory.set(key, value), "memory_set")
    except ValueError:
        return MEMORY_INVALID
    except StepError as error:
        context.emit_log("warning", f"memory_set refused: {error.message}")
        return MEMORY_QUOTA_EXCEEDED if error.reason == "quota_exceeded" else MEMORY_INVALID
    return MEMORY_OK


@_guarded("http_fetch", 0)
def _http_fetch(caller: wasmtime.Caller, context: HostContext, pointer: int, length: int) -> int:
    client = context.http
    if client is None:
        _stop_guest(caller, context, "capability_not_granted", "http_fetch was not granted")
        raise _Stop
    try:
        request = json.loads(_read(caller, pointer, length, MAX_HOST_INPUT_BYTES))
        if not isinstance(request, dict) or not isinstance(request.get("url"), str):
            raise ValueError("the request must be an object with a string `url`")
    except ValueError as error:
        return _give(caller, _error_document("invalid_request", str(error)))
    wanted = float(request.get("timeout_seconds") or DEFAULT_FETCH_TIMEOUT_SECONDS)
    remaining = context.remaining()
    timeout = max(0.001, min(wanted, remaining))
    headers = request.get("headers") or {}
    try:
        response = _await(
            context,
            lambda: client.request(
                str(request.get("method") or "GET"),
                request["url"],
                headers={str(k): str(v) for k, v in dict(headers).items()},
                json_body=request.get("json"),
                body=request.get("body"),
                timeout_seconds=timeout,
                scope=context.hosts,
            ),
            "http_fetch",
        )
    except StepError as error:
        if error.reason == "timeout" and remaining <= wanted:
            raise TimeoutError("http_fetch") from None
        return _give(caller, _error_document(error.reason, error.message))
    return _give(caller, json.dumps(response.as_payload(), separators=(",", ":")).encode())


def _error_document(reason: str, message: str) -> bytes:
    return json.dumps({"error": message, "reason": reason}, separators=(",", ":")).encode()


# name -> (parameter types, result types, implementation); "i32"/"i64" as in the WAT
HOST_IMPORTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], Callable[..., Any]]] = {
    "log": (("i32", "i32", "i32"), (), _log),
    "memory_get": (("i32", "i32"), ("i64",), _memory_get),
    "memory_set": (("i32", "i32", "i32", "i32"), ("i32",), _memory_set),
    "http_fetch": (("i32", "i32"), ("i64",), _http_fetch),
}


def _value_type(name: str) -> wasmtime.ValType:
    return wasmtime.ValType.i64() if name == "i64" else wasmtime.ValType.i32()


def define_imports(linker: wasmtime.Linker) -> None:
    # fresh type objects per linker: wasmtime takes ownership of the ones it is given
    for name, (parameters, results, function) in HOST_IMPORTS.items():
        signature = wasmtime.FuncType(
            [_value_type(item) for item in parameters], [_value_type(item) for item in results]
        )
        linker.define_func("flowplane", name, signature, function, access_caller=True)
