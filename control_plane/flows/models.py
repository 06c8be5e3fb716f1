"""A flow (current organism YAML, canvas layout, run state) and its immutable versions."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from sqlalchemy import JSON, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime, new_id, utcnow

DesiredState = Literal["stopped", "running"]
FlowStatus = Literal["stopped", "starting", "running", "idle", "error", "over_plan"]


class Flow(Base):
    __tablename__ = "flows"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_flows_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))  # = organism.name, a slug unique per tenant
    description: Mapped[str | None] = mapped_column(Text)  # = organism.description
    canvas_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    organism_yaml: Mapped[str] = mapped_column(Text)  # canonical (emitter output)
    # Circular with flow_versions.flow_id, hence use_alter (the migration adds it last).
    current_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("flow_versions.id", ondelete="SET NULL", use_alter=True)
    )
    desired_state: Mapped[str] = mapped_column(String(16), default="stopped")
    status: Mapped[str] = mapped_column(String(16), default="stopped")
    status_reason: Mapped[str | None] = mapped_column(Text)
    webhook_token_hash: Mapped[str | None] = mapped_column(String(64))
    # signs completion callbacks; sealed with the secrets key (callbacks/secret.py)
    signing_secret: Mapped[str | None] = mapped_column(String(255))
    event_token_hash: Mapped[str | None] = mapped_column(String(64))  # POST .../events/{topic}
    failure_url: Mapped[str | None] = mapped_column(Text)  # called for every failed execution
    # what the recorder keeps of this flow's executions: full | summary | errors
    # (control_plane/executions/README.md, "History level")
    history_level: Mapped[str] = mapped_column(String(16), default="full", server_default="full")
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FlowVersion(Base):
    """One saved organism, never changed after it is written."""

    __tablename__ = "flow_versions"
    __table_args__ = (UniqueConstraint("flow_id", "number"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    flow_id: Mapped[str] = mapped_column(String(32), ForeignKey("flows.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    organism_yaml: Mapped[str] = mapped_column(Text)
    canvas_state: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_hash: Mapped[str] = mapped_column(String(64))  # sha256 of organism_yaml
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class FlowSource(Base):
    """The organism YAML as its author wrote it (comments, quotes, order), kept beside the
    canonical form the pump runs. Shown instead of the canonical YAML while `content_hash`
    matches the flow's current version, i.e. while nothing but the author's text changed it."""

    __tablename__ = "flow_sources"

    flow_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("flows.id", ondelete="CASCADE"), primary_key=True
    )
    organism_source: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))  # of the canonical YAML it parses to
