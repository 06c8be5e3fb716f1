"""Marketplace: listings, signed versions, installations, reviews, reports, full-text search.

Revision ID: 0010_marketplace
Revises: 0008_billing
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_marketplace"
down_revision: str | None = "0009_waits"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def upgrade() -> None:
    op.create_table(
        "marketplace_listings",
        sa.Column("id", ID, nullable=False),
        sa.Column("slug", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("title", sa.String(120), nullable=False),
        sa.Column("summary", sa.String(300), nullable=False),
        sa.Column("readme", sa.Text(), nullable=False),
        sa.Column("category", sa.String(40), nullable=False),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("icon", sa.String(16), nullable=True),
        sa.Column("visibility", sa.String(10), nullable=False),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("latest_version", sa.String(64), nullable=False),
        sa.Column("install_count", sa.Integer(), nullable=False),
        sa.Column("rating_sum", sa.Integer(), nullable=False),
        sa.Column("rating_count", sa.Integer(), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("updated_at", nullable=False),
        _fk("marketplace_listings", "tenant_id", "tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_marketplace_listings"),
        sa.UniqueConstraint("slug", name="uq_marketplace_listings_slug"),
    )
    op.create_index("ix_marketplace_listings_tenant_id", "marketplace_listings", ["tenant_id"])
    op.create_table(
        "marketplace_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("listing_id", ID, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("module_version_id", ID, nullable=True),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("config_schema", sa.JSON(), nullable=True),
        sa.Column("organism_yaml", sa.Text(), nullable=True),
        sa.Column("canvas_state", sa.JSON(), nullable=True),
        sa.Column("required_secrets", sa.JSON(), nullable=False),
        sa.Column("required_tools", sa.JSON(), nullable=False),
        sa.Column("signature", sa.String(128), nullable=False),
        sa.Column("key_id", sa.String(16), nullable=False),
        timestamp("yanked_at"),
        sa.Column("created_by", ID, nullable=True),
        timestamp("created_at", nullable=False),
        _fk("marketplace_versions", "listing_id", "marketplace_listings"),
        _fk("marketplace_versions", "module_version_id", "module_versions", "SET NULL"),
        sa.PrimaryKeyConstraint("id", name="pk_marketplace_versions"),
        sa.UniqueConstraint("listing_id", "version", name="uq_marketplace_versions_listing_id"),
    )
    op.create_index("ix_marketplace_versions_sha256", "marketplace_versions", ["sha256"])
    op.create_table(
        "marketplace_installs",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("listing_id", ID, nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("granted", sa.JSON(), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("removed_at"),
        _fk("marketplace_installs", "tenant_id", "tenants"),
        _fk("marketplace_installs", "listing_id", "marketplace_listings"),
        sa.PrimaryKeyConstraint("id", name="pk_marketplace_installs"),
        sa.UniqueConstraint("tenant_id", "listing_id", name="uq_marketplace_installs_tenant_id"),
    )
    op.create_index("ix_marketplace_installs_listing_id", "marketplace_installs", ["listing_id"])
    op.create_table(
        "marketplace_reviews",
        sa.Column("id", ID, nullable=False),
        sa.Column("listing_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("rating", sa.Integer(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("updated_at", nullable=False),
        _fk("marketplace_reviews", "listing_id", "marketplace_listings"),
        _fk("marketplace_reviews", "tenant_id", "tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_marketplace_reviews"),
        sa.UniqueConstraint("listing_id", "tenant_id", name="uq_marketplace_reviews_listing_id"),
    )
    op.create_table(
        "marketplace_reports",
        sa.Column("id", ID, nullable=False),
        sa.Column("listing_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        timestamp("created_at", nullable=False),
        _fk("marketplace_reports", "listing_id", "marketplace_listings"),
        _fk("marketplace_reports", "tenant_id", "tenants"),
        sa.PrimaryKeyConstraint("id", name="pk_marketplace_reports"),
    )
    op.create_index("ix_marketplace_reports_listing_id", "marketplace_reports", ["listing_id"])
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE INDEX ix_marketplace_listings_search ON marketplace_listings "
            "USING gin (to_tsvector('english', search_text))"
        )
    else:
        op.execute(
            "CREATE VIRTUAL TABLE marketplace_listings_fts USING fts5("
            "listing_id UNINDEXED, body, tokenize = 'porter unicode61')"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_marketplace_listings_search")
    else:
        op.execute("DROP TABLE IF EXISTS marketplace_listings_fts")
    op.drop_index("ix_marketplace_reports_listing_id", table_name="marketplace_reports")
    op.drop_table("marketplace_reports")
    op.drop_table("marketplace_reviews")
    op.drop_index("ix_marketplace_installs_listing_id", table_name="marketplace_installs")
    op.drop_table("marketplace_installs")
    op.drop_index("ix_marketplace_versions_sha256", table_name="marketplace_versions")
    op.drop_table("marketplace_versions")
    op.drop_index("ix_marketplace_listings_tenant_id", table_name="marketplace_listings")
    op.drop_table("marketplace_listings")
