"""Project memory: one Redis hash per flow (`FlowKeys.memory_data`) with a byte counter
(`FlowKeys.memory_bytes`), kept in step by optimistic transactions (WATCH both keys, read,
MULTI/EXEC the write; retried when another write got in between), so the quota check and the
write are atomic. No Lua: pump ACL users hold no scripting command (a script would run inside
Redis, where a loop blocks every tenant).

An entry costs `len(key) + len(value)` bytes (UTF-8 bytes of the field and of its JSON value);
whoever deletes entries outside the pump (the control plane's API) must subtract the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import WatchError

from pump.handlers.base import StepError
from pump.keys import FlowKeys

MAX_KEY_BYTES = 512

MAX_WRITE_ATTEMPTS = 50  # optimistic retries when a concurrent write touched the memory


@dataclass(frozen=True)
class MemoryAccess:
    """Whether this flow may use project memory, and if not, the sentence that says why."""

    quota_bytes: int
    refusal: str | None

    @classmethod
    def decide(cls, organism_opted_in: bool, quota_bytes: int) -> MemoryAccess:
        if not organism_opted_in:
            return cls(0, "project memory is off for this flow (set `memory: {project: true}`)")
        if quota_bytes <= 0:
            return cls(0, "project memory is not included in this flow's plan")
        return cls(quota_bytes, None)


class ProjectMemory:
    def __init__(self, client: Redis, keys: FlowKeys, access: MemoryAccess) -> None:
        self._client = client
        self._keys = keys
        self.access = access

    def _require(self) -> None:
        if self.access.refusal is not None:
            raise StepError("memory_disabled", self.access.refusal)

    @staticmethod
    def _field(key: Any) -> str:
        if not isinstance(key, str) or not key:
            raise StepError(
                "invalid_memory_key", f"memory key must be a non-empty string, got {key!r}"
            )
        if len(key.encode()) > MAX_KEY_BYTES:
            raise StepError(
                "invalid_memory_key", f"memory key is longer than {MAX_KEY_BYTES} bytes"
            )
        return key

    async def get(self, key: Any) -> Any:
        self._require()
        raw = await self._client.hget(self._keys.memory_data, self._field(key))
        return None if raw is None else json.loads(raw)

    async def set(self, key: Any, value: Any) -> int:
        """Store `value` (JSON); return the bytes now used. Over quota: StepError `quota_exceeded`."""
        self._require()
        field = self._field(key)
        encoded = json.dumps(value, separators=(",", ":"))
        new_size = len(field.encode()) + len(encoded.encode())
        data, counter = self._keys.memory_data, self._keys.memory_bytes
        async with self._client.pipeline(transaction=True) as pipe:
            for _ in range(MAX_WRITE_ATTEMPTS):
                try:
                    await pipe.watch(data, counter)
                    old = await pipe.hget(data, field)
                    used = _counter(await pipe.get(counter))
                    after = used - _entry_size(field, old) + new_size
                    if after > self.access.quota_bytes:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        raise StepError(
                            "quota_exceeded",
                            f"project memory quota exceeded: {used} of "
                            f"{self.access.quota_bytes} bytes used, writing {field!r} needs "
                            f"{new_size} bytes",
                        )
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hset(data, field, encoded)
                    pipe.set(counter, after)
                    await pipe.execute()
                    return after
                except WatchError:
                    continue
        raise StepError("memory_busy", "project memory is being written too often; try again")

    async def delete(self, key: Any) -> bool:
        self._require()
        field = self._field(key)
        data, counter = self._keys.memory_data, self._keys.memory_bytes
        async with self._client.pipeline(transaction=True) as pipe:
            for _ in range(MAX_WRITE_ATTEMPTS):
                try:
                    await pipe.watch(data, counter)
                    old = await pipe.hget(data, field)
                    if old is None:
                        await pipe.reset()  # type: ignore[no-untyped-call]
                        return False
                    after = max(0, _counter(await pipe.get(counter)) - _entry_size(field, old))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.hdel(data, field)
                    pipe.set(counter, after)
                    await pipe.execute()
                    return True
                except WatchError:
                    continue
        raise StepError("memory_busy", "project memory is being written too often; try again")


def _entry_size(field: str, stored: str | bytes | None) -> int:
    if stored is None:
        return 0
    value = stored if isinstance(stored, bytes) else stored.encode()
    return len(field.encode()) + len(value)


def _counter(raw: str | bytes | None) -> int:
    try:
        return max(0, int(raw or 0))
    except ValueError:
        return 0
