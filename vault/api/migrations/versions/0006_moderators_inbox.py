"""The moderators' inbox: items sealed to their recipients, and who may fetch each

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-08 00:20:00

``inbox_items`` holds each InboxEnvelope (protocol §8.8) under its group's item id, with a
cursor counted per group; ``inbox_recipients`` the keys it is sealed to, by which a member
fetches what is addressed to them, in cursor order.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "inbox_items",
        sa.Column("group_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("item_id", sa.LargeBinary(length=16), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("sender", sa.LargeBinary(length=32), nullable=False),
        sa.Column("envelope", sa.LargeBinary(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.group_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "item_id"),
        sa.UniqueConstraint("group_id", "cursor", name="uq_inbox_group_cursor"),
    )
    op.create_table(
        "inbox_recipients",
        sa.Column("group_id", sa.LargeBinary(length=32), nullable=False),
        sa.Column("recipient", sa.LargeBinary(length=32), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("item_id", sa.LargeBinary(length=16), nullable=False),
        sa.ForeignKeyConstraint(["group_id"], ["groups.group_id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("group_id", "recipient", "cursor"),
    )


def downgrade() -> None:
    op.drop_table("inbox_recipients")
    op.drop_table("inbox_items")
