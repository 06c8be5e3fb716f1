"""The callback outbox: one row per delivery owed when an execution ends."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime

# kind: "callback" (the trigger's callback_url) | "failure" (the flow's failure notification)
# waiting: its execution has not ended; pending: due at next_attempt_at; delivered; failed
DELIVERY_STATUSES = ("waiting", "pending", "delivered", "failed")


class CallbackDelivery(Base):
    __tablename__ = "callback_deliveries"
    __table_args__ = (
        UniqueConstraint("execution_id", "kind", name="uq_callback_deliveries_execution_id"),
        Index("ix_callback_deliveries_status_next_attempt_at", "status", "next_attempt_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    execution_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("executions.id", ondelete="CASCADE")
    )
    tenant_id: Mapped[str] = mapped_column(String(32))
    flow_id: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(16))
    url: Mapped[str] = mapped_column(Text)
    token: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
