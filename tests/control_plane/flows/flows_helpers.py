"""Organisms and small helpers shared by the flows API tests."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from control_plane.flows.models import Flow, FlowVersion
from tests.control_plane.accounts.accounts_helpers import Account, count_rows


def hello_yaml(name: str = "hello", greeting: str = "Hello") -> str:
    return f"""version: 1
organism: {{name: {name}, description: Greets people}}
triggers:
  - {{name: run, kind: manual, target: shout}}
listeners:
  - name: shout
    handler: builtin.transform
    peers: [done]
    config: {{set: {{greeting: "{greeting} {{{{ payload.name }}}}"}}}}
  - {{name: done, handler: builtin.output}}
"""


TRIAGE_YAML = """version: 1
organism:
  name: ticket-triage
  description: Classify inbound tickets
triggers:
  - {name: inbound, kind: webhook, target: classify}
  - {name: nightly, kind: schedule, cron: "0 2 * * *", timezone: UTC, target: classify,
     payload: {mode: batch}}
listeners:
  - name: classify
    handler: builtin.llm
    peers: [route]
    config: {model: gpt-4o-mini, prompt: "Priority of: {{ payload.body }}",
             api_key: "${secrets.OPENAI_API_KEY}", output: json}
    timeout_seconds: 30
  - name: route
    handler: builtin.branch
    peers: [escalate, archive]
    config: {cases: [{when: "payload.priority == 'high'", to: escalate}], default: archive}
  - name: escalate
    handler: builtin.http
    peers: [archive]
    config: {method: POST, url: "https://hooks.example.com/page", json: "{{ payload }}"}
  - name: archive
    handler: builtin.output
"""


async def create_flow(client: httpx.AsyncClient, account: Account, **body: Any) -> dict[str, Any]:
    response = await client.post("/api/flows", json=body, headers=account.headers)
    assert response.status_code == 201, response.text
    flow: dict[str, Any] = response.json()
    return flow


async def stored_counts(app: FastAPI, account: Account) -> tuple[int, int]:
    """(flows, versions) the account's tenant has in the database."""
    flows = await count_rows(app, Flow, Flow.tenant_id == account.tenant_id)
    versions = await count_rows(
        app,
        FlowVersion,
        FlowVersion.flow_id.in_(select(Flow.id).where(Flow.tenant_id == account.tenant_id)),
    )
    return flows, versions
