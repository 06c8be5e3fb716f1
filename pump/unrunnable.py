"""Trigger entries that never run: cancelled before they ran, malformed, or poison (their pump
died on every delivery). Each is recorded as a failed execution, then acknowledged."""

from __future__ import annotations

from pump.events import encode_event, run_key_of
from pump.keys import EVENT_STREAM_MAXLEN, EXECUTION_STATE_TTL_SECONDS, TRIGGER_GROUP, FlowKeys
from pump.writer import RedisWriter


def record_failed(
    writer: RedisWriter, keys: FlowKeys, execution_id: str, reason: str, error: str
) -> None:
    data = {"reason": reason, "error": error, "steps": 0, "duration_ms": 0}
    writer.xadd(
        keys.events,
        encode_event("execution.failed", execution_id, data),
        maxlen=EVENT_STREAM_MAXLEN,
    )


def skip_cancelled(writer: RedisWriter, keys: FlowKeys, entry_id: str, execution_id: str) -> None:
    record_failed(
        writer, keys, execution_id, "cancelled", "the execution was cancelled before it ran"
    )
    writer.ack(keys.triggers, TRIGGER_GROUP, entry_id)


def reject_malformed(
    writer: RedisWriter, keys: FlowKeys, entry_id: str, fields: dict[str, str], message: str
) -> None:
    execution_id = fields.get("execution_id")
    if execution_id:
        record_failed(writer, keys, execution_id, "invalid_trigger", message)
    writer.ack(keys.triggers, TRIGGER_GROUP, entry_id)


def fail_poison(
    writer: RedisWriter, keys: FlowKeys, entry_id: str, fields: dict[str, str], message: str
) -> None:
    """Its buffered messages go and its run key is marked failed, so no later delivery runs it."""
    execution_id = fields.get("execution_id", "")
    state = keys.execution_state(run_key_of(fields))
    if execution_id:
        record_failed(writer, keys, execution_id, "poison_message", message)
        writer.send("DEL", keys.buffer(execution_id))
        writer.send("SET", state, "failed", "EX", EXECUTION_STATE_TTL_SECONDS)
    writer.ack(keys.triggers, TRIGGER_GROUP, entry_id, forget=state if execution_id else None)
