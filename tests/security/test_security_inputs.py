"""Hole 6: inputs that used to answer 500. Each is sent as an attacker would; each must be
refused at the door with a 4xx naming the problem, and whatever was stored stays readable."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from sqlalchemy import insert

from control_plane.db import new_id, utcnow
from control_plane.executions.models import Execution, ExecutionStep
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import sessions, sign_up
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    make_flow,
    mark_running,
    running_app,
    wait_for_statuses,
)


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def assert_refused(response: httpx.Response, status: int, fragment: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert fragment in body["detail"], body
    assert body["error"] in ("BadRequest", "PayloadTooLarge", "InvalidRequest", "InvalidInput")


async def test_a_version_number_past_any_column_is_not_found(client: httpx.AsyncClient) -> None:
    account = await sign_up(client)
    created = await client.post(
        "/api/flows", json={"name": "versions-probe"}, headers=account.headers
    )
    flow_id = created.json()["id"]
    for number in ("1" + "0" * 39, "2147483648", "-1", "0"):
        answer = await client.get(
            f"/api/flows/{flow_id}/versions/{number}", headers=account.headers
        )
        assert answer.status_code == 422, answer.text
        assert "number" in answer.json()["detail"]
    assert (
        await client.get(f"/api/flows/{flow_id}/versions/1", headers=account.headers)
    ).status_code == 200


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        (nested(10_000), "nested deeper than 64 levels"),
        ('{"n": ' + "9" * 5000 + "}", "outside the 64-bit range"),
        ('{"n": 9223372036854775808}', "outside the 64-bit range"),
        ('{"x": NaN}', "NaN is not valid JSON"),
        ('{"x": -Infinity}', "-Infinity is not valid JSON"),
        ('{"x": 1e999}', "too large for a 64-bit float"),
        ('{"\\udfff": 1}', "lone UTF-16 surrogate"),
    ],
)
async def test_webhook_bodies_past_the_limits_are_refused_with_400(
    settings: Settings, body: str, fragment: str
) -> None:
    async with running_app(settings) as (app, client):
        flow = await make_flow(client, start=False)
        await mark_running(app, flow.flow_id)
        response = await client.post(
            flow.webhook_url, content=body, headers={"content-type": "application/json"}
        )
        assert_refused(response, 400, fragment)
        invalid_utf8 = await client.post(
            flow.webhook_url, content=b'{"x": "\xff"}', headers={"content-type": "application/json"}
        )
        assert_refused(invalid_utf8, 400, "not valid UTF-8")
        listed = await client.get(
            f"/api/flows/{flow.flow_id}/executions", headers=flow.account.headers
        )
        assert listed.json()["items"] == []  # nothing stored


async def test_api_bodies_past_the_limits_are_refused_before_any_route(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    created = await client.post(
        "/api/flows", json={"name": "inject-probe"}, headers=account.headers
    )
    flow_id = created.json()["id"]
    deep = '{"payload": ' + nested(500) + "}"
    for url in (f"/api/triggers/{flow_id}/inject?wait=true", "/api/flows"):
        response = await client.post(
            url, content=deep, headers={**account.headers, "content-type": "application/json"}
        )
        assert_refused(response, 400, "nested deeper than 64 levels")
    with_nul = await client.post(
        "/api/flows", json={"name": "x", "description": "a\u0000b"}, headers=account.headers
    )
    assert_refused(with_nul, 400, "NUL")
    huge = await client.post(
        "/api/flows",
        content=b'{"description": "' + b"x" * (5 * 1024 * 1024) + b'"}',
        headers={**account.headers, "content-type": "application/json"},
    )
    assert_refused(huge, 413, "larger than the 4,194,304-byte limit")
    in_url = await client.get("/api/flows/%00", headers=account.headers)
    assert_refused(in_url, 400, "NUL")


async def test_nan_in_one_webhook_does_not_fail_the_innocent_ones_batched_with_it(
    settings: Settings,
) -> None:
    async with running_app(app_settings(settings)) as (app, client):
        flow = await make_flow(client)
        headers = {"content-type": "application/json"}
        bodies = ['{"x": NaN}', '{"x": Infinity}'] + [json.dumps({"n": n}) for n in range(20)]
        answers = await asyncio.gather(
            *(client.post(flow.webhook_url, content=body, headers=headers) for body in bodies)
        )
        assert [answer.status_code for answer in answers] == [400, 400] + [202] * 20
        await wait_for_statuses(app, flow.flow_id, {"succeeded": 20})


async def test_a_huge_last_event_id_is_refused_before_the_stream_starts(
    client: httpx.AsyncClient,
) -> None:
    account = await sign_up(client)
    flow_id = (
        await client.post("/api/flows", json={"name": "logs-probe"}, headers=account.headers)
    ).json()["id"]
    for value in ("9" * 30 + "-0", "1-" + "9" * 21, "18446744073709551616-0", "abc"):
        response = await client.get(
            f"/api/flows/{flow_id}/logs?follow=false",
            headers={**account.headers, "Last-Event-ID": value},
        )
        assert response.status_code == 422, response.text
        assert "Last-Event-ID" in response.json()["detail"]
    fine = await client.get(
        f"/api/flows/{flow_id}/logs?follow=false",
        headers={**account.headers, "Last-Event-ID": "18446744073709551615-0"},
    )
    assert fine.status_code == 200


def deep_value(depth: int) -> Any:
    value: Any = {"bottom": True}
    for _ in range(depth):
        value = [value]
    return value


async def test_whatever_was_stored_every_read_api_answers(settings: Settings) -> None:
    """Rows as the old code (or a pump) could leave them: deep, non-finite, lone surrogates."""
    async with running_app(settings) as (app, client):
        account = await sign_up(client)
        flow_id = (
            await client.post("/api/flows", json={"name": "stored"}, headers=account.headers)
        ).json()["id"]
        sqlite = app.state.engine.dialect.name == "sqlite"
        odd_input: Any = {"\udfff": 1, "deep": deep_value(300)} if sqlite else deep_value(300)
        execution_id = new_id()
        now = utcnow()
        async with sessions(app)() as session, session.begin():
            await session.execute(
                insert(Execution).values(
                    id=execution_id,
                    tenant_id=account.tenant_id,
                    flow_id=flow_id,
                    status="succeeded",
                    trigger="inbound",
                    trigger_kind="webhook",
                    target="x",
                    input=odd_input,
                    input_truncated=False,
                    outputs=[deep_value(400)],
                    outputs_truncated=False,
                    steps=1,
                    usage={"tokens": 3},
                    created_at=now,
                )
            )
            await session.execute(
                insert(ExecutionStep).values(
                    execution_id=execution_id,
                    step=1,
                    listener="x",
                    status="succeeded",
                    input=deep_value(260),
                    output={"n": 1},
                    truncated=False,
                    routed_to="not a list",
                    usage=None,
                )
            )
        detail = await client.get(f"/api/executions/{execution_id}", headers=account.headers)
        assert detail.status_code == 200, detail.text
        body = detail.json()
        assert json.dumps(body)  # valid JSON, whatever the depth was
        if sqlite:
            assert "\ufffd" in body["input"]
        listed = await client.get(f"/api/flows/{flow_id}/executions", headers=account.headers)
        assert listed.status_code == 200, listed.text
        assert [item["id"] for item in listed.json()["items"]] == [execution_id]


async def test_the_openapi_document_describes_the_errors_the_api_answers(
    client: httpx.AsyncClient,
) -> None:
    schema = (await client.get("/openapi.json")).json()
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    error_body = schema["components"]["schemas"]["ErrorBody"]
    assert error_body["properties"]["detail"] == {
        "type": "string",
        "description": "What went wrong, for a person",
    }
    create = schema["paths"]["/api/flows"]["post"]["responses"]
    for code in ("400", "401", "413", "422"):
        assert create[code]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/ErrorBody"
        }
    answer = await client.post("/api/auth/login", json={"email": 1})
    assert answer.status_code == 422
    body = answer.json()
    assert isinstance(body["detail"], str)
    assert body["problems"][0]["path"] == "body.email"
