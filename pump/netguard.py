"""The pump's one outbound HTTP client (builtin.http, builtin.llm, the WASM `http_fetch` import).

It refuses private, loopback, link-local, multicast and otherwise non-global addresses unless
the operator allow-listed the host or a CIDR (`FLOWPLANE_PUMP_HTTP_ALLOWLIST` on the control
plane, handed to the pump as `FLOWPLANE_HTTP_ALLOWLIST`). An IPv6 address that
carries an IPv4 one (IPv4-mapped `::ffff:0:0/96`, IPv4-translated `::ffff:0:0:0/96`,
IPv4-compatible `::/96`, NAT64 `64:ff9b::/96`, 6to4 `2002::/16`) is judged by the IPv4 address
inside it, because that is where a translator or relay delivers it; local-use NAT64
(`64:ff9b:1::/48`) is never global. Names are checked
after DNS resolution, every address of them, inside the connector's resolver, so the address
that was checked is the address that is dialled; redirects are followed by hand so each hop is
checked too; on a redirect to another origin every header that carries one of the flow's secret
values (or a credential header) is dropped. Responses are capped in size and time."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import socket
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver
from yarl import URL

from pump.handlers.base import StepError

MAX_RESPONSE_BYTES = 1024 * 1024
MAX_REDIRECTS = 5
MAX_KEPT_VERDICTS = 1024
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CREDENTIAL_HEADERS = frozenset(
    {"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"}
)
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
NAT64_WELL_KNOWN = ipaddress.ip_network("64:ff9b::/96")
NAT64_LOCAL_USE = ipaddress.ip_network("64:ff9b:1::/48")
IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address delivers to, for the forms that embed one."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in NAT64_WELL_KNOWN or address in IPV4_TRANSLATED or address in IPV4_COMPATIBLE:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    return None


class BlockedAddressError(Exception):
    """Deliberately not an OSError, so aiohttp passes it through unwrapped."""


class AddressPolicy:
    def __init__(self, allowlist: Iterable[str] = ()) -> None:
        self._verdicts: dict[str, str] = {}  # check_url_host's, by host
        self.hosts: set[str] = set()
        self.suffixes: list[str] = []
        self.networks: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = []
        for raw in allowlist:
            entry = raw.strip().lower()
            if not entry:
                continue
            try:
                self.networks.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            if entry.startswith("*."):
                self.suffixes.append(entry[1:])
            else:
                self.hosts.add(entry.rstrip("."))

    def host_allowed(self, host: str) -> bool:
        name = host.lower().rstrip(".")
        return name in self.hosts or any(name.endswith(suffix) for suffix in self.suffixes)

    def check_address(self, address: str, host: str) -> None:
        try:
            parsed: IPAddress = ipaddress.ip_address(address.split("%", 1)[0])
        except ValueError as error:
            raise BlockedAddressError(
                f"{host!r} resolved to an invalid address {address!r}"
            ) from error
        judged: IPAddress = parsed
        if isinstance(parsed, ipaddress.IPv6Address):
            judged = embedded_ipv4(parsed) or parsed
        if any(judged in network or parsed in network for network in self.networks):
            return
        local_nat64 = isinstance(parsed, ipaddress.IPv6Address) and parsed in NAT64_LOCAL_USE
        if judged.is_global and not judged.is_multicast and not local_nat64:
            return
        shown = f"{parsed} (IPv4 {judged})" if judged is not parsed else str(parsed)
        raise BlockedAddressError(
            f"refusing to connect to {host!r}: address {shown} is private, loopback, link-local "
            "or reserved (an operator can allow it with FLOWPLANE_PUMP_HTTP_ALLOWLIST on the "
            "control plane)"
        )

    def check_url_host(self, host: str) -> None:
        """IP literals never reach the resolver, so they are checked here. The verdict is
        kept per host: the policy never changes, and parsing the address on every request cost
        a fast HTTP step a few per cent."""
        verdict = self._verdicts.get(host)
        if verdict is None:
            verdict = self._url_host_verdict(host)
            if len(self._verdicts) >= MAX_KEPT_VERDICTS:
                self._verdicts.clear()
            self._verdicts[host] = verdict
        if verdict:
            raise BlockedAddressError(verdict)

    def _url_host_verdict(self, host: str) -> str:
        """Empty when allowed here, else why not."""
        if self.host_allowed(host):
            return ""
        try:
            ipaddress.ip_address(host.strip("[]").split("%", 1)[0])
        except ValueError:
            return ""  # a name: checked by GuardedResolver after resolution
        try:
            self.check_address(host.strip("[]"), host)
        except BlockedAddressError as blocked:
            return str(blocked)
        return ""


class HostScope:
    """The hosts a WASM module declared for `http_fetch` (`api.example.com`, `*.example.org`,
    or `*` for any public host); checked on every hop, redirects included."""

    def __init__(self, hosts: Iterable[str]) -> None:
        self.hosts = tuple(host.strip().lower().rstrip(".") for host in hosts if host.strip())
        self._any = "*" in self.hosts
        self._exact = {host for host in self.hosts if not host.startswith("*")}
        self._suffixes = tuple(host[1:] for host in self.hosts if host.startswith("*."))

    def allows(self, host: str) -> bool:
        name = host.lower().strip("[]").rstrip(".")
        return self._any or name in self._exact or name.endswith(self._suffixes)

    def check(self, host: str) -> None:
        if not self.allows(host):
            raise StepError(
                "host_not_declared",
                f"{host!r} is not among the hosts the module declared for http_fetch "
                f"({', '.join(self.hosts) or 'none'})",
            )


class GuardedResolver(AbstractResolver):
    def __init__(self, policy: AddressPolicy, inner: AbstractResolver | None = None) -> None:
        self._policy = policy
        self._inner = inner or ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        results = await self._inner.resolve(host, port, family)
        if not self._policy.host_allowed(host):
            for result in results:
                self._policy.check_address(result["host"], host)
        return results

    async def close(self) -> None:
        await self._inner.close()


@dataclass(slots=True)
class HttpResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    content_type: str

    def as_payload(self) -> dict[str, Any]:
        """`{status, headers, json}` for JSON responses, else `{status, headers, body}`."""
        result: dict[str, Any] = {"status": self.status, "headers": self.headers}
        text = self.body.decode("utf-8", errors="replace")
        if "json" in self.content_type and text.strip():
            try:
                result["json"] = json.loads(text)
                return result
            except ValueError:
                pass
        result["body"] = text
        return result


class GuardedHttpClient:
    """One shared aiohttp session (connection pool) per pump."""

    def __init__(
        self,
        allowlist: Iterable[str] = (),
        *,
        pool_size: int = 100,
        secret_values: Iterable[str] = (),
        resolver: AbstractResolver | None = None,
    ) -> None:
        self.policy = AddressPolicy(allowlist)
        self.secret_values = tuple(value for value in secret_values if value)
        connector = aiohttp.TCPConnector(
            limit=pool_size, resolver=GuardedResolver(self.policy, resolver), ttl_dns_cache=30
        )
        self._session = aiohttp.ClientSession(
            connector=connector,
            trust_env=False,
            headers={"User-Agent": "flowplane-pump"},
            # `request` bounds every call with its own deadline; aiohttp's would be a second
            # timer per request
            timeout=aiohttp.ClientTimeout(),
        )

    async def close(self) -> None:
        await self._session.close()

    async def request(
        self,
        method: str,
        url: str,
        *,
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        body: str | bytes | None = None,
        timeout_seconds: float = 30,
        max_bytes: int = MAX_RESPONSE_BYTES,
        scope: HostScope | None = None,
    ) -> HttpResponse:
        """Raise StepError with reason `blocked_address`, `timeout`, `response_too_large`,
        `invalid_url`, `host_not_declared` (outside `scope`) or `http_error`; a non-2xx status
        is a response, not an error."""
        try:
            async with asyncio.timeout(timeout_seconds):
                return await self._follow(
                    method.upper(), url, dict(headers or {}), json_body, body, max_bytes, scope
                )
        except TimeoutError:
            raise StepError(
                "timeout", f"{method} {url} took longer than {timeout_seconds:g} s"
            ) from None
        except BlockedAddressError as error:
            raise StepError("blocked_address", str(error)) from None
        except aiohttp.ClientError as error:
            raise StepError(
                "http_error", f"{method} {url} failed: {error or type(error).__name__}"
            ) from None

    async def _follow(
        self,
        method: str,
        url: str,
        headers: dict[str, str],
        json_body: Any,
        body: str | bytes | None,
        max_bytes: int,
        scope: HostScope | None = None,
    ) -> HttpResponse:
        target = _parse_url(url)
        for _ in range(MAX_REDIRECTS + 1):
            if scope is not None:
                scope.check(target.host or "")
            self.policy.check_url_host(target.host or "")
            async with self._session.request(
                method, target, headers=headers, json=json_body, data=body, allow_redirects=False
            ) as response:
                location = response.headers.get("Location")
                if response.status in REDIRECT_STATUSES and location:
                    origin = target.origin()
                    target = _parse_url(str(response.url.join(URL(location))))
                    if target.origin() != origin:  # credentials stay with their origin
                        headers = {
                            name: value
                            for name, value in headers.items()
                            if not self._carries_credential(name, value)
                        }
                    if response.status == 303 or (
                        response.status in (301, 302) and method not in ("GET", "HEAD")
                    ):
                        method, json_body, body = "GET", None, None
                    continue
                payload = await _read_capped(response, max_bytes)
                return HttpResponse(
                    status=response.status,
                    # plain str names (aiohttp's are multidict.istr, which orjson refuses as keys)
                    headers={str(name): value for name, value in response.headers.items()},
                    body=payload,
                    content_type=response.content_type or "",
                )
        raise StepError("http_error", f"{url} redirected more than {MAX_REDIRECTS} times")

    def _carries_credential(self, name: str, value: str) -> bool:
        """A credential header, or any header whose value holds one of the flow's secrets."""
        if name.lower() in CREDENTIAL_HEADERS:
            return True
        return any(secret in value for secret in self.secret_values)


def _parse_url(url: str) -> URL:
    try:
        parsed = URL(url)
    except (ValueError, TypeError) as error:
        raise StepError("invalid_url", f"invalid URL {url!r}: {error}") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise StepError("invalid_url", f"URL {url!r} must be absolute http(s)")
    return parsed


async def _read_capped(response: aiohttp.ClientResponse, max_bytes: int) -> bytes:
    declared = response.content_length
    if declared is not None and declared > max_bytes:
        raise StepError(
            "response_too_large", f"response of {declared} bytes exceeds the {max_bytes}-byte cap"
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in response.content.iter_chunked(65536):
        size += len(chunk)
        if size > max_bytes:
            raise StepError("response_too_large", f"response exceeds the {max_bytes}-byte cap")
        chunks.append(chunk)
    return b"".join(chunks)
