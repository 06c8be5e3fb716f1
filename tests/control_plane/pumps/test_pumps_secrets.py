"""Flow secrets: write-only through the API, encrypted at rest, handed to the pump at start."""

from __future__ import annotations

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from control_plane.pumps.models import FlowSecret
from pump.keys import PumpEnv
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.pumps.pumps_helpers import (
    create_flow,
    echo_yaml,
    pump_environment,
    pump_pids,
    pump_secrets,
    sign_up_on,
    wait_for_status,
)


async def test_secrets_are_merged_never_shown_and_reach_the_pump(
    pump_app: FastAPI, pump_client: httpx.AsyncClient, handed: dict[str, dict[str, str]]
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("secretive"))
    url = f"/api/flows/{flow_id}/secrets"

    assert (await pump_client.get(url, headers=owner.headers)).json() == {
        "names": [],
        "restart_required": False,
    }
    first = await pump_client.put(
        url, json={"OPENAI_API_KEY": "sk-live-1", "TOKEN": "t-1"}, headers=owner.headers
    )
    assert first.status_code == 200, first.text
    assert first.json() == {"names": ["OPENAI_API_KEY", "TOKEN"], "restart_required": False}
    merged = await pump_client.put(
        url,
        json={"TOKEN": None, "WEBHOOK_SECRET": "w-1", "OPENAI_API_KEY": "sk-live-2"},
        headers=owner.headers,
    )
    assert merged.json()["names"] == ["OPENAI_API_KEY", "WEBHOOK_SECRET"]
    listed = await pump_client.get(url, headers=owner.headers)
    assert listed.json()["names"] == ["OPENAI_API_KEY", "WEBHOOK_SECRET"]
    assert "sk-live" not in listed.text

    async with sessions(pump_app)() as session:
        stored = list(
            await session.scalars(select(FlowSecret).where(FlowSecret.flow_id == flow_id))
        )
    assert len(stored) == 2
    assert all(
        "sk-live" not in item.value_encrypted and "w-1" not in item.value_encrypted
        for item in stored
    )

    refused = await pump_client.put(
        url, json={"not a name": "x", "OK": "fine", "${secrets.X}": "y"}, headers=owner.headers
    )
    assert refused.status_code == 422
    paths = [problem["path"] for problem in refused.json()["problems"]]
    assert paths == ["secrets.not a name", "secrets.${secrets.X}"]
    assert (await pump_client.get(url, headers=owner.headers)).json()["names"] == [
        "OPENAI_API_KEY",
        "WEBHOOK_SECRET",
    ]
    too_big = await pump_client.put(url, json={"BIG": "x" * (65 * 1024)}, headers=owner.headers)
    assert too_big.status_code == 422 and "64 KiB" in too_big.json()["detail"]
    not_strings = await pump_client.put(url, json={"N": 5}, headers=owner.headers)
    assert not_strings.status_code == 422

    assert (
        await pump_client.post(f"/api/flows/{flow_id}/start", headers=owner.headers)
    ).status_code == 202
    await wait_for_status(pump_client, owner, flow_id, status="running", observed="running")
    [pid] = pump_pids(pump_app, owner, flow_id)
    assert pump_secrets(handed[flow_id]) == {
        "OPENAI_API_KEY": "sk-live-2",
        "WEBHOOK_SECRET": "w-1",
    }
    assert PumpEnv.SECRETS not in pump_environment(pid)

    changed = await pump_client.put(url, json={"WEBHOOK_SECRET": "w-2"}, headers=owner.headers)
    assert changed.json()["restart_required"] is True


async def test_secrets_belong_to_their_flow(
    pump_app: FastAPI, pump_client: httpx.AsyncClient
) -> None:
    owner = await sign_up_on(pump_client, pump_app)
    stranger = await sign_up_on(pump_client, pump_app)
    flow_id = await create_flow(pump_client, owner, echo_yaml("owned"))
    url = f"/api/flows/{flow_id}/secrets"
    await pump_client.put(url, json={"KEY": "value"}, headers=owner.headers)
    assert (await pump_client.get(url, headers=stranger.headers)).status_code == 404
    assert (
        await pump_client.put(url, json={"KEY": "stolen"}, headers=stranger.headers)
    ).status_code == 404

    deleted = await pump_client.delete(f"/api/flows/{flow_id}", headers=owner.headers)
    assert deleted.status_code == 204
    async with sessions(pump_app)() as session:
        left = await session.scalars(select(FlowSecret).where(FlowSecret.flow_id == flow_id))
        assert list(left) == []
