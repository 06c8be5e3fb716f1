"""Executions (one per accepted trigger), their steps, and monthly execution counters.

Executions and steps go with their flow (ON DELETE CASCADE). `execution_counters` has no
foreign key and is kept apart from `executions` so that neither retention nor deleting a
flow lowers the month's usage a quota is checked against."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    JSON,
    Boolean,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime

ExecutionStatus = Literal["queued", "running", "waiting", "succeeded", "failed", "cancelled"]
EXECUTION_STATUSES: tuple[ExecutionStatus, ...] = (
    "queued",
    "running",
    "waiting",
    "succeeded",
    "failed",
    "cancelled",
)
FINAL_STATUSES: frozenset[str] = frozenset({"succeeded", "failed", "cancelled"})
StepStatus = Literal["running", "succeeded", "failed"]


class Execution(Base):
    __tablename__ = "executions"
    __table_args__ = (
        UniqueConstraint(
            "flow_id", "idempotency_key", name="uq_executions_flow_id_idempotency_key"
        ),
        Index("ix_executions_flow_id_created_at_id", "flow_id", "created_at", "id"),
        Index("ix_executions_status_created_at", "status", "created_at"),
        Index("ix_executions_created_at_id", "created_at", "id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(String(32), ForeignKey("flows.id", ondelete="CASCADE"))
    status: Mapped[str] = mapped_column(String(16))
    trigger: Mapped[str] = mapped_column(String(63))  # organism trigger name, or "manual"
    trigger_kind: Mapped[str] = mapped_column(String(16))  # webhook | manual | schedule | retry
    target: Mapped[str] = mapped_column(String(63))
    input: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    input_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    outputs: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    outputs_truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(63))
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    retry_of: Mapped[str | None] = mapped_column(String(32))
    steps: Mapped[int] = mapped_column(Integer, default=0)
    duration_ms: Mapped[float | None] = mapped_column(Float)
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))  # token totals
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    # Set once the trigger entry is known to be on the flow's stream (see triggers/reaper.py).
    enqueued_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    first_step_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    # Completion callback (callbacks/): where to POST the result, and how delivery went.
    callback_url: Mapped[str | None] = mapped_column(Text)
    callback_token: Mapped[str | None] = mapped_column(Text)
    callback_status: Mapped[str | None] = mapped_column(String(16))  # delivered|callback_failed
    callback_error: Mapped[str | None] = mapped_column(Text)
    rerun_of: Mapped[str | None] = mapped_column(String(32))
    rerun_from_step: Mapped[int | None] = mapped_column(Integer)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_event_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # stall detection


class ExecutionStep(Base):
    __tablename__ = "execution_steps"
    __table_args__ = (
        # the recorder's usage look-up (recording.STEP_USAGE) reads only steps with usage
        Index(
            "ix_execution_steps_usage",
            "execution_id",
            postgresql_where=text("usage IS NOT NULL"),
            sqlite_where=text("usage IS NOT NULL"),
        ),
    )

    execution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("executions.id", ondelete="CASCADE"), primary_key=True
    )
    step: Mapped[int] = mapped_column(Integer, primary_key=True)
    listener: Mapped[str] = mapped_column(String(63))
    handler: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    input: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    output: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    truncated: Mapped[bool] = mapped_column(Boolean, default=False)
    routed_to: Mapped[list[str] | None] = mapped_column(JSON(none_as_null=True))
    error: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(String(63))
    usage: Mapped[dict[str, Any] | None] = mapped_column(JSON(none_as_null=True))
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    duration_ms: Mapped[float | None] = mapped_column(Float)


class ExecutionCounter(Base):
    """Executions created per flow and calendar month (UTC), for quotas and the flow list."""

    __tablename__ = "execution_counters"
    __table_args__ = (Index("ix_execution_counters_tenant_id_month", "tenant_id", "month"),)

    flow_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    month: Mapped[str] = mapped_column(String(7), primary_key=True)  # "2025-01"
    tenant_id: Mapped[str] = mapped_column(String(32))
    executions: Mapped[int] = mapped_column(Integer, default=0)
