"""Modules: a workspace's WASM modules and their immutable, content-addressed versions.

Revision ID: 0006_modules
Revises: 0003_executions
Create Date: 2025-01-06
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006_modules"
down_revision: str | None = "0003_executions"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "modules",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_modules_tenant_id_tenants", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_modules"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_modules_tenant_id"),
    )
    op.create_index("ix_modules_tenant_id_created_at", "modules", ["tenant_id", "created_at"])
    op.create_table(
        "module_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("module_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("source_kind", sa.String(16), nullable=False),
        sa.Column("source", sa.Text(), nullable=True),
        sa.Column("exports", sa.JSON(), nullable=False),
        sa.Column("imports", sa.JSON(), nullable=False),
        sa.Column("capabilities", sa.JSON(), nullable=False),
        sa.Column("build_log", sa.Text(), nullable=True),
        sa.Column("build_ms", sa.Float(), nullable=True),
        sa.Column("toolchain", sa.String(64), nullable=True),
        sa.Column("created_by", ID, nullable=True),
        timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["module_id"],
            ["modules.id"],
            name="fk_module_versions_module_id_modules",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_module_versions"),
        sa.UniqueConstraint("module_id", "number", name="uq_module_versions_module_id"),
    )
    op.create_index("ix_module_versions_sha256", "module_versions", ["sha256"])


def downgrade() -> None:
    op.drop_index("ix_module_versions_sha256", table_name="module_versions")
    op.drop_table("module_versions")
    op.drop_index("ix_modules_tenant_id_created_at", table_name="modules")
    op.drop_table("modules")
