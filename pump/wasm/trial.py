"""`python -m pump invoke`: one invocation of a module on a sample input, for the module
editor's Test panel. The control plane runs it in the pump's sandbox and writes one JSON request
to its stdin; it prints one JSON report:

request: {module: path of <sha256>.wasm, sha256, input: {payload, config, execution},
          memory: {key: value} | null (null: project memory off), grants: ["http_fetch"],
          hosts: [..] | null, http_allowlist: [..],
          limits?: {fuel, memory_bytes, timeout_seconds} (default: a pump's)}
report:  {ok, result?, route?, error?: {reason, message}, logs: [{level, message}],
          fuel_used, duration_ms, memory}

Project memory is a scratch dictionary that starts as the request's `memory` and is returned, so
a module that counts can be tried without touching any flow's data."""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
import time
from pathlib import Path
from typing import Any

from pump.handlers.base import StepError
from pump.memory import MemoryAccess, ProjectMemory
from pump.settings import DEFAULT_WASM_FUEL, DEFAULT_WASM_MEMORY_BYTES, DEFAULT_WASM_TIMEOUT_SECONDS
from pump.wasm.abi import InvocationFailure, WasmLimits

SCRATCH_QUOTA_BYTES = 1024 * 1024


class ScratchMemory(ProjectMemory):
    """Project memory in a dictionary (same quota accounting as the Redis one)."""

    def __init__(self, entries: dict[str, Any] | None) -> None:
        refusal = None if entries is not None else "project memory is off for this test run"
        self.access = MemoryAccess(SCRATCH_QUOTA_BYTES if entries is not None else 0, refusal)
        self.entries: dict[str, Any] = dict(entries or {})

    def _used(self) -> int:
        return sum(_entry_bytes(key, value) for key, value in self.entries.items())

    async def get(self, key: Any) -> Any:
        self._require()
        return self.entries.get(self._field(key))

    async def set(self, key: Any, value: Any) -> int:
        self._require()
        field = self._field(key)
        previous = _entry_bytes(field, self.entries[field]) if field in self.entries else 0
        after = self._used() - previous + _entry_bytes(field, value)
        if after > self.access.quota_bytes:
            raise StepError(
                "quota_exceeded",
                f"the test run's memory is limited to {self.access.quota_bytes} bytes",
            )
        self.entries[field] = value
        return after

    async def delete(self, key: Any) -> bool:
        self._require()
        return self.entries.pop(self._field(key), None) is not None


def _entry_bytes(key: str, value: Any) -> int:
    return len(key.encode()) + len(json.dumps(value, separators=(",", ":")).encode())


async def run_trial(request: dict[str, Any]) -> dict[str, Any]:
    from pump.handlers.wasm import interpret_result
    from pump.netguard import GuardedHttpClient, HostScope
    from pump.wasm.hostcalls import HostContext
    from pump.wasm.runtime import WasmEngine

    limits = WasmLimits(
        **{
            "fuel": DEFAULT_WASM_FUEL,
            "memory_bytes": DEFAULT_WASM_MEMORY_BYTES,
            "timeout_seconds": DEFAULT_WASM_TIMEOUT_SECONDS,
            **(request.get("limits") or {}),
        }
    )
    memory = ScratchMemory(request.get("memory"))
    logs: list[dict[str, str]] = []
    report: dict[str, Any] = {"ok": False, "logs": logs, "fuel_used": None, "duration_ms": None}
    engine = WasmEngine(limits)
    http = None
    if "http_fetch" in request.get("grants", []):
        http = GuardedHttpClient(request.get("http_allowlist", []))
    hosts = request.get("hosts")
    try:
        wasm = await asyncio.to_thread(Path(request["module"]).read_bytes)
        if hashlib.sha256(wasm).hexdigest() != request["sha256"]:
            raise InvocationFailure(
                "module_unavailable", "the module's content hash does not match"
            )
        compiled = engine.compile(request["sha256"], wasm)
        if "http_fetch" in compiled.imports and http is None:
            raise InvocationFailure(
                "capability_not_granted",
                "the module imports flowplane.http_fetch but did not declare the capability",
            )
        loop = asyncio.get_running_loop()
        host = HostContext(
            loop=loop,
            log=lambda level, message: logs.append({"level": level, "message": message}),
            memory=memory,
            http=http,
            hosts=HostScope(hosts) if hosts is not None else None,
            measure_fuel=True,
        )
        document = json.dumps(request["input"], separators=(",", ":")).encode()
        started = time.perf_counter()
        try:
            raw = await asyncio.to_thread(engine.invoke, compiled, document, host)
        finally:
            report["duration_ms"] = round((time.perf_counter() - started) * 1000, 3)
            report["fuel_used"] = host.fuel_used
        await asyncio.sleep(0)  # log lines are delivered through the loop
        outcome = interpret_result(raw)
        report.update(ok=True, result=outcome.payload, route=outcome.route)
    except InvocationFailure as failure:
        report["error"] = {"reason": failure.reason, "message": failure.message}
    except StepError as error:
        report["error"] = {"reason": error.reason, "message": error.message}
    finally:
        engine.close()
        if http is not None:
            await http.close()
    report["memory"] = memory.entries if request.get("memory") is not None else None
    return report


def main() -> int:
    try:
        request = json.loads(sys.stdin.read())
        if not isinstance(request, dict):
            raise ValueError("the request must be a JSON object")
    except ValueError as error:
        print(
            json.dumps({"ok": False, "error": {"reason": "invalid_request", "message": str(error)}})
        )
        return 2
    report = asyncio.run(run_trial(request))
    sys.stdout.write(json.dumps(report, separators=(",", ":")))
    return 0
