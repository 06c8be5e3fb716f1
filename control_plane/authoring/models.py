"""Saved, named test payloads of a flow (the Run dialog offers them)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime, new_id, utcnow


class FlowSample(Base):
    __tablename__ = "flow_samples"
    __table_args__ = (UniqueConstraint("flow_id", "name"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(String(32), ForeignKey("flows.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))
    payload: Mapped[Any] = mapped_column(JSON(none_as_null=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
