"""users.external_id (the user's id in the system they were imported from), and the
(created_at, id) index the admin console pages by

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06 02:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.add_column(sa.Column("external_id", AutoString(length=255), nullable=True))
        batch_op.create_unique_constraint("uq_users_external_id", ["external_id"])
        batch_op.create_index("ix_users_created_at_id", ["created_at", "id"])


def downgrade() -> None:
    with op.batch_alter_table("users", schema=None) as batch_op:
        batch_op.drop_index("ix_users_created_at_id")
        batch_op.drop_constraint("uq_users_external_id", type_="unique")
        batch_op.drop_column("external_id")
