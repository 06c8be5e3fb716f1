"""An event sent before its execution reaches the wait (a job's callback racing the flow that
started the job) resumes that wait when sent with keep_seconds: each kept event resumes one
wait, the oldest first; expired ones are dropped; bad or oversized requests store nothing."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from control_plane.settings import Settings
from control_plane.waits import kept
from control_plane.waits.models import ExecutionWait, KeptEvent
from tests.control_plane.triggers.triggers_helpers import make_flow, wait_for
from tests.control_plane.waits.waits_helpers import (
    execution,
    reaches,
    run,
    wait_settings,
    waits_app,
    waits_yaml,
)

# the flow's timer path POSTs here; these tests never take it
UNUSED_SINK = "http://127.0.0.1:9"


async def test_an_event_kept_before_its_wait_resumes_it_once(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with waits_app(wait_settings(settings)) as (app, client):
        flow = await make_flow(client, waits_yaml(UNUSED_SINK))
        events = f"/api/flows/{flow.flow_id}/events/order.paid"
        headers = flow.account.headers

        async def send(correlation: str, **body: object) -> dict[str, object]:
            sent = await client.post(
                events, json={"correlation_id": correlation, **body}, headers=headers
            )
            assert sent.status_code == 200, sent.text
            answer: dict[str, object] = sent.json()
            return answer

        async def kept_rows() -> int:
            async with app.state.engine.connect() as connection:
                return int(await connection.scalar(select(func.count()).select_from(KeptEvent)))

        # bad requests are refused, naming the field, and keep nothing
        for body, field in (
            ({"keep_seconds": -1}, "keep_seconds"),
            ({"keep_seconds": 8 * 24 * 3600}, "keep_seconds"),
            ({"keep_seconds": 60, "payload": "x" * (kept.MAX_KEPT_PAYLOAD_BYTES + 1)}, "payload"),
        ):
            refused = await client.post(
                events, json={"correlation_id": "K1", **body}, headers=headers
            )
            assert refused.status_code == 422 and field in refused.text, refused.text
        assert await kept_rows() == 0

        # nobody waits yet: two events are kept, one without keep_seconds is dropped
        first = await send("K1", payload={"paid": 1}, keep_seconds=60)
        assert first["resumed"] == []
        until = datetime.fromisoformat(str(first["kept_until"]))
        assert timedelta(seconds=50) < until - datetime.now(until.tzinfo) <= timedelta(seconds=60)
        await send("K1", payload={"paid": 2}, keep_seconds=60)
        assert await send("K0", payload={"paid": 0}) == {"resumed": [], "kept_until": None}
        assert await kept_rows() == 2

        # the oldest kept event resumes the first wait that parks, the next one the next
        one = await run(client, flow, "event", order="K1")
        assert (await reaches(client, flow, one, "succeeded"))["outputs"] == [{"paid": 1}]
        two = await run(client, flow, "event", order="K1")
        assert (await reaches(client, flow, two, "succeeded"))["outputs"] == [{"paid": 2}]
        assert await kept_rows() == 0
        # with both used up, and for the event that was not kept, executions wait
        three = await run(client, flow, "event", order="K1")
        dropped = await run(client, flow, "event", order="K0")
        for ident in (three, dropped):
            await reaches(client, flow, ident, "waiting")
        await asyncio.sleep(1)  # five ticks of the waits loop
        assert (await execution(client, flow, three))["status"] == "waiting"
        assert (await execution(client, flow, dropped))["status"] == "waiting"
        async with app.state.engine.connect() as connection:
            decided = await connection.scalar(
                select(ExecutionWait.decided_by).where(ExecutionWait.execution_id == one)
            )
        assert str(decided).startswith("event ")

        # a live event still resumes what waits, and is not kept as well
        assert await send("K1", payload={"paid": 3}, keep_seconds=60) == {
            "resumed": [three],
            "kept_until": None,
        }
        assert await kept_rows() == 0

        # an expired event is dropped and resumes nothing
        await send("K9", payload={"paid": 9}, keep_seconds=1)
        await wait_for(kept_rows, lambda count: count == 0, what="the expired event dropped")
        late = await run(client, flow, "event", order="K9")
        await reaches(client, flow, late, "waiting")
        await asyncio.sleep(1)
        assert (await execution(client, flow, late))["status"] == "waiting"

        # a workspace keeps a bounded number of events
        monkeypatch.setattr(kept, "MAX_KEPT_PER_TENANT", 2)
        await send("L1", keep_seconds=60)
        await send("L2", keep_seconds=60)
        full = await client.post(
            events, json={"correlation_id": "L3", "keep_seconds": 60}, headers=headers
        )
        assert full.status_code == 429 and "keeps 2 events" in full.text, full.text
        assert await kept_rows() == 2
