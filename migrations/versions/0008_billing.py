"""Billing and teams: Stripe accounts, applied webhook events, usage reports, invitations,
the audit log, and Clerk identities on users.

Revision ID: 0008_billing
Revises: 0006_modules
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_billing"
down_revision: str | None = "0006_modules"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

ID = sa.String(32)


def timestamp(name: str, *, nullable: bool = True) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def tenant_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        ["tenant_id"], ["tenants.id"], name=f"fk_{table}_tenant_id_tenants", ondelete="CASCADE"
    )


def upgrade() -> None:
    with op.batch_alter_table("tenants") as tenants:
        tenants.add_column(timestamp("deletion_scheduled_at"))
    with op.batch_alter_table("users") as users:
        users.add_column(sa.Column("clerk_user_id", sa.String(64), nullable=True))
        users.add_column(timestamp("disabled_at"))
        users.create_unique_constraint("uq_users_clerk_user_id", ["clerk_user_id"])
    op.create_table(
        "billing_accounts",
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=True),
        sa.Column("stripe_subscription_id", sa.String(255), nullable=True),
        sa.Column("subscription_status", sa.String(32), nullable=True),
        timestamp("grace_until"),
        timestamp("updated_at", nullable=False),
        tenant_fk("billing_accounts"),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_billing_accounts"),
        sa.UniqueConstraint(
            "stripe_customer_id", name="uq_billing_accounts_stripe_customer_id"
        ),
    )
    op.create_table(
        "webhook_events",
        sa.Column("id", sa.String(255), nullable=False),
        sa.Column("type", sa.String(100), nullable=False),
        timestamp("received_at", nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_events"),
    )
    op.create_table(
        "usage_reports",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("month", sa.String(7), nullable=False),
        sa.Column("quantity", sa.Integer(), nullable=False),
        sa.Column("through", sa.Integer(), nullable=False),
        sa.Column("stripe_customer_id", sa.String(255), nullable=False),
        timestamp("created_at", nullable=False),
        timestamp("sent_at"),
        tenant_fk("usage_reports"),
        sa.PrimaryKeyConstraint("id", name="pk_usage_reports"),
        sa.UniqueConstraint("tenant_id", "month", "through", name="uq_usage_reports_tenant_id"),
    )
    op.create_index("ix_usage_reports_sent_at", "usage_reports", ["sent_at"])
    op.create_table(
        "invitations",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("email", sa.String(254), nullable=False),
        sa.Column("role", sa.String(20), nullable=False),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("invited_by", ID, nullable=True),
        timestamp("created_at", nullable=False),
        timestamp("expires_at", nullable=False),
        timestamp("accepted_at"),
        sa.Column("accepted_by", ID, nullable=True),
        timestamp("revoked_at"),
        tenant_fk("invitations"),
        sa.PrimaryKeyConstraint("id", name="pk_invitations"),
        sa.UniqueConstraint("token_hash", name="uq_invitations_token_hash"),
    )
    op.create_index("ix_invitations_tenant_id", "invitations", ["tenant_id"])
    op.create_table(
        "audit_events",
        sa.Column("id", ID, nullable=False),
        sa.Column("tenant_id", ID, nullable=False),
        sa.Column("user_id", ID, nullable=True),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("target_type", sa.String(40), nullable=False),
        sa.Column("target_id", sa.String(64), nullable=True),
        sa.Column("summary", sa.Text(), nullable=False),
        timestamp("created_at", nullable=False),
        tenant_fk("audit_events"),
        sa.PrimaryKeyConstraint("id", name="pk_audit_events"),
    )
    op.create_index(
        "ix_audit_events_tenant_id_created_at", "audit_events", ["tenant_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_tenant_id_created_at", table_name="audit_events")
    op.drop_table("audit_events")
    op.drop_index("ix_invitations_tenant_id", table_name="invitations")
    op.drop_table("invitations")
    op.drop_index("ix_usage_reports_sent_at", table_name="usage_reports")
    op.drop_table("usage_reports")
    op.drop_table("webhook_events")
    op.drop_table("billing_accounts")
    with op.batch_alter_table("users") as users:
        users.drop_constraint("uq_users_clerk_user_id", type_="unique")
        users.drop_column("disabled_at")
        users.drop_column("clerk_user_id")
    with op.batch_alter_table("tenants") as tenants:
        tenants.drop_column("deletion_scheduled_at")
