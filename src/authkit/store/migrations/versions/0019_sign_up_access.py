"""sign_up_invitations and waitlist_entries: who may make an account when sign-up is by
invitation or by waitlist

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-06 06:00:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sign_up_invitations",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("email", AutoString(length=254), nullable=False),
        sa.Column("normalized", AutoString(length=254), nullable=False),
        sa.Column("token_hash", AutoString(length=64), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("inviter_id", AutoString(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("accepted_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("sign_up_invitations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sign_up_invitations_normalized"), ["normalized"])
    op.create_table(
        "waitlist_entries",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("email", AutoString(length=254), nullable=False),
        sa.Column("normalized", AutoString(length=254), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("decided_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("normalized"),
    )


def downgrade() -> None:
    op.drop_table("waitlist_entries")
    op.drop_table("sign_up_invitations")
