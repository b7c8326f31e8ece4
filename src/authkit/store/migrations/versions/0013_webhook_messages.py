"""webhook_messages: the webhook outbox and delivery log

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06 02:10:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_messages",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("endpoint_url", AutoString(length=2048), nullable=False),
        sa.Column("endpoint_key", AutoString(length=16), nullable=False),
        sa.Column("event_type", AutoString(length=64), nullable=False),
        sa.Column("ordering_key", AutoString(length=260), nullable=False),
        sa.Column("payload_encrypted", sa.Text(), nullable=False),
        sa.Column("state", AutoString(length=16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("next_attempt_at", UTCDateTime(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("claimed_until", UTCDateTime(), nullable=True),
        sa.Column("delivered_at", UTCDateTime(), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", AutoString(length=200), nullable=False),
        sa.Column("replay_of", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("webhook_messages", schema=None) as batch_op:
        batch_op.create_index("ix_webhook_messages_due", ["state", "next_attempt_at"])
        batch_op.create_index("ix_webhook_messages_order", ["endpoint_key", "ordering_key", "seq"])
        batch_op.create_index(batch_op.f("ix_webhook_messages_id"), ["id"], unique=False)


def downgrade() -> None:
    op.drop_table("webhook_messages")
