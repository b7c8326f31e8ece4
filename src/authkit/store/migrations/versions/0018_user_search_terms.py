"""user_search_terms: the words of users' names and addresses, so the admin console finds
users by the start of any word by index; filled for the users already there

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-06 05:40:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString

from authkit.search_terms import terms_of

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

#: Users read and words written per round trip.
BATCH = 1000


def upgrade() -> None:
    terms_table = op.create_table(
        "user_search_terms",
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("term", AutoString(length=254), nullable=False),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("user_id", "term"),
    )
    with op.batch_alter_table("user_search_terms", schema=None) as batch_op:
        batch_op.create_index("ix_user_search_terms_term", ["term", "user_id"])
    assert terms_table is not None
    _fill(terms_table)


def _fill(terms_table: sa.Table) -> None:
    """The words of every user already in the database, a batch of users at a time."""
    bind = op.get_bind()
    users = sa.table(
        "users", sa.column("id", sa.String), sa.column("first_name"), sa.column("last_name")
    )
    addresses = sa.table("email_addresses", sa.column("user_id"), sa.column("normalized"))
    after = ""
    while True:
        batch = bind.execute(
            sa.select(users.c.id, users.c.first_name, users.c.last_name)
            .where(users.c.id > after)
            .order_by(users.c.id)
            .limit(BATCH)
        ).all()
        if not batch:
            return
        ids = [row.id for row in batch]
        held: dict[str, list[str]] = {}
        for user_id, normalized in bind.execute(
            sa.select(addresses.c.user_id, addresses.c.normalized).where(
                addresses.c.user_id.in_(ids)
            )
        ).all():
            held.setdefault(user_id, []).append(normalized)
        rows = [
            {"user_id": row.id, "term": term}
            for row in batch
            for term in sorted(terms_of(row.first_name, row.last_name, held.get(row.id, ())))
        ]
        if rows:
            bind.execute(terms_table.insert(), rows)
        after = ids[-1]


def downgrade() -> None:
    op.drop_table("user_search_terms")
