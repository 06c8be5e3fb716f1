"""Events kept for a wait that has not parked yet (`keep_seconds` on POST .../events/{topic}).

Revision ID: 0014_kept_events
Revises: 0013_sealed_secrets
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_kept_events"
down_revision: str | None = "0013_sealed_secrets"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def upgrade() -> None:
    op.create_table(
        "kept_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("topic", sa.String(63), nullable=False),
        sa.Column("correlation_id", sa.String(255), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_kept_events_flow_id_flows", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_kept_events"),
    )
    op.create_index(
        "ix_kept_events_flow_topic_correlation",
        "kept_events",
        ["flow_id", "topic", "correlation_id"],
    )
    op.create_index("ix_kept_events_expires_at", "kept_events", ["expires_at"])
    op.create_index("ix_kept_events_tenant_id", "kept_events", ["tenant_id"])


def downgrade() -> None:
    op.drop_index("ix_kept_events_tenant_id", "kept_events")
    op.drop_index("ix_kept_events_expires_at", "kept_events")
    op.drop_index("ix_kept_events_flow_topic_correlation", "kept_events")
    op.drop_table("kept_events")
