"""Schedules: the tick arithmetic, the misfire policy, and exactly one execution per tick with
two control-plane instances on one database (seconds-resolution test hook)."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update

from control_plane.executions.models import Execution
from control_plane.flows.models import Flow
from control_plane.settings import Settings
from control_plane.triggers import scheduler as scheduler_module
from control_plane.triggers.models import ScheduleState
from control_plane.triggers.scheduler import Scheduler, next_fire
from pump.keys import FlowKeys
from tests.control_plane.accounts.accounts_helpers import sessions
from tests.control_plane.triggers.triggers_helpers import (
    app_settings,
    echo_yaml,
    make_flow,
    running_app,
    wait_for,
)


def scheduled_yaml(cron: str, timezone: str = "UTC") -> str:
    trigger = (
        f"  - {{name: tick, kind: schedule, cron: '{cron}', timezone: {timezone}, target: shape}}\n"
    )
    return echo_yaml(f"sched-{uuid.uuid4().hex[:8]}", extra_triggers=trigger)


def test_next_fire_follows_cron_timezone_and_the_seconds_hook() -> None:
    after = datetime(2025, 3, 30, 0, 30, 15, tzinfo=UTC)
    assert next_fire("*/15 * * * *", "UTC", after) == datetime(2025, 3, 30, 0, 45, tzinfo=UTC)
    # 09:00 in Paris on the day its clocks go forward (UTC+2 from 02:00) is 07:00 UTC.
    assert next_fire("0 9 * * *", "Europe/Paris", after) == datetime(2025, 3, 30, 7, tzinfo=UTC)
    assert next_fire("@daily", "UTC", after) == datetime(2025, 3, 31, tzinfo=UTC)
    # The test hook reads the minute field as seconds.
    assert next_fire("*/10 * * * *", "UTC", after, "second") == datetime(
        2025, 3, 30, 0, 30, 20, tzinfo=UTC
    )


async def test_a_missed_window_fires_once_then_resumes_on_schedule(
    app: FastAPI, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The scheduler's clock stands still, so the two ticks cannot straddle a minute boundary
    # (where the second would rightly fire the next minute's tick).
    now = datetime.now(UTC)
    monkeypatch.setattr(scheduler_module, "utcnow", lambda: now)
    flow = await make_flow(client, scheduled_yaml("* * * * *"), start=False)
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow)
            .where(Flow.id == flow.flow_id)
            .values(desired_state="running", status="running")
        )
    scheduler = Scheduler(app)
    await scheduler.sync()
    downtime = now - timedelta(minutes=30)
    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(ScheduleState)
            .where(ScheduleState.flow_id == flow.flow_id)
            .values(next_fire_at=downtime)
        )
    assert await scheduler.tick() == 1
    assert await scheduler.tick() == 0, "thirty missed ticks coalesce into one execution"
    async with sessions(app)() as session:
        state = await session.get(ScheduleState, (flow.flow_id, "tick"))
        [execution] = await session.scalars(
            select(Execution).where(Execution.flow_id == flow.flow_id)
        )
    assert state is not None and state.last_fired_at == downtime
    assert now < state.next_fire_at <= now + timedelta(minutes=1)
    assert execution.trigger_kind == "schedule" and execution.status == "queued"
    assert execution.idempotency_key == f"schedule:tick:{downtime.isoformat()}"
    stream = FlowKeys(flow.account.tenant_id, flow.flow_id).triggers
    assert await app.state.redis.client.xlen(stream) == 1

    async with sessions(app)() as session, session.begin():
        await session.execute(
            update(Flow).where(Flow.id == flow.flow_id).values(desired_state="stopped")
        )
    await scheduler.sync()
    async with sessions(app)() as session:
        assert await session.get(ScheduleState, (flow.flow_id, "tick")) is None, (
            "a stopped flow's schedule is dropped: no misfire for the time it was stopped"
        )


async def test_two_instances_fire_each_tick_exactly_once(settings: Settings) -> None:
    fast = app_settings(settings, scheduler_tick_unit="second", scheduler_interval_seconds=0.05)
    # A second replica on the same database and Redis, with a data directory of its own.
    second = fast.model_copy(update={"data_dir": settings.data_dir.parent / "second"})
    async with running_app(fast) as (app, client), running_app(second) as (other, _):
        flow = await make_flow(client, scheduled_yaml("* * * * *"))
        await asyncio.sleep(4.5)
        async with sessions(app)() as session, session.begin():  # end the schedule
            await session.execute(
                update(Flow)
                .where(Flow.id == flow.flow_id)
                .values(organism_yaml=echo_yaml(), updated_at=datetime.now(UTC))
            )
        await wait_for(
            lambda: _has_state(app, flow.flow_id), lambda present: not present, what="unscheduled"
        )
        await asyncio.sleep(0.3)  # a fire that claimed its row just before is enqueued by now

        async with sessions(app)() as session:
            keys = list(
                await session.scalars(
                    select(Execution.idempotency_key).where(
                        Execution.flow_id == flow.flow_id, Execution.trigger_kind == "schedule"
                    )
                )
            )
        ticks = sorted(datetime.fromisoformat(str(key).split(":", 2)[2]) for key in keys)
        assert len(ticks) >= 3
        assert len(set(ticks)) == len(ticks), f"a tick fired twice: {ticks}"
        # One execution per tick; a scheduler pass delayed past a tick by CPU starvation
        # coalesces the missed ticks into one fire (the documented misfire policy).
        gaps = [b - a for a, b in itertools.pairwise(ticks)]
        assert all(gap >= timedelta(seconds=1) for gap in gaps), f"ticks out of order: {ticks}"
        assert sum(gap == timedelta(seconds=1) for gap in gaps) >= len(gaps) - 2, (
            f"more than two ticks coalesced in 4.5 s: {ticks}"
        )
        stream = FlowKeys(flow.account.tenant_id, flow.flow_id).triggers
        assert await app.state.redis.client.xlen(stream) == len(ticks), "one XADD per tick"
        await wait_for(
            lambda: _statuses(other, flow.flow_id),
            lambda statuses: statuses == {"succeeded"},
            what="every scheduled execution succeeded",
        )


async def _has_state(app: FastAPI, flow_id: str) -> bool:
    async with sessions(app)() as session:
        rows = await session.scalars(
            select(ScheduleState.flow_id).where(ScheduleState.flow_id == flow_id)
        )
        return bool(list(rows))


async def _statuses(app: FastAPI, flow_id: str) -> set[str]:
    async with sessions(app)() as session:
        return set(
            await session.scalars(select(Execution.status).where(Execution.flow_id == flow_id))
        )
