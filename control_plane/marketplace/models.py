"""The marketplace (migration `0010_marketplace`): listings (a `tool` or a flow template), their
immutable signed versions, installations, reviews and reports.

Search: on Postgres a GIN index over `to_tsvector('english', search_text)`; on SQLite the FTS5
table `marketplace_listings_fts` (not a model: the migration creates it, `search.py` keeps it)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    literal_column,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from control_plane.db import Base, UtcDateTime, new_id, utcnow


class Listing(Base):
    __tablename__ = "marketplace_listings"
    __table_args__ = (
        Index("ix_marketplace_listings_tenant_id", "tenant_id"),
        # Postgres only (SQLite searches its FTS5 table)
        Index(
            "ix_marketplace_listings_search",
            func.to_tsvector(literal_column("'english'"), text("search_text")),
            postgresql_using="gin",
        ).ddl_if(dialect="postgresql"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    slug: Mapped[str] = mapped_column(String(63), unique=True)  # tool:<slug>@<version>
    kind: Mapped[str] = mapped_column(String(8))  # "tool" | "flow"
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(String(120))
    summary: Mapped[str] = mapped_column(String(300))
    readme: Mapped[str] = mapped_column(Text)  # Markdown; rendered sanitized (readme.py)
    category: Mapped[str] = mapped_column(String(40))
    tags: Mapped[list[str]] = mapped_column(JSON)
    icon: Mapped[str | None] = mapped_column(String(16))  # an emoji or short text
    visibility: Mapped[str] = mapped_column(String(10))  # "public" | "unlisted" | "private"
    status: Mapped[str] = mapped_column(String(10), default="active")  # | "unlisted" | "removed"
    search_text: Mapped[str] = mapped_column(Text)  # title, summary, tags, category
    latest_version: Mapped[str] = mapped_column(String(64))
    install_count: Mapped[int] = mapped_column(Integer, default=0)
    rating_sum: Mapped[int] = mapped_column(Integer, default=0)
    rating_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class ListingVersion(Base):
    """One published version, never changed after it is written (a yank only marks it)."""

    __tablename__ = "marketplace_versions"
    __table_args__ = (UniqueConstraint("listing_id", "version"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("marketplace_listings.id", ondelete="CASCADE")
    )
    version: Mapped[str] = mapped_column(String(64))  # semver
    # tool: the module version it was published from and what was signed
    module_version_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("module_versions.id", ondelete="SET NULL")
    )
    sha256: Mapped[str] = mapped_column(String(64), index=True)  # tool: the WASM; flow: content
    capabilities: Mapped[dict[str, Any]] = mapped_column(JSON)  # {http_fetch: {hosts: [..]}}
    config_schema: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    # flow template: organism and canvas without secret values, what it needs
    organism_yaml: Mapped[str | None] = mapped_column(Text)
    canvas_state: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    required_secrets: Mapped[list[str]] = mapped_column(JSON)
    required_tools: Mapped[list[str]] = mapped_column(JSON)  # ["tool:<slug>@<version>"]
    signature: Mapped[str] = mapped_column(String(128))  # base64 Ed25519 (signing.py)
    key_id: Mapped[str] = mapped_column(String(16))  # first hex of sha256(public key)
    yanked_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
    created_by: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Installation(Base):
    """A workspace's installation of a tool (pinned version, granted capabilities) or its use
    of a template. `removed_at` set: uninstalled (kept: it allowed a review)."""

    __tablename__ = "marketplace_installs"
    __table_args__ = (UniqueConstraint("tenant_id", "listing_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    listing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("marketplace_listings.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[str] = mapped_column(String(64))
    granted: Mapped[dict[str, Any]] = mapped_column(JSON)  # the capabilities granted, as declared
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class Review(Base):
    __tablename__ = "marketplace_reviews"
    __table_args__ = (UniqueConstraint("listing_id", "tenant_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("marketplace_listings.id", ondelete="CASCADE")
    )
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    rating: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)


class Report(Base):
    __tablename__ = "marketplace_reports"

    id: Mapped[str] = mapped_column(String(32), primary_key=True, default=new_id)
    listing_id: Mapped[str] = mapped_column(
        String(32), ForeignKey("marketplace_listings.id", ondelete="CASCADE"), index=True
    )
    tenant_id: Mapped[str] = mapped_column(String(32), ForeignKey("tenants.id", ondelete="CASCADE"))
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime, default=utcnow)
