"""Durable waits, one-off schedules, completion callbacks, cancel, stall detection, rerun.

Revision ID: 0009_waits
Revises: 0006_modules
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_waits"
down_revision: str | None = "0008_billing"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    with op.batch_alter_table("executions") as table:
        table.add_column(sa.Column("callback_url", sa.Text(), nullable=True))
        table.add_column(sa.Column("callback_token", sa.Text(), nullable=True))
        table.add_column(sa.Column("callback_status", sa.String(16), nullable=True))
        table.add_column(sa.Column("callback_error", sa.Text(), nullable=True))
        table.add_column(sa.Column("rerun_of", ID, nullable=True))
        table.add_column(sa.Column("rerun_from_step", sa.Integer(), nullable=True))
        table.add_column(timestamp("cancel_requested_at"))
        table.add_column(timestamp("last_event_at"))
    with op.batch_alter_table("flows") as table:
        table.add_column(sa.Column("signing_secret", sa.String(64), nullable=True))
        table.add_column(sa.Column("event_token_hash", sa.String(64), nullable=True))
        table.add_column(sa.Column("failure_url", sa.Text(), nullable=True))
    op.create_table(
        "execution_waits",
        sa.Column("id", ID, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("step", sa.Integer(), nullable=False),
        sa.Column("listener", sa.String(63), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(63), nullable=True),
        sa.Column("correlation_id", sa.String(255), nullable=True),
        sa.Column("message", sa.Text(), nullable=True),
        sa.Column("on_timeout", sa.String(63), nullable=True),
        sa.Column("input", sa.JSON(), nullable=True),
        sa.Column("continuation", sa.JSON(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=True),
        sa.Column("resume_payload", sa.JSON(), nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=True),
        timestamp("fire_at"),
        timestamp("timeout_at"),
        timestamp("due_at"),
        timestamp("created_at", nullable=False),
        timestamp("claimed_at"),
        timestamp("resumed_at"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_execution_waits_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_execution_waits"),
        sa.UniqueConstraint("execution_id", "step", name="uq_execution_waits_execution_id"),
    )
    op.create_index("ix_execution_waits_status_due_at", "execution_waits", ["status", "due_at"])
    op.create_index(
        "ix_execution_waits_flow_topic_correlation",
        "execution_waits",
        ["flow_id", "topic", "correlation_id", "status"],
    )
    op.create_table(
        "one_off_jobs",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("trigger", sa.String(63), nullable=True),
        sa.Column("payload", sa.JSON(), nullable=True),
        sa.Column("idempotency_key", sa.String(255), nullable=True),
        sa.Column("callback_url", sa.Text(), nullable=True),
        sa.Column("callback_token", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("execution_id", ID, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        timestamp("fire_at", nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("fired_at"),
        sa.ForeignKeyConstraint(
            ["flow_id"], ["flows.id"], name="fk_one_off_jobs_flow_id_flows", ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_one_off_jobs"),
        sa.UniqueConstraint(
            "flow_id", "idempotency_key", name="uq_one_off_jobs_flow_id"
        ),
    )
    op.create_index("ix_one_off_jobs_status_fire_at", "one_off_jobs", ["status", "fire_at"])
    op.create_table(
        "callback_deliveries",
        sa.Column("id", ID, nullable=False),
        sa.Column("execution_id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("flow_id", ID, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("token", sa.Text(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        timestamp("next_attempt_at", nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("delivered_at"),
        sa.ForeignKeyConstraint(
            ["execution_id"],
            ["executions.id"],
            name="fk_callback_deliveries_execution_id_executions",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name="pk_callback_deliveries"),
        sa.UniqueConstraint(
            "execution_id", "kind", name="uq_callback_deliveries_execution_id"
        ),
    )
    op.create_index(
        "ix_callback_deliveries_status_next_attempt_at",
        "callback_deliveries",
        ["status", "next_attempt_at"],
    )


def downgrade() -> None:
    op.drop_index("ix_callback_deliveries_status_next_attempt_at", "callback_deliveries")
    op.drop_table("callback_deliveries")
    op.drop_index("ix_one_off_jobs_status_fire_at", "one_off_jobs")
    op.drop_table("one_off_jobs")
    op.drop_index("ix_execution_waits_flow_topic_correlation", "execution_waits")
    op.drop_index("ix_execution_waits_status_due_at", "execution_waits")
    op.drop_table("execution_waits")
    with op.batch_alter_table("flows") as table:
        for column in ("failure_url", "event_token_hash", "signing_secret"):
            table.drop_column(column)
    with op.batch_alter_table("executions") as table:
        for column in (
            "last_event_at", "cancel_requested_at", "rerun_from_step", "rerun_of",
            "callback_error", "callback_status", "callback_token", "callback_url",
        ):  # fmt: skip
            table.drop_column(column)
