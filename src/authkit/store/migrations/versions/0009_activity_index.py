"""activity paging: one index on (user_id, at, id) for the security activity list

The profile lists a user's events newest first with (at, id) as the cursor; the index
on user_id alone made each page sort all of a user's events. The new index starts with
user_id, so it serves every lookup the old one did, which goes.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 18:40:00
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_user_id_at_id", ["user_id", "at", "id"])
        batch_op.drop_index(batch_op.f("ix_audit_events_user_id"))


def downgrade() -> None:
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_audit_events_user_id"), ["user_id"], unique=False)
        batch_op.drop_index("ix_audit_events_user_id_at_id")
