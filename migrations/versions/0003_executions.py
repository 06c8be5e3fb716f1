"""Executions, execution steps, monthly execution counters and schedule state.

Revision ID: 0003_executions
Revises: 0002_pumps
Create Date: 2025-01-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_executions"
down_revision: str | None = "0002_pumps"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "executions",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("trigger", sa.String(63), nullable=False),
        sa.Column("trigger_kind", sa.String(16), nullable=False),
        sa.Column("target", sa.String(63), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("input_truncated", sa.Boolean(), nullable=False),
        sa.Column("outputs", sa.JSON(), nullable=True),
        sa.Column("outputs_truncated", sa.Boolean(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(63), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("retry_of", ID, nullable=True),
        sa.Column("steps", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=True),
        timestamp("created_at", nullable=False),
        timestamp("enqueued_at"),
        timestamp("started_at"),
        timestamp("first_step_at"),
        timestamp("finished_at"),
        sa.PrimaryKeyConstraint("id", name="pk_executions"),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_executions_flow_id_flows", ondelete="CASCADE"
        ),
        sa.UniqueConstraint(
            "flow_id", "idempotency_key", name="uq_executions_flow_id_idempotency_key"
        ),
    )
    op.create_index(
        "ix_executions_flow_id_created_at_id", "executions", ["flow_id", "created_at", "id"]
    )
    op.create_index("ix_executions_status_created_at", "executions", ["status", "created_at"])
    op.create_index("ix_executions_created_at_id", "executions", ["created_at", "id"])

    op.create_table(
        "execution_steps",
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("listener", sa.String(63), nullable=False),
        sa.Column("handler", sa.String(255), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("output", sa.JSON(), nullable=True),
        sa.Column("truncated", sa.Boolean(), nullable=False),
        sa.Column("routed_to", sa.JSON(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reason", sa.String(63), nullable=True),
        sa.Column("usage", sa.JSON(), nullable=True),
        timestamp("started_at"),
        timestamp("finished_at"),
        sa.Column("duration_ms", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("execution_id", "step", name="pk_execution_steps"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_execution_steps_execution_id_executions",
            ondelete="CASCADE",
        ),
    )

    op.create_table(
        "execution_counters",
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("executions", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("flow_id", "month", name="pk_execution_counters"),
    )
    op.create_index(
        "ix_execution_counters_tenant_id_month", "execution_counters", ["tenant_id", "month"]
    )

    op.create_table(
        "schedule_states",
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("trigger_name", sa.String(63), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("target", sa.String(63), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("cron", sa.String(255), nullable=False),
        sa.Column("timezone", sa.String(63), nullable=False),
        timestamp("next_fire_at", nullable=False),
        timestamp("last_fired_at"),
        sa.PrimaryKeyConstraint("flow_id", "trigger_name", name="pk_schedule_states"),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_schedule_states_flow_id_flows", ondelete="CASCADE"
        ),
    )
    op.create_index("ix_schedule_states_next_fire_at", "schedule_states", ["next_fire_at"])


def downgrade() -> None:
    op.drop_index("ix_schedule_states_next_fire_at", table_name="schedule_states")
    op.drop_table("schedule_states")
    op.drop_index("ix_execution_counters_tenant_id_month", table_name="execution_counters")
    op.drop_table("execution_counters")
    op.drop_table("execution_steps")
    op.drop_index("ix_executions_created_at_id", table_name="executions")
    op.drop_index("ix_executions_status_created_at", table_name="executions")
    op.drop_index("ix_executions_flow_id_created_at_id", table_name="executions")
    op.drop_table("executions")
