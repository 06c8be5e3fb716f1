"""Helpers of the marketplace tests: a tool module importing http_fetch, publishing, flows."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.control_plane.accounts.accounts_helpers import Account
from tests.control_plane.modules.modules_helpers import (
    ECHO_WAT,
    b64,
    create_module,
    pro_account,
    wasm_of,
)

# The echo module (answers its input document) importing flowplane.http_fetch: it needs the
# capability, so the pump refuses it without the grant.
FETCH_ECHO_WAT = ECHO_WAT.replace(
    "(memory (export",
    '(import "flowplane" "http_fetch" (func $fetch (param i32 i32) (result i64)))\n  (memory (export',
)
CONFIG_SCHEMA = {
    "type": "object",
    "properties": {"city": {"type": "string", "title": "City"}},
    "required": ["city"],
}


def unique(base: str) -> str:
    """A slug or word no other test uses (the test databases are shared by the session)."""
    return f"{base}{uuid.uuid4().hex[:8]}"


async def account(client: httpx.AsyncClient, app: FastAPI, tier: str) -> Account:
    return await pro_account(client, app, tier)


async def publish_tool(
    client: httpx.AsyncClient,
    author: Account,
    slug: str,
    *,
    hosts: list[str] | None = None,
    version: str | None = None,
    module_name: str | None = None,
    **fields: Any,
) -> httpx.Response:
    """Upload a module (when the plan allows) and publish its version 1 as `slug`."""
    created = await create_module(
        client,
        author,
        module_name or slug,
        wasm_base64=b64(wasm_of(FETCH_ECHO_WAT)),
        capabilities={"http_fetch": {"hosts": hosts or ["api.weather.example"]}},
    )
    if created.status_code != 201:
        return created
    body = {
        "kind": "tool",
        "module_id": created.json()["id"],
        "module_version": 1,
        "slug": slug,
        "title": fields.pop("title", "Weather lookup"),
        "summary": fields.pop("summary", "Looks up the forecast of a city"),
        "readme": fields.pop("readme", "# Weather\nAsk for a *city*."),
        "category": fields.pop("category", "data"),
        "tags": fields.pop("tags", ["weather"]),
        "config_schema": fields.pop("config_schema", CONFIG_SCHEMA),
        **fields,
    }
    if version is not None:
        body["version"] = version
    return await client.post("/api/marketplace/publish", json=body, headers=author.headers)


def tool_flow_yaml(name: str, reference: str) -> str:
    return f"""version: 1
organism: {{name: {name}}}
triggers:
  - {{name: run, kind: manual, target: code}}
listeners:
  - name: code
    handler: {reference}
    peers: [done]
    config: {{city: Paris}}
  - {{name: done, handler: builtin.output}}
"""


# A flow with secrets: one referenced, one pasted literally under a secret-looking key, and the
# flow's own secret value pasted inside a URL.
SECRET_FLOW_YAML = """version: 1
organism: {name: greeter}
triggers:
  - {name: hook, kind: webhook, target: greet}
  - {name: run, kind: manual, target: greet}
listeners:
  - name: greet
    handler: builtin.transform
    peers: [done]
    config:
      set:
        greeting: "Hello {{ payload.name }}"
        auth: "${secrets.GREETING_KEY}"
        api_key: "sk-literal-0123456789"
        link: "https://example.com/?key=tok-flow-secret-value"
  - {name: done, handler: builtin.output}
"""
