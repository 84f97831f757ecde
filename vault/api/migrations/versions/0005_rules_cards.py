"""Rules cards and acceptances: a card per invite, an acceptance per join request

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-07 22:00:00

``invites.card`` holds the CardEnvelope an admin published for the invite (protocol §8.7);
``join_requests.acceptance`` the RulesAcceptance a joiner sent with the request. Both are
optional: invites and requests made before them have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("invites") as batch:
        batch.add_column(sa.Column("card", sa.LargeBinary(), nullable=True))
    with op.batch_alter_table("join_requests") as batch:
        batch.add_column(sa.Column("acceptance", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("join_requests") as batch:
        batch.drop_column("acceptance")
    with op.batch_alter_table("invites") as batch:
        batch.drop_column("card")
