"""A workspace's WASM modules and their immutable, content-addressed versions (migration
`0006_modules`). The bytes live in the blob store under `sha256`; a row never changes after it
is written, so `wasm:<name>@<number>` always means the same code."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime, new_id, utcnow


class Module(Base):
    __tablename__ = "modules"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        Index("ix_modules_tenant_id_created_at", "tenant_id", "created_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(63))  # a slug: flows say wasm:<name>@<version>
    description: Mapped[str | None] = mapped_column(Text)
    latest_version: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ModuleVersion(Base):
    """One build or upload, never changed after it is written."""

    __tablename__ = "module_versions"
    __table_args__ = (
        UniqueConstraint("module_id", "number"),
        Index("ix_module_versions_sha256", "sha256"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    module_id: Mapped[str] = mapped_column(String(32), ForeignKey("modules.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    size_bytes: Mapped[int] = mapped_column(Integer)
    source_kind: Mapped[str] = mapped_column(String(16))  # "assemblyscript" | "wasm"
    source: Mapped[str | None] = mapped_column(Text)  # AssemblyScript; null for uploads
    exports: Mapped[list[dict[str, Any]]] = mapped_column(JSON)  # [{name, kind, signature}]
    imports: Mapped[list[str]] = mapped_column(JSON)  # host functions it imports from flowplane
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON)  # {http_fetch: {hosts: [..]}}
    build_log: Mapped[str | None] = mapped_column(Text)
    build_ms: Mapped[float | None] = mapped_column(Float)
    toolchain: Mapped[str | None] = mapped_column(String(64))  # "assemblyscript 0.28.20"
    created_by: Mapped[str | None] = mapped_column(String(32))  # user id
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
