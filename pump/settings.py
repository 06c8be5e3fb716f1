"""The pump's configuration, read once from the environment contract of `pump.keys.PumpEnv`."""

from __future__ import annotations

import base64
import binascii
import json
import os
import socket
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from pump.keys import PumpEnv

DEFAULT_CONCURRENCY = 128
DEFAULT_WASM_FUEL = 500_000_000
DEFAULT_WASM_MEMORY_BYTES = 64 * 1024 * 1024
DEFAULT_WASM_TIMEOUT_SECONDS = 5.0
DEFAULT_RECLAIM_IDLE_SECONDS = 5.0
DEFAULT_DELIVERY_LIMIT = 3
KNOWN_GRANTS = frozenset({"http_fetch"})
Number = TypeVar("Number", int, float)


class SettingsError(ValueError):
    """A malformed environment variable; the message names it."""


@dataclass(frozen=True)
class PumpSettings:
    tenant_id: str
    flow_id: str
    organism_yaml: str
    redis_url: str
    secrets: dict[str, str] = field(default_factory=dict)
    modules: dict[str, str] = field(default_factory=dict)  # "<id>@<version>" -> sha256
    module_source: str | None = None
    module_grants: dict[str, frozenset[str]] = field(default_factory=dict)
    module_hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)
    # "<listing>@<version>" -> {"signature", "capabilities"} of `tool:` modules (signatures.py)
    module_signatures: dict[str, dict[str, Any]] = field(default_factory=dict)
    marketplace_public_key: str = ""
    concurrency: int = DEFAULT_CONCURRENCY
    memory_quota_bytes: int = 0
    http_allowlist: tuple[str, ...] = ()
    consumer: str = ""
    wasm_fuel: int = DEFAULT_WASM_FUEL
    wasm_memory_bytes: int = DEFAULT_WASM_MEMORY_BYTES
    wasm_timeout_seconds: float = DEFAULT_WASM_TIMEOUT_SECONDS
    reclaim_idle_seconds: float = DEFAULT_RECLAIM_IDLE_SECONDS
    delivery_limit: int = DEFAULT_DELIVERY_LIMIT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> PumpSettings:
        env = os.environ if environ is None else environ
        return cls(
            tenant_id=_required(env, PumpEnv.TENANT_ID),
            flow_id=_required(env, PumpEnv.FLOW_ID),
            organism_yaml=_base64_text(env, PumpEnv.ORGANISM, required=True),
            redis_url=_required(env, PumpEnv.REDIS_URL),
            secrets=_secrets(env),
            modules=_string_map(env, PumpEnv.MODULES),
            module_source=env.get(PumpEnv.MODULE_SOURCE) or None,
            module_grants=_grants(env),
            module_hosts=_hosts(env),
            module_signatures=_signatures(env),
            marketplace_public_key=env.get(PumpEnv.MARKETPLACE_PUBLIC_KEY, "").strip(),
            concurrency=_number(env, PumpEnv.CONCURRENCY, DEFAULT_CONCURRENCY, int, minimum=1),
            memory_quota_bytes=_number(env, PumpEnv.MEMORY_QUOTA_BYTES, 0, int, minimum=0),
            http_allowlist=_csv(env.get(PumpEnv.HTTP_ALLOWLIST, "")),
            consumer=env.get(PumpEnv.CONSUMER) or default_consumer_name(),
            wasm_fuel=_number(env, PumpEnv.WASM_FUEL, DEFAULT_WASM_FUEL, int, minimum=1),
            wasm_memory_bytes=_number(
                env, PumpEnv.WASM_MEMORY_BYTES, DEFAULT_WASM_MEMORY_BYTES, int, minimum=65536
            ),
            wasm_timeout_seconds=_number(
                env, PumpEnv.WASM_TIMEOUT_SECONDS, DEFAULT_WASM_TIMEOUT_SECONDS, float, minimum=0.01
            ),
            reclaim_idle_seconds=_number(
                env, PumpEnv.RECLAIM_IDLE_SECONDS, DEFAULT_RECLAIM_IDLE_SECONDS, float, minimum=0.1
            ),
            delivery_limit=_number(
                env, PumpEnv.DELIVERY_LIMIT, DEFAULT_DELIVERY_LIMIT, int, minimum=1
            ),
        )


def default_consumer_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise SettingsError(f"{name} is required")
    return value


def _base64_text(env: Mapping[str, str], name: str, *, required: bool) -> str:
    raw = _required(env, name) if required else env.get(name, "").strip()
    if not raw:
        return ""
    try:
        return base64.b64decode(raw, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise SettingsError(f"{name} is not base64 of UTF-8 text: {error}") from error


def _json(text: str, name: str) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise SettingsError(f"{name} is not valid JSON: {error}") from error


def _secrets(env: Mapping[str, str]) -> dict[str, str]:
    text = _base64_text(env, PumpEnv.SECRETS, required=False)
    if not text:
        return {}
    value = _json(text, PumpEnv.SECRETS)
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise SettingsError(f"{PumpEnv.SECRETS} must be a JSON object of strings")
    return {str(key): str(item) for key, item in value.items()}


def _string_map(env: Mapping[str, str], name: str) -> dict[str, str]:
    text = env.get(name, "").strip()
    if not text:
        return {}
    value = _json(text, name)
    if not isinstance(value, dict) or not all(isinstance(item, str) for item in value.values()):
        raise SettingsError(f'{name} must be a JSON object {{"<id>@<version>": "<sha256>"}}')
    return {str(key): str(item).lower() for key, item in value.items()}


def _grants(env: Mapping[str, str]) -> dict[str, frozenset[str]]:
    text = env.get(PumpEnv.MODULE_GRANTS, "").strip()
    if not text:
        return {}
    value = _json(text, PumpEnv.MODULE_GRANTS)
    if not isinstance(value, dict):
        raise SettingsError(f"{PumpEnv.MODULE_GRANTS} must be a JSON object")
    grants: dict[str, frozenset[str]] = {}
    for key, items in value.items():
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise SettingsError(f"{PumpEnv.MODULE_GRANTS}[{key!r}] must be a list of strings")
        unknown = sorted(set(items) - KNOWN_GRANTS)
        if unknown:
            raise SettingsError(
                f"{PumpEnv.MODULE_GRANTS}[{key!r}] names unknown capabilities {unknown}; "
                f"known: {sorted(KNOWN_GRANTS)}"
            )
        grants[str(key)] = frozenset(items)
    return grants


def _hosts(env: Mapping[str, str]) -> dict[str, tuple[str, ...]]:
    text = env.get(PumpEnv.MODULE_HOSTS, "").strip()
    if not text:
        return {}
    value = _json(text, PumpEnv.MODULE_HOSTS)
    if not isinstance(value, dict):
        raise SettingsError(f"{PumpEnv.MODULE_HOSTS} must be a JSON object")
    hosts: dict[str, tuple[str, ...]] = {}
    for key, items in value.items():
        if not isinstance(items, list) or not all(isinstance(item, str) for item in items):
            raise SettingsError(f"{PumpEnv.MODULE_HOSTS}[{key!r}] must be a list of host names")
        hosts[str(key)] = tuple(items)
    return hosts


def _signatures(env: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    text = env.get(PumpEnv.MODULE_SIGNATURES, "").strip()
    if not text:
        return {}
    value = _json(text, PumpEnv.MODULE_SIGNATURES)
    if not isinstance(value, dict) or not all(isinstance(item, dict) for item in value.values()):
        raise SettingsError(
            f'{PumpEnv.MODULE_SIGNATURES} must be a JSON object {{"<listing>@<version>": '
            '{"signature": ..., "capabilities": {...}}}'
        )
    return {str(key): dict(item) for key, item in value.items()}


def _number(
    env: Mapping[str, str], name: str, default: Number, kind: type[Number], *, minimum: Number
) -> Number:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = kind(raw)
    except ValueError as error:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from error
    if value < minimum:
        raise SettingsError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _csv(raw: str) -> tuple[str, ...]:
    return tuple(item.strip() for item in raw.split(",") if item.strip())
