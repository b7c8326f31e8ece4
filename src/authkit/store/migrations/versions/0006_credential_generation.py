"""credential generation on users, sessions and sign-in attempts

A session made under an older credential generation than its user's no longer refreshes.
Existing rows all start at generation 0, together.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04 22:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

TABLES = ("users", "sessions", "sign_in_attempts")


def upgrade() -> None:
    for table in TABLES:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(
                sa.Column("credential_generation", sa.Integer(), nullable=False, server_default="0")
            )


def downgrade() -> None:
    for table in reversed(TABLES):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("credential_generation")
