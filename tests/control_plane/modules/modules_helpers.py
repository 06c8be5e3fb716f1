"""Helpers of the module tests: apps with pumps, WAT modules, sources, and the blob store."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import wasmtime
from fastapi import FastAPI

from control_plane.blobs import BlobStore
from control_plane.blobs.local import LocalBlobStore
from control_plane.blobs.s3 import S3BlobStore
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import Account, set_tier, sign_up

S3_BUCKET = "flowplane-modules-test"

# A module written against the SDK: shouts the payload's name, logs, routes by config.
SHOUT_SOURCE = """
import { Value, input, log, respond, INFO } from "flowplane";
export { alloc } from "flowplane";

export function handle(pointer: usize, length: i32): i64 {
  const request = input(pointer, length);
  const name = request.payload.getString("name", "nobody");
  log(INFO, "shouting at " + name);
  return respond(Value.object()
    .set("shout", Value.str(name.toUpperCase() + "!"))
    .set("version", Value.num(1)));
}
"""

# The same module, version 2: a different answer.
SHOUT_SOURCE_V2 = SHOUT_SOURCE.replace("Value.num(1)", "Value.num(2)").replace(
    'toUpperCase() + "!"', 'toUpperCase() + "!!"'
)

# Written against the ABI alone (no SDK): assert/trace/Math.random need no `env` import.
PLAIN_ABI_SOURCE = """
export function alloc(length: i32): usize { return heap.alloc(<usize>max(length, 1)); }

export function handle(pointer: usize, length: i32): i64 {
  assert(length > 0, "empty input");
  trace("input bytes", 1, <f64>length);
  const random = Math.random();
  const text = '{"bytes":' + length.toString() + ',"random_ok":' + (random >= 0 && random < 1 ? "true" : "false") + "}";
  const encoded = String.UTF8.encode(text);
  return (<i64>changetype<usize>(encoded) << 32) | <i64>encoded.byteLength;
}
"""

ECHO_WAT = """
(module
  (memory (export "memory") 1)
  (global $heap (mut i32) (i32.const 1024))
  (func (export "alloc") (param $len i32) (result i32)
    (local $ptr i32)
    (local.set $ptr (global.get $heap))
    (global.set $heap (i32.add (local.get $ptr) (local.get $len)))
    (local.get $ptr))
  (func (export "handle") (param $ptr i32) (param $len i32) (result i64)
    (i64.or (i64.shl (i64.extend_i32_u (local.get $ptr)) (i64.const 32))
            (i64.extend_i32_u (local.get $len)))))
"""


def wasm_of(wat: str) -> bytes:
    return bytes(wasmtime.wat2wasm(wat))


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def modules_settings(settings: Settings, **changes: Any) -> Settings:
    """Background tasks on (reconciler, recorder), short pump timings, loopback allowed."""
    values: dict[str, Any] = {
        "background_tasks": True,
        "recorder_refresh_seconds": 0.2,
        "reconcile_interval_seconds": 0.2,
        "pump_stop_timeout_seconds": 10.0,
        "pump_warm_standby": 0,
        "pump_http_allowlist": "127.0.0.1",
        **changes,
    }
    return settings.model_copy(update=values)


async def pro_account(client: httpx.AsyncClient, app: FastAPI, tier: str = "pro") -> Account:
    account = await sign_up(client)
    await set_tier(app, account.tenant_id, tier)
    return account


async def create_module(
    client: httpx.AsyncClient, account: Account, name: str, **body: Any
) -> httpx.Response:
    return await client.post(
        "/api/modules", json={"name": name, **body}, headers=account.headers, timeout=120
    )


def code_flow_yaml(name: str, reference: str, *, memory: bool = False) -> str:
    return f"""version: 1
organism: {{name: {name}}}
triggers:
  - {{name: run, kind: manual, target: code}}
listeners:
  - name: code
    handler: {reference}
    peers: [done]
    config: {{greeting: hi}}
  - {{name: done, handler: builtin.output}}
memory: {{project: {"true" if memory else "false"}}}
"""


async def stored_blobs(store: BlobStore) -> set[str]:
    """Every blob hash in the store (to check that a refusal stored nothing)."""
    if isinstance(store, LocalBlobStore):
        root = store.root / "sha256"
        return {path.name for path in root.glob("*/*")} if root.exists() else set()
    assert isinstance(store, S3BlobStore)
    prefix = f"{store.prefix}/sha256/" if store.prefix else "sha256/"
    listed = store.client.list_objects_v2(Bucket=store.bucket, Prefix=prefix)
    return {item["Key"].rsplit("/", 1)[1] for item in listed.get("Contents", [])}
