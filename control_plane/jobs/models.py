"""One-off schedules: a trigger to fire once, at a time or after a delay."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime

JOB_STATUSES = ("pending", "fired", "cancelled", "failed")


class OneOffJob(Base):
    __tablename__ = "one_off_jobs"
    __table_args__ = (
        UniqueConstraint("flow_id", "idempotency_key", name="uq_one_off_jobs_flow_id"),
        Index("ix_one_off_jobs_status_fire_at", "status", "fire_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(String(32), ForeignKey("flows.id", ondelete="CASCADE"))
    trigger: Mapped[str | None] = mapped_column(String(63))
    payload: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(255))
    callback_url: Mapped[str | None] = mapped_column(Text)
    callback_token: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    execution_id: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None] = mapped_column(Text)
    fire_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
