"""Waits: executions parked by a `builtin.wait` step, kept here until they resume."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime

# pending: waiting for its condition; resuming: claimed, its resume entry being enqueued;
# resumed: on the stream; closed: ended without resuming (rejected, timed out, cancelled)
WAIT_STATUSES = ("pending", "resuming", "resumed", "closed")


class ExecutionWait(Base):
    __tablename__ = "execution_waits"
    __table_args__ = (
        UniqueConstraint("execution_id", "step", name="uq_execution_waits_execution_id"),
        Index("ix_execution_waits_status_due_at", "status", "due_at"),
        Index(
            "ix_execution_waits_flow_topic_correlation",
            "flow_id",
            "topic",
            "correlation_id",
            "status",
        ),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("executions.id", ondelete="CASCADE")
    )
    tenant_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(String(32))
    step: Mapped[int] = mapped_column(Integer)
    listener: Mapped[str] = mapped_column(String(63))
    kind: Mapped[str] = mapped_column(String(16))  # timer | event | approval
    topic: Mapped[str | None] = mapped_column(String(63))
    correlation_id: Mapped[str | None] = mapped_column(String(255))
    message: Mapped[str | None] = mapped_column(Text)
    on_timeout: Mapped[str | None] = mapped_column(String(63))
    input: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    continuation: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16))
    # resumed (timer, event, approved) | timeout | rejected | cancelled
    outcome: Mapped[str | None] = mapped_column(String(16))
    resume_payload: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    decided_by: Mapped[str | None] = mapped_column(String(255))
    fire_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # a timer's moment
    timeout_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # the earlier of the two
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    claimed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    resumed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class KeptEvent(Base):
    """An event sent with `keep_seconds` that no execution was waiting for: it resumes the
    first wait for its (topic, correlation_id) that parks before `expires_at`, then goes."""

    __tablename__ = "kept_events"
    __table_args__ = (
        Index("ix_kept_events_flow_topic_correlation", "flow_id", "topic", "correlation_id"),
        Index("ix_kept_events_expires_at", "expires_at"),
        Index("ix_kept_events_tenant_id", "tenant_id"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(String(32), ForeignKey("flows.id", ondelete="CASCADE"))
    topic: Mapped[str] = mapped_column(String(63))
    correlation_id: Mapped[str] = mapped_column(String(255))
    payload: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    expires_at: Mapped[datetime] = mapped_column(UtcDateTime)
