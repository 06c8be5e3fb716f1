"""Performance: a partial index for the recorder's usage look-up; per-flow history level.

Revision ID: 0012_perf
Revises: 0006_modules
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_perf"
down_revision: str | None = "0011_editor"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

USAGE_PRESENT = sa.text("usage IS NOT NULL")


def upgrade() -> None:
    # The recorder sums the steps' token usage of every execution that finishes
    # (recording.STEP_USAGE); few steps carry usage, so this index holds only those and the
    # look-up reads no step row of an execution without usage, however long the history.
    op.create_index(
        "ix_execution_steps_usage",
        "execution_steps",
        ["execution_id"],
        postgresql_where=USAGE_PRESENT,
        sqlite_where=USAGE_PRESENT,
    )
    with op.batch_alter_table("flows") as batch:
        batch.add_column(
            sa.Column("history_level", sa.String(16), nullable=False, server_default="full")
        )


def downgrade() -> None:
    with op.batch_alter_table("flows") as batch:
        batch.drop_column("history_level")
    op.drop_index("ix_execution_steps_usage", table_name="execution_steps")
