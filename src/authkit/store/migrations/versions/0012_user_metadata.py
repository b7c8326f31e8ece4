"""user metadata: public, private and unsafe JSON objects on every user

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 22:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

KINDS = ("public_metadata", "private_metadata", "unsafe_metadata")


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for kind in KINDS:
            # Existing users start with empty objects; new rows get theirs from the model.
            batch_op.add_column(sa.Column(kind, sa.JSON(), nullable=False, server_default="{}"))
    with op.batch_alter_table("users", schema=None) as batch_op:
        for kind in KINDS:
            batch_op.alter_column(kind, server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        for kind in KINDS:
            batch_op.drop_column(kind)
