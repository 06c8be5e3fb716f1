"""A minimal pipelining RESP2 connection for the writer's hot path.

redis-py packs and parses each command through several Python layers (most of the pump's CPU
at a thousand executions a second went there); the writer only needs "send these N commands,
tell me which failed", which this does with one join and one scan of the reply buffer. Every
other command of the pump goes through redis-py."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Sequence
from typing import Any

from redis.asyncio.connection import parse_url

from pump.cluster import MAX_REDIRECTS, moved_target

Reply = bytes | int | str | list[Any] | None
Command = tuple[Any, ...] | bytes


class RespError(Exception):
    """An error reply (`-ERR ...`) to one command."""


class RespConnection:
    def __init__(self, url: str, *, connect_timeout: float = 5.0) -> None:
        self._options = parse_url(url)
        self._seed = (self._options.get("host", "localhost"), self._options.get("port", 6379))
        self._tls = url.startswith("rediss://")
        self._connect_timeout = connect_timeout
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def connect(self) -> None:
        options = self._options
        try:
            async with asyncio.timeout(self._connect_timeout):
                if "path" in options:
                    self._reader, self._writer = await asyncio.open_unix_connection(options["path"])
                else:
                    context = ssl.create_default_context() if self._tls else None
                    self._reader, self._writer = await asyncio.open_connection(
                        options.get("host", "localhost"), options.get("port", 6379), ssl=context
                    )
        except (OSError, TimeoutError):
            # A cluster node we were redirected to is gone: the first address knows where the
            # flow's slot is served now (the caller retries).
            options["host"], options["port"] = self._seed
            raise
        setup: list[Command] = []
        if options.get("password"):
            setup.append(("AUTH", options.get("username") or "default", options["password"]))
        if int(options.get("db") or 0):
            setup.append(("SELECT", int(options["db"])))
        for reply in await self.execute(setup):
            if isinstance(reply, RespError):
                await self.close()
                raise ConnectionError(f"redis refused the connection: {reply}")

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    @property
    def connected(self) -> bool:
        return self._writer is not None and not self._writer.is_closing()

    async def execute(self, commands: Sequence[Command]) -> list[Reply | RespError]:
        """Send all commands in one write, return one reply (or RespError) per command.
        Commands answered with a Redis Cluster MOVED redirect are sent again to the node it
        names (pump/cluster.py). Raises ConnectionError (and drops the connection) when the
        link fails."""
        replies = await self._send(commands)
        for _ in range(MAX_REDIRECTS):
            moved = [
                index
                for index, reply in enumerate(replies)
                if isinstance(reply, RespError) and str(reply).startswith("MOVED ")
            ]
            target = moved_target(str(replies[moved[0]])) if moved else None
            if target is None:
                return replies
            await self.close()
            self._options["host"], self._options["port"] = target
            await self.connect()
            again = await self._send([commands[index] for index in moved])
            for index, reply in zip(moved, again, strict=True):
                replies[index] = reply
        return replies

    async def _send(self, commands: Sequence[Command]) -> list[Reply | RespError]:
        if not commands:
            return []
        if self._reader is None or self._writer is None:
            raise ConnectionError("not connected")
        try:
            self._writer.write(pack_commands(commands))
            await self._writer.drain()
            return await self._read_replies(len(commands))
        except (OSError, asyncio.IncompleteReadError, EOFError) as error:
            await self.close()
            raise ConnectionError(f"redis connection lost: {error}") from error

    async def _read_replies(self, count: int) -> list[Reply | RespError]:
        assert self._reader is not None
        buffer = b""
        position = 0
        replies: list[Reply | RespError] = []
        while len(replies) < count:
            try:
                reply, position = parse_reply(buffer, position)
            except _Incomplete:
                chunk = await self._reader.read(1 << 16)
                if not chunk:
                    raise EOFError("redis closed the connection") from None
                buffer = buffer[position:] + chunk
                position = 0
                continue
            replies.append(reply)
        return replies


def _encode(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    if isinstance(value, int | float):
        return repr(value).encode()
    raise TypeError(f"cannot send {type(value).__name__} to redis")


def pack_commands(commands: Sequence[Command]) -> bytes:
    """RESP arrays of bulk strings; a `bytes` command is already packed (see `bulk`)."""
    parts: list[bytes] = []
    append = parts.append
    for command in commands:
        if type(command) is bytes:
            append(command)
            continue
        append(b"*%d\r\n" % len(command))
        for argument in command:
            data = argument.encode() if type(argument) is str else _encode(argument)
            append(b"$%d\r\n%b\r\n" % (len(data), data))
    return b"".join(parts)


def bulk(argument: Any) -> bytes:
    """One argument packed as a RESP bulk string (to build a pre-packed command)."""
    data = argument.encode() if type(argument) is str else _encode(argument)
    return b"$%d\r\n%b\r\n" % (len(data), data)


class _Incomplete(Exception):
    pass


def parse_reply(buffer: bytes, position: int) -> tuple[Reply | RespError, int]:
    """Parse one reply at `position`; return it and the position after it."""
    end = buffer.find(b"\r\n", position)
    if end < 0:
        raise _Incomplete
    kind = buffer[position : position + 1]
    line = buffer[position + 1 : end]
    after = end + 2
    if kind == b"+":
        return line.decode(), after
    if kind == b":":
        return int(line), after
    if kind == b"-":
        return RespError(line.decode(errors="replace")), after
    if kind == b"$":
        length = int(line)
        if length < 0:
            return None, after
        if len(buffer) < after + length + 2:
            raise _Incomplete
        return buffer[after : after + length], after + length + 2
    if kind == b"*":
        length = int(line)
        if length < 0:
            return None, after
        items: list[Any] = []
        for _ in range(length):
            item, after = parse_reply(buffer, after)
            items.append(item)
        return items, after
    raise ConnectionError(f"unexpected reply type {kind!r} from redis")
