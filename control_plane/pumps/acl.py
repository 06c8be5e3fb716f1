"""Per-flow Redis ACL users: the only credential a pump ever holds.

On every start the orchestrator (re)creates `pump-{tenant}-{flow}` with a fresh random password:

    ACL SETUSER pump-{t}-{f} reset on >{password}
        ~tenant:{t}:flow:{f}:*  resetchannels &tenant:{t}:flow:{f}:*
        -@all +<each command of pump.keys.PUMP_REDIS_COMMANDS>

`reset` drops any previous password, so a predecessor's credential stops working, and its open
connections are closed (CLIENT KILL USER). ACL users are per server: on Redis Cluster every
command here runs on every node (primaries and replicas), so the pump's credential works
wherever its slot is served, after a failover too. Stopping the flow deletes the user, which also
disconnects it. No SCAN, KEYS, FLUSH*, CONFIG, ACL, INFO, MONITOR, (P)SUBSCRIBE or PUBLISH:
key names of other flows cannot even be listed."""

from __future__ import annotations

import re
import secrets
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, cast
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import redis.asyncio as aioredis
from redis.asyncio.cluster import RedisCluster
from redis.exceptions import ResponseError

from pump.keys import PUMP_REDIS_COMMANDS, FlowKeys, acl_username

# Allowed when the server knows them (CLIENT SETINFO arrived in Redis 7.2; redis-py sends it
# on connect and ignores a refusal, but a refusal would fill the ACL LOG).
OPTIONAL_COMMANDS = ("client|setinfo",)
SAFE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class PumpCredentials:
    """Issues and revokes pump credentials with the control plane's admin client."""

    def __init__(
        self, admin: aioredis.Redis, pump_redis_url: str, *, cluster: bool = False
    ) -> None:
        self.admin = admin
        self.pump_redis_url = pump_redis_url
        self.cluster = cluster
        self._optional: tuple[str, ...] | None = None

    def rules(self, tenant_id: str, flow_id: str, password: str) -> list[str]:
        keys = FlowKeys(tenant_id, flow_id)
        commands = list(PUMP_REDIS_COMMANDS)
        if _database_index(self.pump_redis_url) != 0:
            commands.append("select")
        commands += self._optional or ()
        return [
            "reset",
            "on",
            f">{password}",
            f"~{keys.pattern}",
            "resetchannels",
            f"&{keys.channel_pattern}",
            "-@all",
            *(f"+{command}" for command in commands),
        ]

    async def issue(self, tenant_id: str, flow_id: str) -> str:
        """Create or rotate the flow's ACL user; returns the Redis URL the pump connects with."""
        for value in (tenant_id, flow_id):
            if not SAFE_ID.match(value):
                raise ValueError(f"{value!r} cannot be part of a Redis ACL key pattern")
        username = acl_username(tenant_id, flow_id)
        password = secrets.token_urlsafe(32)
        if self._optional is None:
            self._optional = await self._supported_optional_commands()
        await self._on_every_node(
            "ACL", "SETUSER", username, *self.rules(tenant_id, flow_id, password)
        )
        await self._disconnect(username)  # a previous pump of this flow loses its session
        return with_credentials(self.pump_redis_url, username, password)

    async def revoke(self, tenant_id: str, flow_id: str) -> None:
        """Delete the user; Redis closes its connections. Revoking twice is harmless."""
        username = acl_username(tenant_id, flow_id)
        await self._on_every_node("ACL", "DELUSER", username)
        await self._disconnect(username)

    async def exists(self, tenant_id: str, flow_id: str) -> bool:
        """False after a Redis restart without an ACL file (or on a cluster node added since):
        the pump must get a new user."""
        found = await self._on_every_node("ACL", "GETUSER", acl_username(tenant_id, flow_id))
        return all(user is not None for user in found)

    async def _command(self, *args: Any) -> Any:
        return await self.admin.execute_command(*args)  # type: ignore[no-untyped-call]

    async def _on_every_node(self, *args: Any) -> list[Any]:
        return [await run(args) for run in self._nodes()]

    async def _disconnect(self, username: str) -> None:
        for node in self._nodes():
            try:
                await node(["CLIENT", "KILL", "USER", username])
            except ResponseError as error:
                if "no such user" not in str(error).lower():
                    raise

    def _nodes(self) -> list[Callable[[Sequence[Any]], Awaitable[Any]]]:
        """A callable per server that runs one command there."""
        if not self.cluster:
            return [lambda args: self._command(*args)]
        cluster = cast(RedisCluster, self.admin)

        def on(node: Any) -> Callable[[Sequence[Any]], Awaitable[Any]]:
            return lambda args: cluster.execute_command(*args, target_nodes=node)

        return [on(node) for node in cluster.get_nodes()]

    async def _supported_optional_commands(self) -> tuple[str, ...]:
        supported: list[str] = []
        probe = f"flowplane-probe-{secrets.token_hex(6)}"
        for command in OPTIONAL_COMMANDS:
            try:
                await self._on_every_node("ACL", "SETUSER", probe, "reset", f"+{command}")
                supported.append(command)
            except ResponseError:
                continue
        await self._on_every_node("ACL", "DELUSER", probe)
        return tuple(supported)


def with_credentials(url: str, username: str, password: str) -> str:
    """`url` with its credentials replaced (redis://, rediss://, unix://)."""
    parts = urlsplit(url)
    if parts.scheme == "unix":
        query = [
            (key, value)
            for key, value in parse_qsl(parts.query)
            if key not in ("username", "password")
        ]
        query += [("username", username), ("password", password)]
        return f"unix://{parts.path}?{urlencode(query)}"
    host = parts.hostname or "127.0.0.1"
    if ":" in host:
        host = f"[{host}]"
    port = f":{parts.port}" if parts.port else ""
    netloc = f"{quote(username, safe='')}:{quote(password, safe='')}@{host}{port}"
    return urlunsplit(parts._replace(netloc=netloc))


def _database_index(url: str) -> int:
    parts = urlsplit(url)
    path = parts.path.strip("/")
    if parts.scheme != "unix" and path.isdigit():
        return int(path)
    query = dict(parse_qsl(parts.query))
    return int(query["db"]) if query.get("db", "").isdigit() else 0
