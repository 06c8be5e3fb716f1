"""Smaller parts of the runtime: the environment contract, the RESP hot path, the writer, the
event encoder, stopping background tasks, and `python -m pump` refusing a bad environment."""

from __future__ import annotations

import asyncio
import base64
import json
import subprocess
import sys
from datetime import UTC, datetime
from typing import Any

import pytest
from pump_testkit import REPO, new_keys

from pump.events import Event, encode_data, encode_event
from pump.keys import TRIGGER_GROUP, PumpEnv
from pump.resp import RespConnection, RespError, pack_commands, parse_reply
from pump.server import redis_client
from pump.settings import (
    DEFAULT_CONCURRENCY,
    DEFAULT_WASM_TIMEOUT_SECONDS,
    PumpSettings,
    SettingsError,
)
from pump.tasks import stop_tasks
from pump.writer import RedisWriter


def environment(**extra: str) -> dict[str, str]:
    return {
        PumpEnv.TENANT_ID: "t1",
        PumpEnv.FLOW_ID: "f1",
        PumpEnv.REDIS_URL: "redis://127.0.0.1:6379/0",
        PumpEnv.ORGANISM: base64.b64encode(b"version: 1").decode(),
        **extra,
    }


def test_settings_read_the_environment_contract() -> None:
    secrets = base64.b64encode(json.dumps({"KEY": "v"}).encode()).decode()
    settings = PumpSettings.from_env(
        environment(
            **{
                PumpEnv.SECRETS: secrets,
                PumpEnv.MODULES: json.dumps({"echo@1": "AB" * 32}),
                PumpEnv.MODULE_GRANTS: json.dumps({"echo@1": ["http_fetch"]}),
                PumpEnv.MODULE_HOSTS: json.dumps({"echo@1": ["api.example.com"]}),
                PumpEnv.HTTP_ALLOWLIST: " 127.0.0.1, hooks.internal ,",
                PumpEnv.CONCURRENCY: "8",
                PumpEnv.MEMORY_QUOTA_BYTES: "1000",
            }
        )
    )
    assert settings.organism_yaml == "version: 1"
    assert settings.secrets == {"KEY": "v"}
    assert settings.modules == {"echo@1": "ab" * 32}
    assert settings.module_grants == {"echo@1": frozenset({"http_fetch"})}
    assert settings.module_hosts == {"echo@1": ("api.example.com",)}
    assert settings.http_allowlist == ("127.0.0.1", "hooks.internal")
    assert (settings.concurrency, settings.memory_quota_bytes) == (8, 1000)
    defaults = PumpSettings.from_env(environment())
    assert defaults.concurrency == DEFAULT_CONCURRENCY
    assert defaults.wasm_timeout_seconds == DEFAULT_WASM_TIMEOUT_SECONDS
    assert defaults.memory_quota_bytes == 0
    assert defaults.consumer  # unique per process


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (PumpEnv.TENANT_ID, "", "FLOWPLANE_TENANT_ID is required"),
        (PumpEnv.ORGANISM, "not base64!", "FLOWPLANE_ORGANISM is not base64"),
        (PumpEnv.SECRETS, base64.b64encode(b"[1]").decode(), "JSON object of strings"),
        (PumpEnv.MODULES, "{", "FLOWPLANE_MODULES is not valid JSON"),
        (PumpEnv.MODULE_GRANTS, '{"m@1": ["sockets"]}', "unknown capabilities ['sockets']"),
        (PumpEnv.MODULE_HOSTS, '{"m@1": "a.example"}', "must be a list of host names"),
        (PumpEnv.CONCURRENCY, "0", "FLOWPLANE_CONCURRENCY must be at least 1"),
        (PumpEnv.WASM_FUEL, "lots", "FLOWPLANE_WASM_FUEL must be a number"),
    ],
)
def test_settings_errors_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PumpSettings.from_env(environment(**{name: value}))


def test_the_pump_refuses_to_start_on_a_bad_environment_or_organism() -> None:
    bad = environment(**{PumpEnv.ORGANISM: base64.b64encode(b"version: 2\n").decode()})
    result = subprocess.run(
        [sys.executable, "-m", "pump"], env=bad, cwd=REPO, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert "FLOWPLANE_ORGANISM is not a valid organism" in result.stderr


def test_event_encoding_matches_the_event_model() -> None:
    data = {"output": {"é": [1, 2.5, None]}, "duration_ms": 0.1}
    fields = encode_event("step.completed", "x1", data, step=3, listener="a", ts=1.5)
    model = Event(type="step.completed", execution_id="x1", ts=1.5, step=3, listener="a", data=data)
    assert fields == model.encode()
    assert Event.decode(fields) == model


@pytest.mark.parametrize(
    "data",
    [
        {"output": {"é": [1, 2.5, -0.0, 1e16, True]}, "id": "x"},
        {"output": None},  # a null: written by the stdlib (orjson writes NaN as null too)
        {"output": float("nan"), "b": float("inf")},
        {"big": 2**70},  # past 64 bits: orjson refuses
        {"keys": {1: "one", 2.5: "x", None: "n"}},  # non-string keys: orjson refuses
        {"lone": "\ud800"},  # a lone surrogate: orjson refuses
        {"when": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "raw": b"x", "pair": (1, 2)},
    ],
)
def test_event_data_is_the_stdlib_json_of_it(data: dict[str, Any]) -> None:
    stdlib = json.JSONEncoder(separators=(",", ":"), default=str).encode(data)
    written = encode_data(data)
    if "null" in stdlib or "NaN" in stdlib or "\\ud800" in stdlib:
        assert written == stdlib
    else:
        assert json.loads(written) == json.loads(stdlib)
        assert not written.isascii() or written == stdlib


def test_resp_packing_and_parsing() -> None:
    packed = pack_commands([("SET", "k", "é", "EX", 5), b"*1\r\n$4\r\nPING\r\n"])
    assert packed == (
        b"*5\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n$2\r\nEX\r\n$1\r\n5\r\n"
        b"*1\r\n$4\r\nPING\r\n"
    )
    buffer = b"+OK\r\n:42\r\n$-1\r\n*2\r\n$1\r\na\r\n*0\r\n-ERR nope\r\n"
    replies = []
    position = 0
    for _ in range(5):
        reply, position = parse_reply(buffer, position)
        replies.append(reply)
    assert replies[:4] == ["OK", 42, None, [b"a", []]]
    assert isinstance(replies[4], RespError) and "nope" in str(replies[4])


async def test_resp_connection_and_writer_against_redis(redis_url: str) -> None:
    keys = new_keys()
    connection = RespConnection(redis_url)
    await connection.connect()
    big = "x" * 200_000
    replies = await connection.execute(
        [("SET", keys.logs, big), ("GET", keys.logs), ("INCR", keys.logs), ("DEL", keys.logs)]
    )
    await connection.close()
    assert replies[0] == "OK" and replies[1] == big.encode() and replies[3] == 1
    assert isinstance(replies[2], RespError)

    client = redis_client(redis_url)
    await client.xgroup_create(keys.triggers, TRIGGER_GROUP, id="0", mkstream=True)
    entry_ids = [await client.xadd(keys.triggers, {"n": str(n)}) for n in range(3)]
    await client.xreadgroup(TRIGGER_GROUP, "c", {keys.triggers: ">"})
    writer = RedisWriter(redis_url)
    writer.start()
    for entry_id in entry_ids:
        writer.xadd(keys.events, {"n": entry_id})
        writer.ack(keys.triggers, TRIGGER_GROUP, entry_id)
    writer.xadd(keys.logs, {"line": "1"}, maxlen=10)
    await writer.sync()
    await writer.close()
    try:
        assert await client.xlen(keys.events) == 3
        assert (await client.xpending(keys.triggers, TRIGGER_GROUP))["pending"] == 0
        assert writer.round_trips == 1  # one pipeline, the acks merged into one XACK
    finally:
        await client.delete(keys.events, keys.triggers, keys.logs)
        await client.aclose()


async def test_stopping_background_tasks_cancels_again_a_task_that_swallowed_a_cancel() -> None:
    cancels_seen = 0

    async def stubborn() -> None:
        # what redis-py 8.2 sometimes does with a cancel that lands while it reads a reply
        nonlocal cancels_seen
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancels_seen += 1
        await asyncio.sleep(60)

    async def plain() -> None:
        await asyncio.sleep(60)

    tasks = [asyncio.create_task(stubborn()), asyncio.create_task(plain())]
    await asyncio.sleep(0)
    await asyncio.wait_for(stop_tasks(tasks), 10)
    assert all(task.cancelled() for task in tasks)
    assert cancels_seen == 1
