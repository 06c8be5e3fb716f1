"""What the control plane remembers about pumps: each flow's secrets (encrypted at rest) and
the run record the reconciler keeps per flow (start generation, crashes, backoff, activity)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime, utcnow


class FlowSecret(Base):
    """A named secret of a flow, read by the pump as `${secrets.NAME}`. Never returned by the
    API; `value_encrypted` is a Fernet token (pumps/secrets.py)."""

    __tablename__ = "flow_secrets"

    flow_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    name: Mapped[str] = mapped_column(String(128), primary_key=True)
    value_encrypted: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class PumpRun(Base):
    """The pump of one flow, as the orchestrator started it. No foreign key on purpose: when a
    flow is deleted this row outlives it until the reconciler has removed its pump and its
    Redis user."""

    __tablename__ = "pump_runs"

    flow_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(32), index=True)
    backend: Mapped[str] = mapped_column(String(20))
    generation: Mapped[int] = mapped_column(Integer, default=0)  # starts so far
    organism_sha256: Mapped[str | None] = mapped_column(String(64))  # what the pump runs
    started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    ready_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # first heartbeat seen
    last_activity_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_processed: Mapped[int] = mapped_column(Integer, default=0)
    crash_count: Mapped[int] = mapped_column(Integer, default=0)  # within the crash window
    crash_window_started_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    last_exit: Mapped[str | None] = mapped_column(Text)  # why the last pump ended
    restart_at: Mapped[datetime | None] = mapped_column(UtcDateTime)  # backoff: not before
