"""Schedule state: when each schedule trigger of each running flow fires next."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime


class ScheduleState(Base):
    """One row per (running flow, schedule trigger). The scheduler claims due rows with
    `FOR UPDATE SKIP LOCKED` and moves `next_fire_at` forward in the transaction that inserts
    the execution, so replicas never fire one tick twice (see triggers/README.md)."""

    __tablename__ = "schedule_states"
    __table_args__ = (Index("ix_schedule_states_next_fire_at", "next_fire_at"),)

    flow_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    trigger_name: Mapped[str] = mapped_column(String(63), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(63))
    payload: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    # What next_fire_at was computed from; a change in the organism recomputes it.
    cron: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(63))
    next_fire_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class WebhookToken(Base):
    """The flow's current webhook token, Fernet-encrypted like flow secrets, beside the hash on
    `flows.webhook_token_hash` (which the trigger path checks): the owner can always see and
    copy the full webhook URL, and the database alone does not reveal it."""

    __tablename__ = "flow_webhook_tokens"

    flow_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    token_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
