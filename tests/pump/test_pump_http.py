"""builtin.http and the guarded client: templates, pooling, refused addresses, caps."""

from __future__ import annotations

import asyncio
import socket

import pytest
from aiohttp import web
from pump_testkit import in_process, serve

from pump.handlers.base import StepError
from pump.netguard import (
    MAX_KEPT_VERDICTS,
    AddressPolicy,
    BlockedAddressError,
    GuardedHttpClient,
)

HEADER = """
version: 1
organism: {name: http-test}
triggers: [{name: run, kind: manual, target: call}]
"""


async def _hook(request: web.Request) -> web.Response:
    return web.json_response({"got": await request.json(), "auth": request.headers.get("X-Auth")})


async def _text(_: web.Request) -> web.Response:
    return web.Response(text="plain words", status=202)


async def _big(_: web.Request) -> web.Response:
    return web.Response(body=b"x" * (2 * 1024 * 1024))


async def _redirect_to_metadata(_: web.Request) -> web.Response:
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data")


async def _redirect_home(_: web.Request) -> web.Response:
    raise web.HTTPFound("/text")


ROUTES = [
    web.post("/hook", _hook),
    web.get("/text", _text),
    web.get("/big", _big),
    web.get("/to-metadata", _redirect_to_metadata),
    web.get("/home", _redirect_home),
]


async def test_post_renders_url_headers_and_json_templates(redis_url: str) -> None:
    async with serve(ROUTES) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - name: call
    handler: builtin.http
    peers: [done]
    config:
      method: POST
      url: "{server.url}/{{{{ payload.path }}}}"
      headers: {{X-Auth: "${{secrets.HOOK_TOKEN}}"}}
      json: {{ticket: "{{{{ payload.ticket }}}}", execution: "{{{{ execution.id }}}}"}}
  - {{name: done, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism, secrets={"HOOK_TOKEN": "tok-123"}) as flow:
            result = await flow.run({"path": "hook", "ticket": {"id": 9}})
    assert result.outcome.status == "completed", result.outcome.error
    (output,) = result.outcome.outputs
    assert output["status"] == 200
    assert output["json"] == {
        "got": {"ticket": {"id": 9}, "execution": result.outcome.execution_id},
        "auth": "tok-123",
    }
    assert output["headers"]["Content-Type"].startswith("application/json")
    # plain str names (not multidict's istr), so the event carrying them is written by orjson
    assert {type(name) for name in output["headers"]} == {str}


async def test_credentials_are_not_forwarded_to_another_origin_on_redirect() -> None:
    seen: list[dict[str, str]] = []

    async def landing(request: web.Request) -> web.Response:
        seen.append(dict(request.headers))
        return web.json_response({})

    async with serve([web.get("/landing", landing)]) as other:

        async def bounce(_: web.Request) -> web.Response:
            raise web.HTTPFound(f"{other.url}/landing".replace("127.0.0.1", "localhost"))

        async with serve([web.get("/bounce", bounce)]) as first:
            client = GuardedHttpClient(["127.0.0.1", "localhost"])
            try:
                response = await client.request(
                    "GET",
                    f"{first.url}/bounce",
                    headers={"Authorization": "Bearer secret", "X-Trace": "keep"},
                )
            finally:
                await client.close()
    assert response.status == 200
    assert "Authorization" not in seen[0]
    assert seen[0]["X-Trace"] == "keep"


async def test_text_responses_and_redirects_within_the_allowlist(redis_url: str) -> None:
    async with serve(ROUTES) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - {{name: call, handler: builtin.http, peers: [done], config: {{url: "{server.url}/home"}}}}
  - {{name: done, handler: builtin.output}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({})
    (output,) = result.outcome.outputs
    assert output["status"] == 202
    assert output["body"] == "plain words"
    assert [r["path"] for r in server.requests] == ["/home", "/text"]


@pytest.mark.parametrize(
    ("path", "reason", "fragment"),
    [
        ("/big", "response_too_large", "1048576-byte cap"),
        ("/to-metadata", "blocked_address", "169.254.169.254"),
    ],
)
async def test_oversized_responses_and_redirects_to_private_addresses_fail(
    redis_url: str, path: str, reason: str, fragment: str
) -> None:
    async with serve(ROUTES) as server:
        organism = (
            HEADER
            + f"""
listeners:
  - {{name: call, handler: builtin.http, config: {{url: "{server.url}{path}"}}}}
"""
        )
        async with in_process(redis_url, organism) as flow:
            result = await flow.run({})
    failed = result.of("step.failed")[0].data
    assert failed["reason"] == reason
    assert fragment in failed["error"]


async def test_loopback_is_refused_unless_allow_listed(redis_url: str) -> None:
    async with serve(ROUTES) as server:
        for url in (f"{server.url}/text", server.url.replace("127.0.0.1", "localhost") + "/text"):
            organism = (
                HEADER
                + f"""
listeners:
  - {{name: call, handler: builtin.http, config: {{url: "{url}"}}}}
"""
            )
            async with in_process(redis_url, organism, http_allowlist=()) as flow:
                result = await flow.run({})
            failed = result.of("step.failed")[0].data
            assert failed["reason"] == "blocked_address", url
            assert "FLOWPLANE_PUMP_HTTP_ALLOWLIST" in failed["error"]
    assert server.requests == []


async def test_connection_failures_and_timeouts_have_named_reasons() -> None:
    client = GuardedHttpClient(["127.0.0.1"])
    try:
        with socket.socket() as unused:
            unused.bind(("127.0.0.1", 0))
            port = unused.getsockname()[1]
        with pytest.raises(StepError) as refused:
            await client.request("GET", f"http://127.0.0.1:{port}/")
        assert refused.value.reason == "http_error"

        async def slow(_: web.Request) -> web.Response:
            await asyncio.sleep(2)
            return web.Response()

        async with serve([web.get("/slow", slow)]) as server:
            with pytest.raises(StepError) as timed_out:
                await client.request("GET", f"{server.url}/slow", timeout_seconds=0.2)
        assert timed_out.value.reason == "timeout"
        for bad in ("ftp://example.com/x", "/relative", "http://"):
            with pytest.raises(StepError) as invalid:
                await client.request("GET", bad)
            assert invalid.value.reason == "invalid_url"
    finally:
        await client.close()


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
        "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1",
    ],
)  # fmt: skip
def test_policy_refuses_non_global_addresses(address: str) -> None:
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_address(address, "host")


def test_policy_allows_global_addresses_and_allow_listed_hosts_and_networks() -> None:
    AddressPolicy().check_address("93.184.216.34", "example.com")
    AddressPolicy().check_address("2606:2800:220:1::1", "example.com")
    policy = AddressPolicy(["10.0.0.0/8", "hooks.internal", "*.corp.example", "::1"])
    policy.check_address("10.9.8.7", "anything")
    policy.check_address("::1", "localhost")
    assert policy.host_allowed("HOOKS.internal")
    assert policy.host_allowed("api.corp.example")
    assert not policy.host_allowed("corp.example.evil")
    with pytest.raises(BlockedAddressError):
        policy.check_address("192.168.0.1", "other")
    policy.check_url_host("hooks.internal")
    with pytest.raises(BlockedAddressError):
        AddressPolicy().check_url_host("[::1]")


def test_url_host_verdicts_are_kept_per_host_within_a_bound() -> None:
    policy = AddressPolicy(["10.0.0.0/8"])
    for _ in range(2):  # the second verdict comes from what the first one kept
        with pytest.raises(BlockedAddressError, match=r"'127\.0\.0\.1'"):
            policy.check_url_host("127.0.0.1")
        policy.check_url_host("10.1.2.3")
        policy.check_url_host("example.com")
    for number in range(MAX_KEPT_VERDICTS + 5):
        policy.check_url_host(f"host{number}.example")
    assert len(policy._verdicts) <= MAX_KEPT_VERDICTS
    with pytest.raises(BlockedAddressError):
        policy.check_url_host("127.0.0.1")
