"""Deleting a group: a tombstone column on groups

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07 19:00:00

``groups.deleted_at_ms`` is set when an owner's DELETE_GROUP entry is accepted; the group's
other rows are purged in the same transaction and only the group row and that entry stay.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.add_column(sa.Column("deleted_at_ms", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("groups") as batch:
        batch.drop_column("deleted_at_ms")
