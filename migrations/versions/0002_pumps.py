"""Pumps: flow secrets (encrypted) and the reconciler's per-flow run records.

Revision ID: 0002_pumps
Revises: 0001_foundation
Create Date: 2025-01-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_pumps"
down_revision: str | None = "0001_foundation"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "flow_secrets",
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("value_encrypted", sa.Text(), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_secrets_flow_id_flows", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("flow_id", "name", name="pk_flow_secrets"),
    )
    op.create_table(
        "pump_runs",
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("backend", sa.String(20), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("organism_sha256", sa.String(64), nullable=True),
        timestamp("started_at"),
        timestamp("ready_at"),
        timestamp("last_activity_at"),
        sa.Column("last_processed", sa.Integer(), nullable=False),
        sa.Column("crash_count", sa.Integer(), nullable=False),
        timestamp("crash_window_started_at"),
        sa.Column("last_exit", sa.Text(), nullable=True),
        timestamp("restart_at"),
        sa.PrimaryKeyConstraint("flow_id", name="pk_pump_runs"),
    )
    op.create_index("ix_pump_runs_tenant_id", "pump_runs", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_pump_runs_tenant_id", table_name="pump_runs")
    op.drop_table("pump_runs")
    op.drop_table("flow_secrets")
