"""Hole 5 and the secret part of hole 7: what a flow can make its pump's HTTP client reach and
leak. Each test runs the real handlers in a pump engine (the same code a pump runs)."""

from __future__ import annotations

import json
import socket
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult

from pump.handlers.base import StepError
from pump.netguard import AddressPolicy, BlockedAddressError, GuardedHttpClient
from pump.templating import REDACTED
from tests.pump.pump_testkit import in_process, serve

HEADER = """
version: 1
organism: {name: egress-probe}
triggers: [{name: run, kind: manual, target: call}]
"""

# IPv6 spellings of private IPv4 targets (loopback, RFC 1918, cloud metadata).
HIDDEN_PRIVATE = [
    "64:ff9b::7f00:1",  # NAT64 well-known prefix -> 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 -> 169.254.169.254 (cloud metadata)
    "64:ff9b:1::a00:1",  # local-use NAT64 prefix, never global
    "2002:7f00:1::",  # 6to4 -> 127.0.0.1
    "2002:a00:1::1",  # 6to4 -> 10.0.0.1
    "::7f00:1",  # IPv4-compatible -> 127.0.0.1
    "::c0a8:101",  # IPv4-compatible -> 192.168.1.1
    "::ffff:0:7f00:1",  # IPv4-translated (::ffff:0:0:0/96) -> 127.0.0.1
    "::ffff:0:a9fe:a9fe",  # IPv4-translated -> 169.254.169.254
    "::ffff:7f00:1",  # IPv4-mapped -> 127.0.0.1
]


@pytest.mark.parametrize("address", HIDDEN_PRIVATE)
async def test_ipv6_forms_of_private_addresses_are_refused(redis_url: str, address: str) -> None:
    organism = (
        HEADER
        + f"""
listeners:
  - {{name: call, handler: builtin.http, config: {{url: "http://[{address}]:9/admin"}}}}
"""
    )
    async with in_process(redis_url, organism, http_allowlist=()) as flow:
        result = await flow.run({})
    failed = result.of("step.failed")[0].data
    assert failed["reason"] == "blocked_address", failed
    assert "private, loopback, link-local or reserved" in failed["error"]


class HostileDns(AbstractResolver):
    """A DNS answer an attacker controls: the name resolves to a hidden private address."""

    def __init__(self, address: str) -> None:
        self.address = address

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            {"hostname": host, "host": self.address, "port": port, "family": socket.AF_INET6,
             "proto": 0, "flags": 0}
        ]  # fmt: skip

    async def close(self) -> None:
        return None


@pytest.mark.parametrize("address", HIDDEN_PRIVATE)
async def test_a_name_resolving_to_those_forms_is_refused(address: str) -> None:
    client = GuardedHttpClient((), resolver=HostileDns(address))
    try:
        with pytest.raises(StepError) as refused:
            await client.request("GET", "http://rebind.attacker.example/", timeout_seconds=5)
    finally:
        await client.close()
    assert refused.value.reason == "blocked_address"


def test_public_addresses_in_those_forms_stay_reachable() -> None:
    policy = AddressPolicy()
    for address in ("64:ff9b::808:808", "2002:808:808::1", "2606:4700::1111", "::ffff:808:808"):
        policy.check_address(address, "public.example")
    with pytest.raises(BlockedAddressError):
        policy.check_address("::1", "localhost")
    assert AddressPolicy(["127.0.0.0/8"]).check_address("64:ff9b::7f00:1", "allowed") is None


async def test_a_redirect_to_another_origin_drops_every_header_carrying_a_secret(
    redis_url: str,
) -> None:
    seen: list[dict[str, str]] = []

    async def landing(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({})

    async with serve([web.get("/landing", landing)]) as attacker:

        async def bounce(_: web.Request) -> web.Response:
            raise web.HTTPFound(f"{attacker.url}/landing")

        async with serve([web.get("/bounce", bounce), web.get("/landing", landing)]) as trusted:
            organism = (
                HEADER
                + f"""
listeners:
  - name: call
    handler: builtin.http
    config:
      url: "{trusted.url}/bounce"
      headers:
        X-Auth-Token: "${{secrets.TOKEN}}"
        Private-Token: "glpat ${{secrets.GITLAB}}"
        X-Custom-Signature: "v1=${{secrets.TINY}}x"
        X-Trace: keep-me
"""
            )
            secrets = {"TOKEN": "tok-4f1c", "GITLAB": "glpat-9x", "TINY": "zq"}
            async with in_process(redis_url, organism, secrets=secrets) as flow:
                result = await flow.run({})
    assert result.outcome.status == "completed", result.outcome.error
    [landed] = seen
    forwarded = {name.lower() for name in landed}
    assert not {"x-auth-token", "private-token", "x-custom-signature"} & forwarded
    assert landed["X-Trace"] == "keep-me"


async def test_secrets_of_any_length_never_reach_the_events_stream(
    redis_url: str,
) -> None:
    async def echo(request: web.Request) -> web.Response:
        return web.json_response({"you_sent": request.headers.get("X-Key")}, status=500)

    async with serve([web.get("/echo", echo)]) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: call
    handler: builtin.http
    peers: [fail]
    config: {{url: "{server.url}/echo", headers: {{X-Key: "${{secrets.K}}"}}}}
  - name: fail
    handler: builtin.http
    config: {{url: "ftp://files.example/${{secrets.K}}/${{secrets.TWO}}"}}
"""
        )
        async with in_process(redis_url, organism, secrets={"K": "q7z", "TWO": "w9"}) as flow:
            result = await flow.run({"note": "caller wrote q7z too"})
            stored: list[Any] = [fields for _, fields in await flow.client.xrange(flow.keys.events)]
    text = json.dumps(stored)
    assert result.outcome.status == "failed"
    assert "q7z" not in text and "w9" not in text
    assert REDACTED in text
    failed = result.of("step.failed")[0].data
    assert failed["error"].count(REDACTED) == 2
