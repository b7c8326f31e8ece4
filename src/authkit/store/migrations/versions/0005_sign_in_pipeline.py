"""sign-in pipeline: attempts, authenticators, recovery codes, factors on sessions

Sessions started before this revision were all started with a password: they get
`amr = ["password"]` and their creation time as the time of that factor.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04 19:30:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("amr", sa.JSON(), nullable=False, server_default="[]"))
        batch_op.add_column(sa.Column("first_factor_at", UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column("second_factor_at", UTCDateTime(), nullable=True))
    op.execute("UPDATE sessions SET amr = '[\"password\"]', first_factor_at = created_at")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.alter_column("amr", server_default=None)

    op.create_table(
        "sign_in_attempts",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("purpose", AutoString(length=16), nullable=False),
        sa.Column("status", AutoString(length=32), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=True),
        sa.Column("identifier", AutoString(length=254), nullable=False),
        sa.Column("browser_hash", AutoString(length=64), nullable=False),
        sa.Column("session_id", AutoString(length=40), nullable=True),
        sa.Column("first_factor", AutoString(length=32), nullable=True),
        sa.Column("first_factor_at", UTCDateTime(), nullable=True),
        sa.Column("second_factor", AutoString(length=32), nullable=True),
        sa.Column("second_factor_at", UTCDateTime(), nullable=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("completed_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_sign_in_attempts_expires_at"), ["expires_at"], unique=False
        )

    op.create_table(
        "authenticators",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("kind", AutoString(length=16), nullable=False),
        sa.Column("name", AutoString(length=100), nullable=False),
        sa.Column("secret_encrypted", sa.Text(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("confirmed_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_at", UTCDateTime(), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("authenticators", schema=None) as batch_op:
        batch_op.create_index("ix_authenticators_user_id_kind", ["user_id", "kind"], unique=True)

    op.create_table(
        "recovery_codes",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("code_hash", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("used_at", UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_recovery_codes_user_id_code_hash", ["user_id", "code_hash"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("recovery_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_recovery_codes_user_id_code_hash")
    op.drop_table("recovery_codes")
    with op.batch_alter_table("authenticators", schema=None) as batch_op:
        batch_op.drop_index("ix_authenticators_user_id_kind")
    op.drop_table("authenticators")
    with op.batch_alter_table("sign_in_attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sign_in_attempts_expires_at"))
    op.drop_table("sign_in_attempts")
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("second_factor_at")
        batch_op.drop_column("first_factor_at")
        batch_op.drop_column("amr")
