"""refresh token rotation: per-session salt, generation and rotation time

Sessions started before this revision carry no salt, so their refresh tokens stop
working: those browsers sign in once more.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("refresh_salt", AutoString(length=32), nullable=False, server_default="")
        )
        batch_op.add_column(
            sa.Column("refresh_generation", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("refresh_rotated_at", UTCDateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("refresh_rotated_at")
        batch_op.drop_column("refresh_generation")
        batch_op.drop_column("refresh_salt")
