"""per-account rate-limit hits in the database

Without Redis, the per-account counters (whose windows reach 30 days) move out of process
memory, where a flood of made-up addresses could push them out, into this table.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-05 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rate_limit_hits",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("bucket", sa.String(length=80), nullable=False),
        sa.Column("at", sa.Float(), nullable=False),
        sa.Column("expires", sa.Float(), nullable=False),
    )
    op.create_index("ix_rate_limit_hits_bucket", "rate_limit_hits", ["bucket"])
    op.create_index("ix_rate_limit_hits_expires", "rate_limit_hits", ["expires"])


def downgrade() -> None:
    op.drop_index("ix_rate_limit_hits_expires", table_name="rate_limit_hits")
    op.drop_index("ix_rate_limit_hits_bucket", table_name="rate_limit_hits")
    op.drop_table("rate_limit_hits")
