"""invite uses from the verified log; every blob names its post

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02 10:12:40.118204

* ``invites.uses``: how often the verified log has used the invite (JOIN entries, ADD entries
  naming it). Existing rows are filled in from each group's stored log, verified again by
  vault.crypto (the rules that accepted it). If a group's stored log no longer verifies, its
  invites are marked used up (such a group accepts no entry anyway; fail closed).
* ``blobs.post_id``: the post an attachment belongs to, so it is deleted with that post.
  Blobs stored before this revision belong to a post the relay cannot know: they get the
  empty value (``vault.api.models.LEGACY_POST_ID``, never a post id, which is 16 bytes), and
  the purge leaves them alone: they are kept, as they were before.
* index ``ix_blobs_group_post`` on (group_id, post_id, created_at_ms).

Both columns are added with a server default so that existing rows get a value. PostgreSQL
then drops the default (new rows always carry both values); SQLite keeps it, since removing
it would copy the whole table (every attachment) for nothing.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

_INVITES = sa.table(
    "invites",
    sa.column("group_id", sa.LargeBinary()),
    sa.column("invite_id", sa.LargeBinary()),
    sa.column("max_uses", sa.BigInteger()),
    sa.column("uses", sa.BigInteger()),
)
_LOG = sa.table(
    "log_entries",
    sa.column("group_id", sa.LargeBinary()),
    sa.column("seq", sa.BigInteger()),
    sa.column("raw", sa.LargeBinary()),
)


def _fill_invite_uses() -> None:
    from vault.crypto.errors import VaultError
    from vault.crypto.log_verify import verify_log

    bind = op.get_bind()
    group_ids = bind.execute(sa.select(_INVITES.c.group_id).distinct()).scalars().all()
    for group_id in group_ids:
        raws = bind.execute(
            sa.select(_LOG.c.raw).where(_LOG.c.group_id == group_id).order_by(_LOG.c.seq)
        ).scalars().all()
        mine = _INVITES.c.group_id == group_id
        try:
            state = verify_log(bytes(group_id), [bytes(raw) for raw in raws])
        except VaultError:
            bind.execute(sa.update(_INVITES).where(mine).values(uses=_INVITES.c.max_uses))
            continue
        for invite_id, invite in state.invites.items():
            if invite.uses:
                bind.execute(
                    sa.update(_INVITES)
                    .where(mine, _INVITES.c.invite_id == invite_id)
                    .values(uses=invite.uses)
                )


def upgrade() -> None:
    postgresql = op.get_bind().dialect.name == "postgresql"
    empty = "''::bytea" if postgresql else "X''"
    # Plain ALTER TABLE ... ADD COLUMN on both (a batch operation would copy the whole
    # table on SQLite, every attachment included).
    op.add_column(
        "invites",
        sa.Column("uses", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    )
    op.add_column(
        "blobs",
        sa.Column("post_id", sa.LargeBinary(length=16), nullable=False,
                  server_default=sa.text(empty)),
    )
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.create_index(
            "ix_blobs_group_post", ["group_id", "post_id", "created_at_ms"], unique=False
        )
    _fill_invite_uses()
    if postgresql:
        op.alter_column("invites", "uses", server_default=None)
        op.alter_column("blobs", "post_id", server_default=None)


def downgrade() -> None:
    with op.batch_alter_table("blobs", schema=None) as batch_op:
        batch_op.drop_index("ix_blobs_group_post")
        batch_op.drop_column("post_id")
    with op.batch_alter_table("invites", schema=None) as batch_op:
        batch_op.drop_column("uses")
