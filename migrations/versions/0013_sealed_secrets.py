"""Callback signing secrets sealed with the secrets key: room for the sealed value.

Revision ID: 0013_sealed_secrets
Revises: 0012_perf
Create Date: 2026-12-07
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_sealed_secrets"
down_revision: str | None = "0012_perf"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    # Values stored in clear are sealed when the app starts (callbacks/secret.py): sealing
    # needs the secrets key, which a migration does not have.
    with op.batch_alter_table("flows") as batch:
        batch.alter_column(
            "signing_secret",
            type_=sa.String(255),
            existing_type=sa.String(64),
            existing_nullable=True,
        )


def downgrade() -> None:
    # A sealed value does not fit the old column: an earlier version makes a new secret.
    op.execute(sa.text("UPDATE flows SET signing_secret = NULL WHERE length(signing_secret) > 64"))
    with op.batch_alter_table("flows") as batch:
        batch.alter_column(
            "signing_secret",
            type_=sa.String(64),
            existing_type=sa.String(255),
            existing_nullable=True,
        )
