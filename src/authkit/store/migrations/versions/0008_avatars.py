"""avatars: profile pictures, and the current one's hash on users

The picture (a 256 px WebP authkit encoded itself) lives in its own table; the user row
keeps only its hash, so loading a user knows the picture's URL without reading it.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05 12:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("image_hash", AutoString(length=64), nullable=True))
    op.create_table(
        "avatars",
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )


def downgrade() -> None:
    op.drop_table("avatars")
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_column("image_hash")
