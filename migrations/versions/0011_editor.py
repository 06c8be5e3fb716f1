"""Editor: webhook tokens kept encrypted (the owner can always copy the URL), organism YAML as
its author wrote it, and saved sample payloads per flow.

Revision ID: 0011_editor
Revises: 0006_modules
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_editor"
down_revision: str | None = "0010_marketplace"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "flow_webhook_tokens",
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("token_encrypted", sa.Text(), nullable=False),
        timestamp("created_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_webhook_tokens_flow_id_flows",
            ondelete="CASCADE",
        ),  # fmt: skip
        sa.PrimaryKeyConstraint("flow_id", name="pk_flow_webhook_tokens"),
    )
    op.create_table(
        "flow_sources",
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("organism_source", sa.Text(), nullable=False),
        sa.Column("content_hash", sa.String(64), nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_sources_flow_id_flows", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("flow_id", name="pk_flow_sources"),
    )
    op.create_table(
        "flow_samples",
        sa.Column("id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("name", sa.String(63), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        timestamp("created_at", nullable=False),
        timestamp("updated_at", nullable=False),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_flow_samples_flow_id_flows", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_flow_samples"),
        sa.UniqueConstraint("flow_id", "name", name="uq_flow_samples_flow_id"),
    )


def downgrade() -> None:
    op.drop_table("flow_samples")
    op.drop_table("flow_sources")
    op.drop_table("flow_webhook_tokens")
