"""The flow's trigger stream, consumed with the consumer group `TRIGGER_GROUP`.

At-least-once: an entry stays pending until the pump acknowledges it after the execution's
final event. A live pump refreshes the idle time of its in-flight entries every second, so an
entry idle for longer than the reclaim threshold belongs to a dead consumer and is taken over.
The `execution_state` marker tells an execution that already finished from one that did not."""

from __future__ import annotations

import logging
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ResponseError

from pump.keys import TRIGGER_GROUP, FlowKeys
from pump.resp import RespConnection, RespError

logger = logging.getLogger("pump.triggers")

Entry = tuple[str, dict[str, str]]
STALE_CONSUMER_IDLE_MS = 3_600_000


class TriggerStream:
    def __init__(
        self,
        client: Redis,
        reader: RespConnection,
        keys: FlowKeys,
        consumer: str,
        reclaim_idle_ms: int,
    ) -> None:
        self._client = client
        self._reader = reader  # a dedicated connection for the blocking XREADGROUP
        self._keys = keys
        self.consumer = consumer
        self._reclaim_idle_ms = reclaim_idle_ms

    async def close(self) -> None:
        await self._reader.close()

    async def ensure_group(self) -> None:
        try:
            await self._client.xgroup_create(
                self._keys.triggers, TRIGGER_GROUP, id="0", mkstream=True
            )
        except ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise

    async def read_new(self, count: int, block_ms: int) -> list[Entry]:
        """Up to `count` new entries, waiting up to `block_ms` for the first. Raises
        ConnectionError when Redis is unreachable (the next call reconnects)."""
        if not self._reader.connected:
            await self._reader.connect()
        command = (
            "XREADGROUP", "GROUP", TRIGGER_GROUP, self.consumer, "COUNT", count,
            "BLOCK", block_ms, "STREAMS", self._keys.triggers, ">",
        )  # fmt: skip
        (reply,) = await self._reader.execute([command])
        if isinstance(reply, RespError):
            if "NOGROUP" not in str(reply):
                raise ResponseError(str(reply))
            await self.ensure_group()  # the stream was deleted under us: start over
            return []
        return _decode_read_reply(reply)

    async def read_own_pending(self, count: int) -> list[Entry]:
        """Entries a previous process with this consumer name received and never acknowledged."""
        response = await self._client.xreadgroup(
            TRIGGER_GROUP, self.consumer, {self._keys.triggers: "0"}, count=count
        )
        return [(entry_id, fields) for entry_id, fields in _entries(response) if fields]

    async def reclaim(self, count: int) -> list[Entry]:
        """Take over up to `count` entries left pending by silent consumers."""
        if count <= 0:
            return []
        response = await self._client.xautoclaim(
            self._keys.triggers,
            TRIGGER_GROUP,
            self.consumer,
            min_idle_time=self._reclaim_idle_ms,
            start_id="0-0",
            count=count,
        )
        claimed = response[1] if len(response) > 1 else []
        return [(entry_id, fields) for entry_id, fields in claimed if fields]

    async def finished(self, execution_ids: list[str]) -> list[str | None]:
        """The recorded final status ("completed"/"failed") of each execution, or None."""
        if not execution_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for execution_id in execution_ids:
            pipe.get(self._keys.execution_state(execution_id))
        return list(await pipe.execute())

    async def deliveries(self, entry_ids: list[str]) -> list[int]:
        """How many times each pending entry was delivered (read or claimed), this time
        included; 0 for an entry that is no longer pending."""
        if not entry_ids:
            return []
        pipe = self._client.pipeline(transaction=False)
        for entry_id in entry_ids:
            pipe.xpending_range(self._keys.triggers, TRIGGER_GROUP, entry_id, entry_id, 1)
        counts: list[int] = []
        for reply in await pipe.execute():
            counts.append(int(reply[0]["times_delivered"]) if reply else 0)
        return counts

    def refresh_command(self, entry_ids: list[str]) -> tuple[Any, ...]:
        """XCLAIM to ourselves with JUSTID: resets the entries' idle time, keeps their count."""
        return (
            "XCLAIM", self._keys.triggers, TRIGGER_GROUP, self.consumer, 0, *entry_ids, "JUSTID",
        )  # fmt: skip

    async def forget_stale_consumers(self) -> None:
        """Drop consumers of dead pumps once they hold nothing (each start is a new consumer)."""
        try:
            consumers = await self._client.xinfo_consumers(self._keys.triggers, TRIGGER_GROUP)
        except ResponseError:
            return
        for consumer in consumers:
            name = str(consumer.get("name", ""))
            if (
                name
                and name != self.consumer
                and int(consumer.get("pending", 0)) == 0
                and int(consumer.get("idle", 0)) > STALE_CONSUMER_IDLE_MS
            ):
                await self._client.xgroup_delconsumer(self._keys.triggers, TRIGGER_GROUP, name)


def _decode_read_reply(reply: Any) -> list[Entry]:
    """RESP2 XREADGROUP reply: [[stream, [[id, [field, value, ...]], ...]]] or nil."""
    entries: list[Entry] = []
    for _stream, items in reply or []:
        for raw_id, raw_fields in items:
            values = [bytes(item).decode() for item in raw_fields or []]
            fields = dict(zip(values[::2], values[1::2], strict=True))
            entries.append((bytes(raw_id).decode(), fields))
    return entries


def _entries(response: Any) -> list[Entry]:
    entries: list[Entry] = []
    for _stream, items in response or []:
        for entry_id, fields in items:
            entries.append((entry_id, fields or {}))
    return entries
