"""Redis Cluster from the pump's side. Every key of a flow is in one hash slot (pump/keys.py), so
a pump needs one node: the primary serving that slot. It connects to the node it was given
(any node of the cluster) and follows MOVED redirects there, at start and whenever the slot
moves later (failover, resharding): in its redis-py client (`SlotClient`) and in its pipelined
RESP connections (pump/resp.py). On a standalone Redis no redirect ever comes and nothing
changes. The pump needs no cluster command in its ACL (no CLUSTER SLOTS, no COMMAND)."""

from __future__ import annotations

from typing import Any

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MovedError

MAX_REDIRECTS = 5


def moved_target(message: str) -> tuple[str, int] | None:
    """(host, port) of a `MOVED <slot> <host>:<port>` error reply, else None."""
    parts = message.split()
    if len(parts) != 3 or parts[0] != "MOVED":
        return None
    host, _, port = parts[2].rpartition(":")
    if not port.isdigit():
        return None
    return host.strip("[]"), int(port)


class SlotClient(Redis):
    """redis-py's client, pointed at the node serving the flow's slot: a MOVED reply moves the
    connection pool to the node it names and the command is sent again. A node that stops
    answering after a redirect sends the pool back to the first address, which knows where the
    slot went."""

    async def execute_command(self, *args: Any, **options: Any) -> Any:
        for _ in range(MAX_REDIRECTS):
            try:
                return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]
            except MovedError as error:
                await self.move_to(error.host, int(error.port))
            except RedisConnectionError:
                if not await self.move_to(*self._seed()):
                    raise
        return await super().execute_command(*args, **options)  # type: ignore[no-untyped-call]

    async def move_to(self, host: str, port: int) -> bool:
        """Point the pool at `host:port`; False when it points there already."""
        current = self._address()
        if not hasattr(self, "_seed_address"):
            self._seed_address = current
        if current == (host, port):
            return False
        pool = self.connection_pool
        pool.connection_kwargs.update(host=host, port=port)  # connections made from now on
        idle: list[Any] = list(getattr(pool, "_available_connections", []))
        busy: list[Any] = list(getattr(pool, "_in_use_connections", []))
        for connection in idle + busy:  # and the pooled ones, at their next connect
            connection.host, connection.port = host, port
        await pool.disconnect()
        return True

    def _address(self) -> tuple[str, int]:
        kwargs = self.connection_pool.connection_kwargs
        return str(kwargs.get("host", "localhost")), int(kwargs.get("port", 6379))

    def _seed(self) -> tuple[str, int]:
        seed: tuple[str, int] = getattr(self, "_seed_address", self._address())
        return seed
