"""Project memory: one Redis hash per flow (`FlowKeys.memory_data`) with a byte counter
(`FlowKeys.memory_bytes`) kept by Lua scripts, so the quota check and the write are atomic.

An entry costs `len(key) + len(value)` bytes (UTF-8 bytes of the field and of its JSON value);
whoever deletes entries outside the pump (the control plane's API) must subtract the same."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from redis.asyncio import Redis

from pump.handlers.base import StepError
from pump.keys import FlowKeys

MAX_KEY_BYTES = 512

SET_SCRIPT = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
local old_size = 0
if old then old_size = string.len(ARGV[1]) + string.len(old) end
local new_size = string.len(ARGV[1]) + string.len(ARGV[2])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local after = used - old_size + new_size
if after > tonumber(ARGV[3]) then return {0, used} end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('SET', KEYS[2], after)
return {1, after}
"""

DELETE_SCRIPT = """
local old = redis.call('HGET', KEYS[1], ARGV[1])
if not old then return 0 end
redis.call('HDEL', KEYS[1], ARGV[1])
local used = tonumber(redis.call('GET', KEYS[2]) or '0')
local after = used - string.len(ARGV[1]) - string.len(old)
if after < 0 then after = 0 end
redis.call('SET', KEYS[2], after)
return 1
"""


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
        stored, used = await self._client.eval(
            SET_SCRIPT,
            2,
            self._keys.memory_data,
            self._keys.memory_bytes,
            field,
            encoded,
            str(self.access.quota_bytes),
        )
        if not stored:
            needed = len(field.encode()) + len(encoded.encode())
            raise StepError(
                "quota_exceeded",
                f"project memory quota exceeded: {used} of {self.access.quota_bytes} bytes used, "
                f"writing {field!r} needs {needed} bytes",
            )
        return int(used)

    async def delete(self, key: Any) -> bool:
        self._require()
        removed = await self._client.eval(
            DELETE_SCRIPT, 2, self._keys.memory_data, self._keys.memory_bytes, self._field(key)
        )
        return bool(removed)
