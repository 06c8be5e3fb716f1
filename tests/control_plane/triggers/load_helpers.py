"""Concurrent webhook load for the acceptance tests: who was accepted, who was not."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import httpx
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import create_async_engine

from control_plane.executions.models import Execution


@dataclass
class LoadResult:
    accepted: dict[int, str] = field(default_factory=dict)  # request number -> execution id
    refused: dict[int, str] = field(default_factory=dict)  # request number -> why


async def webhook_load(
    client: httpx.AsyncClient,
    url: str,
    *,
    total: int,
    concurrency: int,
    on_accepted: Callable[[int], Awaitable[None]] | None = None,
    retry_unreachable: bool = False,
) -> LoadResult:
    """POST `total` webhooks ({"n": i}), `concurrency` at a time. `on_accepted(count)` runs
    after each 202 (used to crash something mid-load). With `retry_unreachable`, a request
    that gets no answer (the server is restarting) is sent again, for up to 30 s."""
    result = LoadResult()
    numbers = iter(range(total))

    async def worker() -> None:
        for number in numbers:
            attempts = 300 if retry_unreachable else 1
            for attempt in range(attempts):
                try:
                    response = await client.post(url, json={"n": number})
                    break
                except httpx.HTTPError as error:
                    result.refused[number] = type(error).__name__
                    if attempt + 1 < attempts:
                        await asyncio.sleep(0.1)
            else:
                continue
            result.refused.pop(number, None)
            if response.status_code == 202:
                result.accepted[number] = response.json()["execution_id"]
                if on_accepted is not None:
                    await on_accepted(len(result.accepted))
            else:
                result.refused[number] = f"{response.status_code} {response.text[:200]}"

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return result


async def executions_by_status(database_url: str, flow_id: str) -> dict[str, int]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Execution.status, func.count())
                .where(Execution.flow_id == flow_id)
                .group_by(Execution.status)
            )
            return {str(status): int(count) for status, count in rows}
    finally:
        await engine.dispose()


async def outputs_by_id(database_url: str, flow_id: str) -> dict[str, object]:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Execution.id, Execution.outputs).where(Execution.flow_id == flow_id)
            )
            return {str(ident): outputs for ident, outputs in rows}
    finally:
        await engine.dispose()


async def statuses_by_id(database_url: str, flow_id: str) -> dict[str, tuple[str, str | None]]:
    """execution id -> (status, reason) of every execution of the flow."""
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                select(Execution.id, Execution.status, Execution.reason).where(
                    Execution.flow_id == flow_id
                )
            )
            return {str(ident): (str(status), reason) for ident, status, reason in rows}
    finally:
        await engine.dispose()
