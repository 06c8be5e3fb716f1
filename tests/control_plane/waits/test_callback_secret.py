"""The callback signing secret is stored sealed with the secrets key: the database alone holds
no usable secret, rotation seals the new one, and one stored in clear by an earlier version is
sealed when the app starts and still signs."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update

from control_plane.callbacks.secret import SEALED_PREFIX
from control_plane.flows.models import Flow
from control_plane.settings import Settings
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.triggers.triggers_helpers import (
    FlowUnderTest,
    echo_yaml,
    make_flow,
    running_app,
)


async def stored_secret(app: Any, flow_id: str) -> str:
    async with sessions(app)() as session:
        value = await session.scalar(select(Flow.signing_secret).where(Flow.id == flow_id))
    assert value is not None
    return value


async def store_in_clear(app: Any, flow_id: str, value: str) -> None:
    async with sessions(app)() as session:
        await session.execute(update(Flow).where(Flow.id == flow_id).values(signing_secret=value))
        await session.commit()


async def test_the_signing_secret_is_stored_sealed(settings: Settings) -> None:
    with_background = settings.model_copy(update={"background_tasks": True})
    async with running_app(with_background) as (app, client):
        flow: FlowUnderTest = await make_flow(client, echo_yaml(), start=False)
        headers = flow.account.headers
        url = f"/api/flows/{flow.flow_id}/callback-settings"
        secret = (await client.get(url, headers=headers)).json()["signing_secret"]
        assert (
            len(secret) == 64
            and (await client.get(url, headers=headers)).json()["signing_secret"] == secret
        )
        box = app.state.pumps.secret_box
        sealed = await stored_secret(app, flow.flow_id)
        assert sealed.startswith(SEALED_PREFIX) and secret not in sealed
        assert box.open(sealed) == secret

        rotated = (await client.post(f"{url}/rotate", headers=headers)).json()["signing_secret"]
        assert rotated != secret
        assert box.open(await stored_secret(app, flow.flow_id)) == rotated

        read_in_clear = "ab" * 32  # as an earlier version stored it
        await store_in_clear(app, flow.flow_id, read_in_clear)
        assert (await client.get(url, headers=headers)).json()["signing_secret"] == read_in_clear
        assert box.open(await stored_secret(app, flow.flow_id)) == read_in_clear

        sealed_at_start = "cd" * 32
        await store_in_clear(app, flow.flow_id, sealed_at_start)

    async with running_app(with_background) as (app, client):
        stored = await stored_secret(app, flow.flow_id)
        assert stored.startswith(SEALED_PREFIX)
        assert app.state.pumps.secret_box.open(stored) == sealed_at_start
        answer = await client.get(url, headers=headers)
        assert answer.json()["signing_secret"] == sealed_at_start
