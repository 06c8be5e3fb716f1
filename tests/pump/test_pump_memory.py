"""Project memory: builtin.memory, the byte quota, and flows that may not use it."""

from __future__ import annotations

import json

from pump_testkit import in_process

ORGANISM = """
version: 1
organism: {name: memory-test}
triggers: [{name: run, kind: manual, target: save}]
listeners:
  - {name: save, handler: builtin.memory, peers: [load],
     config: {op: set, key: "note:{{ payload.id }}", value: "{{ payload.note }}"}}
  - {name: load, handler: builtin.memory, peers: [done], config: {op: get, key: "note:{{ payload.id }}"}}
  - {name: forget, handler: builtin.memory, peers: [load], config: {op: delete, key: "note:{{ payload.id }}"}}
  - {name: done, handler: builtin.output}
memory: {project: %s}
"""


async def test_set_get_delete_round_trip_and_byte_accounting(redis_url: str) -> None:
    async with in_process(redis_url, ORGANISM % "true", memory_quota_bytes=1000) as flow:
        saved = await flow.run({"id": 1, "note": {"text": "héllo"}})
        stored = await flow.client.hget(flow.keys.memory_data, "note:1")
        used = int(await flow.client.get(flow.keys.memory_bytes))
        overwritten = await flow.run({"id": 1, "note": "short"})
        used_after_overwrite = int(await flow.client.get(flow.keys.memory_bytes))
        forgotten = await flow.run({"id": 1}, target="forget")
        used_after_delete = int(await flow.client.get(flow.keys.memory_bytes))
    assert saved.outcome.outputs == [
        {"id": 1, "note": {"text": "héllo"}, "memory": {"text": "héllo"}}
    ]
    assert json.loads(stored) == {"text": "héllo"}
    assert used == len(b"note:1") + len(stored.encode())
    assert overwritten.outcome.outputs[0]["memory"] == "short"
    assert used_after_overwrite == len(b"note:1") + len(b'"short"')
    assert forgotten.outcome.outputs == [{"id": 1, "memory": None}]
    assert used_after_delete == 0


async def test_a_write_over_the_quota_fails_clearly_and_stores_nothing(redis_url: str) -> None:
    async with in_process(redis_url, ORGANISM % "true", memory_quota_bytes=40) as flow:
        small = await flow.run({"id": 1, "note": "fits"})
        large = await flow.run({"id": 2, "note": "x" * 100})
        stored = await flow.client.hgetall(flow.keys.memory_data)
        used = int(await flow.client.get(flow.keys.memory_bytes))
    assert small.outcome.status == "completed"
    failed = large.of("step.failed")[0].data
    assert failed["reason"] == "quota_exceeded"
    assert "project memory quota exceeded" in failed["error"]
    assert "of 40 bytes used" in failed["error"]
    assert large.of("execution.failed")[0].data["reason"] == "quota_exceeded"
    assert set(stored) == {"note:1"}
    assert used == len(b"note:1") + len(b'"fits"')


async def test_a_flow_with_memory_off_cannot_write_it(redis_url: str) -> None:
    async with in_process(redis_url, ORGANISM % "false", memory_quota_bytes=10_000) as flow:
        result = await flow.run({"id": 1, "note": "nope"})
        exists = await flow.client.exists(flow.keys.memory_data, flow.keys.memory_bytes)
    failed = result.of("step.failed")[0].data
    assert failed["reason"] == "memory_disabled"
    assert "memory: {project: true}" in failed["error"]
    assert exists == 0


async def test_a_plan_without_project_memory_refuses_even_when_the_flow_opts_in(
    redis_url: str,
) -> None:
    async with in_process(redis_url, ORGANISM % "true", memory_quota_bytes=0) as flow:
        result = await flow.run({"id": 1, "note": "nope"})
        exists = await flow.client.exists(flow.keys.memory_data)
    failed = result.of("step.failed")[0].data
    assert failed["reason"] == "memory_disabled"
    assert "plan" in failed["error"]
    assert exists == 0
