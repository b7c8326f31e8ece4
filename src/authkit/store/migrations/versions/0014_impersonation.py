"""sessions.actor_*: an admin signed in as the user (impersonation)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06 02:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("actor_user_id", AutoString(length=40), nullable=True))
        batch_op.add_column(sa.Column("actor_session_id", AutoString(length=40), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("actor_session_id")
        batch_op.drop_column("actor_user_id")
