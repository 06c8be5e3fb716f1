"""Foundation: tenants, users, memberships, auth tokens, flows and flow versions.

Revision ID: 0001_foundation
Revises:
Create Date: 2025-01-01
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0001_foundation"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = False) -> sa.Column[Any]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "tenants",
        sa.Column("id", ID, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("tier", sa.String(20), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_tenants"),
    )
    op.create_table(
        "users",
        sa.Column("id", ID, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("password_hash", sa.String(200), nullable=True),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_users"),
        sa.UniqueConstraint("email", name="uq_users_email"),
    )
    op.create_table(
        "memberships",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("tenant_id", "user_id", name="pk_memberships"),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_memberships_tenant_id_tenants",
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_memberships_user_id_users", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_memberships_user_id", "memberships", ["user_id"])
    op.create_table(
        "auth_tokens",
        sa.Column("id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("user_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("name", sa.String(100), nullable=True),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        timestamp("created_at"),
        timestamp("expires_at", nullable=True),
        timestamp("last_used_at", nullable=True),
        timestamp("revoked_at", nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_auth_tokens"),
        sa.UniqueConstraint("token_hash", name="uq_auth_tokens_token_hash"),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name="fk_auth_tokens_user_id_users", ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["tenant_id"],
            ["tenants.id"],
            name="fk_auth_tokens_tenant_id_tenants",
            ondelete="CASCADE",
        ),
    )
    op.create_index("ix_auth_tokens_user_id_kind", "auth_tokens", ["user_id", "kind"])
    op.create_index("ix_auth_tokens_tenant_id", "auth_tokens", ["tenant_id"])

    # flows.current_version_id and flow_versions.flow_id refer to each other: create both
    # tables, then add the flows -> flow_versions key.
    op.create_table(
        "flows",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("canvas_state", sa.JSON(), nullable=False),
        sa.Column("organism_yaml", sa.Text(), nullable=False),
        sa.Column("current_version_id", ID, nullable=True),
        sa.Column("desired_state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.Text(), nullable=True),
        sa.Column("webhook_token_hash", sa.String(64), nullable=True),
        timestamp("created_at"),
        timestamp("updated_at"),
        sa.PrimaryKeyConstraint("id", name="pk_flows"),
        sa.UniqueConstraint("tenant_id", "name", name="uq_flows_tenant_id"),
        sa.ForeignKeyConstraint(
            ["tenant_id"], ["tenants.id"], name="fk_flows_tenant_id_tenants", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_flows_tenant_id_created_at", "flows", ["tenant_id", "created_at"])
    op.create_table(
        "flow_versions",
        sa.Column("id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("organism_yaml", sa.Text(), nullable=False),
        sa.Column("canvas_state", sa.JSON(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name="pk_flow_versions"),
        sa.UniqueConstraint("flow_id", "number", name="uq_flow_versions_flow_id"),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_versions_flow_id_flows", ondelete="CASCADE"
        ),
    )
    with op.batch_alter_table("flows") as batch:
        batch.create_foreign_key(
            "fk_flows_current_version_id_flow_versions",
            "flow_versions",
            ["current_version_id"],
            ["id"],
            ondelete="SET NULL",
        )


def downgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.drop_constraint("fk_flows_current_version_id_flow_versions", type_="foreignkey")
    op.drop_table("flow_versions")
    op.drop_index("ix_flows_tenant_id_created_at", table_name="flows")
    op.drop_table("flows")
    op.drop_index("ix_auth_tokens_tenant_id", table_name="auth_tokens")
    op.drop_index("ix_auth_tokens_user_id_kind", table_name="auth_tokens")
    op.drop_table("auth_tokens")
    op.drop_index("ix_memberships_user_id", table_name="memberships")
    op.drop_table("memberships")
    op.drop_table("users")
    op.drop_table("tenants")
