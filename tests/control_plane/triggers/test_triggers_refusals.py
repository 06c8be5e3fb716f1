"""Bad tokens, unknown flows, oversized or malformed bodies, stopped flows and used-up quotas:
each gets a clear 4xx and nothing is created (no execution row, no stream entry)."""

from __future__ import annotations

from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import update

from control_plane.db import new_id, utcnow
from control_plane.executions.models import Execution, ExecutionCounter
from control_plane.executions.storage import month_key
from control_plane.flows.models import Flow
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import count_rows, sessions, set_tier
from tests.control_plane.triggers.triggers_helpers import (
    FlowUnderTest,
    make_flow,
    manual_only_yaml,
    mark_running,
)


async def assert_nothing_created(app: FastAPI, flow: FlowUnderTest) -> None:
    assert await count_rows(app, Execution, Execution.flow_id == flow.flow_id) == 0
    stream = FlowKeys(flow.account.tenant_id, flow.flow_id).triggers
    assert await app.state.redis.client.xlen(stream) == 0


def assert_error(
    response: httpx.Response, status: int, name: str, *fragments: str
) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["error"] == name
    for fragment in fragments:
        assert fragment in body["detail"]
    return body


async def test_wrong_token_and_unknown_flow_look_the_same(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    wrong = await client.post(f"/api/triggers/{flow.flow_id}/webhook/not-the-token", json={})
    unknown = await client.post(f"/api/triggers/{new_id()}/webhook/{flow.token}", json={})
    body = assert_error(wrong, 404, "NotFound", "does not exist or the token is wrong")
    assert unknown.json() == body
    await assert_nothing_created(app, flow)


async def test_flow_without_a_token_has_no_webhook(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow).where(Flow.id == flow.flow_id).values(webhook_token_hash=None)
        )
    response = await client.post(flow.webhook_url, json={})
    assert_error(response, 404, "NotFound")
    await assert_nothing_created(app, flow)


async def test_rotating_the_token_retires_the_old_one(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    rotated = await client.post(
        f"/api/flows/{flow.flow_id}/webhook/rotate", headers=flow.account.headers
    )
    body = rotated.json()
    assert body["url"].endswith(f"/api/triggers/{flow.flow_id}/webhook/{body['token']}")
    shown = await client.get(f"/api/flows/{flow.flow_id}", headers=flow.account.headers)
    # the owner always sees the whole current URL (the token is kept encrypted beside its hash)
    assert shown.json()["webhook_url"] == body["url"]
    assert_error(await client.post(flow.webhook_url, json={}), 404, "NotFound")
    accepted = await client.post(f"/api/triggers/{flow.flow_id}/webhook/{body['token']}", json={})
    assert accepted.status_code == 202, accepted.text


async def test_oversized_bodies_are_refused_while_reading(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    cap = app.state.settings.webhook_max_body_bytes
    declared = await client.post(flow.webhook_url, content=b"x" * (cap + 1))

    async def chunks() -> Any:  # no Content-Length: cut off while streaming
        for _ in range(cap // 65536 + 2):
            yield b"x" * 65536

    streamed = await client.post(
        flow.webhook_url, content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert_error(declared, 413, "PayloadTooLarge", f"{cap:,}-byte limit")
    assert_error(streamed, 413, "PayloadTooLarge")
    await assert_nothing_created(app, flow)


MALFORMED_BODIES = [
    (b"{not json", "application/json", 400, "BadRequest", "not valid JSON"),
    (b"<xml/>", "application/xml", 415, "UnsupportedMediaType", "application/xml"),
    (b"\xff\xfe", "application/x-www-form-urlencoded", 400, "BadRequest", "not UTF-8"),
    (b"--b\r\n", "multipart/form-data", 400, "BadRequest", "without a boundary"),
    (
        b'--b\r\nContent-Disposition: form-data; name="f"; filename="a.txt"\r\n\r\nx\r\n--b--\r\n',
        "multipart/form-data; boundary=b",
        400,
        "BadRequest",
        "file uploads are not accepted",
    ),
]


async def test_malformed_bodies_are_refused(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    for content, content_type, status, name, fragment in MALFORMED_BODIES:
        response = await client.post(
            flow.webhook_url, content=content, headers={"Content-Type": content_type}
        )
        assert_error(response, status, name, fragment)
    long_key = await client.post(flow.webhook_url, json={}, headers={"Idempotency-Key": "k" * 256})
    assert_error(long_key, 422, "InvalidInput", "Idempotency-Key")
    await assert_nothing_created(app, flow)


async def test_stopped_flows_refuse_every_trigger(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    headers = flow.account.headers
    webhook = await client.post(flow.webhook_url, json={})
    inject = await client.post(f"/api/triggers/{flow.flow_id}/inject", json={}, headers=headers)
    assert_error(webhook, 409, "Conflict", "is stopped")
    assert_error(inject, 409, "Conflict", "is stopped")
    await assert_nothing_created(app, flow)


async def test_flows_in_error_refuse_triggers(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow)
            .where(Flow.id == flow.flow_id)
            .values(desired_state="running", status="error", status_reason="crashed 5 times")
        )
    response = await client.post(flow.webhook_url, json={})
    assert_error(response, 409, "Conflict", "in error", "crashed 5 times")
    await assert_nothing_created(app, flow)


async def test_missing_or_unknown_webhook_trigger(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    unknown = await client.post(flow.webhook_url + "?trigger=nope", json={})
    assert_error(unknown, 422, "InvalidInput", "no webhook trigger named 'nope'", "'inbound'")
    manual = await make_flow(client, manual_only_yaml(), start=False)
    await mark_running(app, manual.flow_id)
    none = await client.post(manual.webhook_url, json={})
    assert_error(none, 409, "Conflict", "has no webhook trigger")
    await assert_nothing_created(app, flow)
    await assert_nothing_created(app, manual)


async def test_over_the_monthly_quota_is_402(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    await set_tier(app, flow.account.tenant_id, "free")
    async with sessions(app)() as session, session.begin():
        session.add(
            ExecutionCounter(
                flow_id=new_id(),  # a deleted flow's usage still counts
                tenant_id=flow.account.tenant_id,
                month=month_key(utcnow()),
                executions=1_000,
            )
        )
    response = await client.post(flow.webhook_url, json={})
    body = assert_error(response, 402, "QuotaExceeded", "1,000 executions a month")
    assert body["quota"] == "executions_per_month"
    assert body["limit"] == 1_000 and body["used"] == 1_000
    assert body["upgrade_url"]
    await assert_nothing_created(app, flow)


async def test_other_tenants_cannot_run_or_rotate(app: FastAPI, client: httpx.AsyncClient) -> None:
    flow = await make_flow(client, start=False)
    await mark_running(app, flow.flow_id)
    intruder = await make_flow(client, start=False)
    headers = intruder.account.headers
    inject = await client.post(f"/api/triggers/{flow.flow_id}/inject", json={}, headers=headers)
    rotate = await client.post(f"/api/flows/{flow.flow_id}/webhook/rotate", headers=headers)
    assert_error(inject, 404, "NotFound")
    assert_error(rotate, 404, "NotFound")
    unauthenticated = await client.post(f"/api/triggers/{flow.flow_id}/inject", json={})
    assert unauthenticated.status_code == 401
    await assert_nothing_created(app, flow)
    still = await client.post(flow.webhook_url, json={})
    assert still.status_code == 202, "the owner's token still works"
