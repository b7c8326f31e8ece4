"""organizations: memberships with roles, invitations, verified domains, logos, and the
session's active organization

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-06 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlmodel.sql.sqltypes import AutoString, UTCDateTime

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "organizations",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("name", AutoString(length=100), nullable=False),
        sa.Column("slug", AutoString(length=64), nullable=False),
        sa.Column("image_hash", AutoString(length=64), nullable=True),
        sa.Column("public_metadata", sa.JSON(), nullable=False),
        sa.Column("private_metadata", sa.JSON(), nullable=False),
        sa.Column("created_by", AutoString(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("slug"),
    )
    op.create_table(
        "organization_logos",
        sa.Column("organization_id", AutoString(length=40), nullable=False),
        sa.Column("content_hash", AutoString(length=64), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("organization_id"),
    )
    op.create_table(
        "organization_memberships",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("organization_id", AutoString(length=40), nullable=False),
        sa.Column("user_id", AutoString(length=40), nullable=False),
        sa.Column("role", AutoString(length=64), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("organization_id", "user_id", name="uq_membership_org_user"),
    )
    with op.batch_alter_table("organization_memberships", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_memberships_organization_id"), ["organization_id"]
        )
        batch_op.create_index(batch_op.f("ix_organization_memberships_user_id"), ["user_id"])
    op.create_table(
        "organization_invitations",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("organization_id", AutoString(length=40), nullable=False),
        sa.Column("email", AutoString(length=254), nullable=False),
        sa.Column("normalized", AutoString(length=254), nullable=False),
        sa.Column("role", AutoString(length=64), nullable=False),
        sa.Column("status", AutoString(length=16), nullable=False),
        sa.Column("token_hash", AutoString(length=64), nullable=False),
        sa.Column("inviter_id", AutoString(length=40), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("updated_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("token_hash"),
    )
    with op.batch_alter_table("organization_invitations", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_invitations_organization_id"), ["organization_id"]
        )
        batch_op.create_index(batch_op.f("ix_organization_invitations_normalized"), ["normalized"])
    op.create_table(
        "organization_domains",
        sa.Column("id", AutoString(length=40), nullable=False),
        sa.Column("organization_id", AutoString(length=40), nullable=False),
        sa.Column("domain", AutoString(length=254), nullable=False),
        sa.Column("enrollment", AutoString(length=16), nullable=False),
        sa.Column("verified_at", UTCDateTime(), nullable=True),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(["organization_id"], ["organizations.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("domain"),
    )
    with op.batch_alter_table("organization_domains", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_organization_domains_organization_id"), ["organization_id"]
        )
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("active_organization_id", AutoString(length=40), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table("sessions", schema=None) as batch_op:
        batch_op.drop_column("active_organization_id")
    op.drop_table("organization_domains")
    op.drop_table("organization_invitations")
    op.drop_table("organization_memberships")
    op.drop_table("organization_logos")
    op.drop_table("organizations")
