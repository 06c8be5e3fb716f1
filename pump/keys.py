"""Names shared by the pump and the control plane: the Redis key layout and the pump's
environment contract. The only key builder in the project (DESIGN.md §9)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

TRIGGER_GROUP = "pump"  # consumer group of every flow's trigger stream
LOG_STREAM_MAXLEN = 10_000
HEARTBEAT_TTL_SECONDS = 15
# The "finished" marker of an execution is written with its final event and deleted once the
# trigger entry's XACK is applied; this TTL bounds the markers a crash leaves behind.
EXECUTION_STATE_TTL_SECONDS = 86_400

# Every Redis command the pump sends, for the per-flow ACL user's allowlist (`+<command>` each).
# All keys it names match `FlowKeys.pattern`. Never a scripting command (EVAL, EVALSHA, SCRIPT,
# FUNCTION, FCALL): a script runs inside Redis, and one that loops blocks every tenant. Project
# memory uses WATCH/MULTI/EXEC instead (pump/memory.py).
PUMP_REDIS_COMMANDS: tuple[str, ...] = (
    "ping",
    "client|setname",
    "hello",
    "xreadgroup",
    "xread",
    "xgroup|create",
    "xack",
    "xautoclaim",
    "xclaim",
    "xinfo|consumers",
    "xpending",
    "xgroup|delconsumer",
    "get",
    "xadd",
    "set",
    "del",
    "unlink",
    "exists",
    "expire",
    "hset",
    "hget",
    "rpush",
    "lrange",
    "hdel",
    "watch",
    "unwatch",
    "multi",
    "exec",
    "discard",
)
# Stream lengths the pump writes with (XADD MAXLEN ~); the control plane trims the same streams
# too, since a pump is untrusted and could leave MAXLEN out.
EVENT_STREAM_MAXLEN = 100_000
CONTROL_STREAM_MAXLEN = 1_000
# A pump starting reads control requests this far back (a cancel sent while no pump ran).
CONTROL_LOOKBACK_SECONDS = 600


# Version of the key layout below. 2: the flow id is a Redis Cluster hash tag (`{flow}`), so
# every key of a flow lives in one hash slot; 1 had no braces (control_plane/pumps/keylayout.py
# moves version-1 keys at start-up).
KEY_LAYOUT_VERSION = 2


@dataclass(frozen=True)
class FlowKeys:
    """Every key of one flow: `tenant:<tenant>:flow:{<flow>}:<name>`. The braces make the flow
    id the hash tag, so all of a flow's keys share one slot on Redis Cluster (multi-key
    commands and scripts of one flow work there) and a pump talks to one node only."""

    tenant_id: str
    flow_id: str

    @property
    def prefix(self) -> str:
        return f"tenant:{self.tenant_id}:flow:{{{self.flow_id}}}:"

    @property
    def legacy_prefix(self) -> str:
        """The prefix of key layout 1 (before the hash tag), for the layout migration."""
        return f"tenant:{self.tenant_id}:flow:{self.flow_id}:"

    @property
    def pattern(self) -> str:
        """The ACL key pattern (and SCAN match) covering every key of this flow."""
        return f"{self.prefix}*"

    @property
    def triggers(self) -> str:
        return f"{self.prefix}triggers"

    @property
    def events(self) -> str:
        return f"{self.prefix}events"

    @property
    def logs(self) -> str:
        return f"{self.prefix}logs"

    @property
    def control(self) -> str:
        """Requests from the control plane to the pump (cancel an execution), a capped stream."""
        return f"{self.prefix}control"

    @property
    def heartbeat(self) -> str:
        return f"{self.prefix}pump"

    def buffer(self, execution_id: str) -> str:
        return f"{self.prefix}buffer:{execution_id}"

    def execution_state(self, execution_id: str) -> str:
        """Marker of an execution a pump has finished (for at-least-once redelivery)."""
        return f"{self.prefix}done:{execution_id}"

    @property
    def memory_data(self) -> str:
        """Project memory: one hash, field = memory key, value = JSON."""
        return f"{self.prefix}memory:data"

    @property
    def memory_bytes(self) -> str:
        """Bytes used by project memory (the quota counter)."""
        return f"{self.prefix}memory:bytes"

    @property
    def channel_pattern(self) -> str:
        return f"{self.prefix}*"


FLOW_KEY = re.compile(r"^tenant:(?P<tenant>[^:{}]+):flow:\{(?P<flow>[^:{}]+)\}:(?P<name>.+)$")
LEGACY_FLOW_KEY = re.compile(r"^tenant:(?P<tenant>[^:{}]+):flow:(?P<flow>[^:{}]+):(?P<name>.+)$")


def parse_flow_key(key: str, *, legacy: bool = False) -> tuple[FlowKeys, str] | None:
    """(the flow's keys, the name after the prefix) of a key `FlowKeys` built, e.g.
    `(FlowKeys(t, f), "events")`; None for any other key. `legacy`: parse layout 1 instead."""
    match = (LEGACY_FLOW_KEY if legacy else FLOW_KEY).match(key)
    if match is None:
        return None
    return FlowKeys(match["tenant"], match["flow"]), match["name"]


def acl_username(tenant_id: str, flow_id: str) -> str:
    return f"pump-{tenant_id}-{flow_id}"


class PumpEnv:
    """Environment variables the orchestrator sets and `python -m pump` reads."""

    FLOW_ID = "FLOWPLANE_FLOW_ID"
    TENANT_ID = "FLOWPLANE_TENANT_ID"
    ORGANISM = "FLOWPLANE_ORGANISM"  # base64 of the organism YAML
    REDIS_URL = "FLOWPLANE_REDIS_URL"  # carries the per-flow ACL user's credential
    SECRETS = "FLOWPLANE_SECRETS"  # base64 of a JSON object {name: value}
    MODULES = "FLOWPLANE_MODULES"  # JSON {"<module-id>@<version>": "<sha256>"}
    MODULE_SOURCE = "FLOWPLANE_MODULE_SOURCE"  # directory or http(s) URL holding <sha256>.wasm
    CONCURRENCY = "FLOWPLANE_CONCURRENCY"
    MEMORY_QUOTA_BYTES = "FLOWPLANE_MEMORY_QUOTA_BYTES"  # 0: the tier allows no project memory
    HTTP_ALLOWLIST = (
        "FLOWPLANE_HTTP_ALLOWLIST"  # comma-separated hosts/CIDRs the HTTP handler may reach
    )
    CONSUMER = "FLOWPLANE_CONSUMER"
    WASM_FUEL = "FLOWPLANE_WASM_FUEL"
    WASM_MEMORY_BYTES = "FLOWPLANE_WASM_MEMORY_BYTES"
    WASM_TIMEOUT_SECONDS = "FLOWPLANE_WASM_TIMEOUT_SECONDS"
    # JSON {"<module-id>@<version>": ["http_fetch"]}: capabilities the installer granted a module
    MODULE_GRANTS = "FLOWPLANE_MODULE_GRANTS"
    # JSON {"<module-id>@<version>": ["api.example.com", "*.example.org"]}: the hosts a module's
    # http_fetch may reach (what it declared); a module not listed may reach any public host
    MODULE_HOSTS = "FLOWPLANE_MODULE_HOSTS"
    # seconds a trigger entry must sit unacknowledged with a silent consumer before another pump
    # takes it over (live pumps refresh their in-flight entries every second)
    RECLAIM_IDLE_SECONDS = "FLOWPLANE_RECLAIM_IDLE_SECONDS"
    # deliveries of one trigger entry (its pump died each time before finishing it) after
    # which its execution fails with reason `poison_message` instead of running again
    DELIVERY_LIMIT = "FLOWPLANE_DELIVERY_LIMIT"
    # JSON {"<listing>@<version>": {"signature": "<base64>", "capabilities": {...}}}: the
    # marketplace's Ed25519 signature of each `tool:` module (tool_signature_message) and the
    # capability manifest it signed; a `tool:` module without a valid one is refused
    MODULE_SIGNATURES = "FLOWPLANE_MODULE_SIGNATURES"
    # base64 of the marketplace's raw 32-byte Ed25519 public key
    MARKETPLACE_PUBLIC_KEY = "FLOWPLANE_MARKETPLACE_PUBLIC_KEY"


TOOL_SIGNATURE_DOMAIN = "flowplane marketplace tool v1"


def tool_signature_message(
    listing: str, version: str, sha256: str, capabilities: dict[str, Any]
) -> bytes:
    """What the marketplace signs for a published tool version and the pump verifies before
    it instantiates `tool:<listing>@<version>`: canonical JSON of the listing, version, the
    module's content hash and its capability manifest."""
    document = {
        "domain": TOOL_SIGNATURE_DOMAIN,
        "listing": listing,
        "version": version,
        "sha256": sha256,
        "capabilities": capabilities,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":")).encode("utf-8")
