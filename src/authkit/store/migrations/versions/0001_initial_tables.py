"""initial tables

Revision ID: 0001
Revises:
Create Date: 2026-11-26 23:24:28.221408
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.Column("event", AutoString(length=64), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=True),
        sa.Column("session_id", AutoString(length=40), nullable=True),
        sa.Column("ip_address", AutoString(length=64), nullable=False),
        sa.Column("user_agent", AutoString(length=512), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_event"), ["event"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_events_user_id"), ["user_id"], unique=False)

    op.create_table(
        "signing_keys",
        sa.Column("kid", AutoString(length=64), nullable=False),
        sa.Column("algorithm", AutoString(length=16), nullable=False),
        sa.Column("public_jwk", sa.String(length=1024), nullable=False),
        sa.Column("private_key_encrypted", sa.String(length=1024), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("retired_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("kid"),
    )
    op.create_table(
        "users",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("first_name", AutoString(length=100), nullable=False),
        sa.Column("last_name", AutoString(length=100), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("banned_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "verification_codes",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("purpose", AutoString(length=32), nullable=False),
        sa.Column("email", AutoString(length=254), nullable=False),
        sa.Column("email_normalized", AutoString(length=254), nullable=False),
        sa.Column("code_hash", AutoString(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("sends", sa.Integer(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_sent_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("consumed_at", UTCDateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.create_index(
            "ix_verification_codes_purpose_email", ["purpose", "email_normalized"], unique=False
        )

    op.create_table(
        "email_addresses",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("email", AutoString(length=254), nullable=False),
        sa.Column("normalized", AutoString(length=254), nullable=False),
        sa.Column("is_primary", sa.Boolean(), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("normalized"),
    )
    with op.batch_alter_table("email_addresses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_email_addresses_user_id"), ["user_id"], unique=False)

    op.create_table(
        "password_credentials",
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("password_hash", AutoString(length=512), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id"),
    )
    op.create_table(
        "sessions",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("refresh_hash", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("last_active_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.Column("revoked_at", UTCDateTime(), nullable=True),
        sa.Column("user_agent", AutoString(length=512), nullable=False),
        sa.Column("ip_address", AutoString(length=64), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sessions_user_id"), ["user_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sessions_user_id"))

    op.drop_table("sessions")
    op.drop_table("password_credentials")
    with op.batch_alter_table("email_addresses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_email_addresses_user_id"))

    op.drop_table("email_addresses")
    with op.batch_alter_table("verification_codes", schema=None) as batch_op:
        batch_op.drop_index("ix_verification_codes_purpose_email")

    op.drop_table("verification_codes")
    op.drop_table("users")
    op.drop_table("signing_keys")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_audit_events_user_id"))
        batch_op.drop_index(batch_op.f("ix_audit_events_event"))
        batch_op.drop_index(batch_op.f("ix_audit_events_at"))

    op.drop_table("audit_events")
