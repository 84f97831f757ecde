"""What the relay stores. Nothing here is plaintext a member wrote.

* ``groups``: the head of each group's verified log plus two counters (current epoch and
  the event sequence that orders posts and log entries for cursors and long-polls).
* ``log_entries``: the exact signed entry bytes (public keys, roles, invite public keys,
  epoch commitments, encrypted metadata).
* ``members`` / ``invites``: derived from accepted entries, for enforcement only.
* ``join_requests``: signed join requests awaiting an admin.
* ``auth_challenges`` / ``sessions``: single-use challenges; session tokens only hashed.
* ``grants``: sealed epoch-key grants, routed by (epoch, recipient).
* ``posts``: padded ciphertext envelopes (erased on delete, leaving a tombstone).
* ``blobs``: encrypted attachment bytes, each tagged with the id of the post it belongs to
  (named by the uploader; deleted with that post, or as an orphan when no such post came).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from vault.api.db import db


class Blob(TypeDecorator[bytes]):
    """A binary column (``LargeBinary`` in the schema), bound as the bytes it is.

    SQLAlchemy's ``LargeBinary`` wraps every value it sends in the driver's ``Binary``: one
    Python call per value, for drivers that cannot tell bytes from text. The relay's two
    drivers (sqlite3 and psycopg; :mod:`vault.api.settings` allows no other) take ``bytes``
    as a BLOB / ``bytea`` as they are, and a rotation's upload binds 25,000 of them.

    Values bound here are bytes: each comes from a decoder that returns bytes (a ``str``
    would not be refused: SQLite would store it as TEXT). Migrations write the column as
    ``LargeBinary`` (:func:`vault.api.schema_version.render_item`)."""

    impl = LargeBinary
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Any:
        return None


_GROUP_FK = "groups.group_id"


class Group(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "groups"

    group_id: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    head_seq: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[bytes] = mapped_column(Blob(32))
    epoch: Mapped[int] = mapped_column(BigInteger)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    deleted_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    """When an owner deleted the group: then only this row and the DELETE_GROUP entry (at
    ``head_seq``) are kept, a tombstone (vault/api/purge.py, purge_group)."""


class LogEntryRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "log_entries"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    entry_hash: Mapped[bytes] = mapped_column(Blob(32))
    raw: Mapped[bytes] = mapped_column(Blob)
    event_seq: Mapped[int] = mapped_column(BigInteger)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_log_entries_group_event", "group_id", "event_seq"),)


class MemberRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "members"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    sign_pk: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    role: Mapped[int] = mapped_column(SmallInteger)
    joined_seq: Mapped[int] = mapped_column(BigInteger)
    removed_seq: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class InviteRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "invites"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    invite_id: Mapped[bytes] = mapped_column(Blob(16), primary_key=True)
    invite_pk: Mapped[bytes] = mapped_column(Blob(32))
    max_uses: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int] = mapped_column(BigInteger)
    requires_approval: Mapped[bool] = mapped_column(Boolean)
    revoked: Mapped[bool] = mapped_column(Boolean)
    # join requests the relay accepted for this invite (counted atomically)
    redemptions: Mapped[int] = mapped_column(BigInteger)
    # uses in the verified log (JOIN entries, ADD entries with this invite)
    uses: Mapped[int] = mapped_column(BigInteger)
    # the rules card an admin published for it (a CardEnvelope: ciphertext), if any
    card: Mapped[bytes | None] = mapped_column(Blob, nullable=True, default=None)

    @property
    def used_up(self) -> bool:
        """Used as often as it allows, by the verified log or by accepted join requests."""
        return self.uses >= self.max_uses or self.redemptions >= self.max_uses


class JoinRequestRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "join_requests"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    joiner_pk: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    invite_id: Mapped[bytes] = mapped_column(Blob(16))
    raw: Mapped[bytes] = mapped_column(Blob)
    # the joiner's signed RulesAcceptance sent with the request, if any
    acceptance: Mapped[bytes | None] = mapped_column(Blob, nullable=True, default=None)
    status: Mapped[int] = mapped_column(SmallInteger)  # 0 pending, 1 approved, 2 denied
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class AuthChallenge(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "auth_challenges"

    challenge: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE")
    )
    kind: Mapped[int] = mapped_column(SmallInteger)
    subject: Mapped[bytes] = mapped_column(Blob(32))
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class SessionRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "sessions"

    token_hash: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE")
    )
    kind: Mapped[int] = mapped_column(SmallInteger)
    subject: Mapped[bytes] = mapped_column(Blob(32))
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, index=True)


class GrantRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "grants"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    recipient: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    epoch: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    raw: Mapped[bytes] = mapped_column(Blob)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class PostRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "posts"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    post_id: Mapped[bytes] = mapped_column(Blob(16), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(BigInteger)
    uploader: Mapped[bytes] = mapped_column(Blob(32))
    envelope: Mapped[bytes | None] = mapped_column(Blob, nullable=True)
    deleted: Mapped[bool] = mapped_column(Boolean)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    expires_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True, index=True)

    __table_args__ = (UniqueConstraint("group_id", "cursor", name="uq_posts_group_cursor"),)


class BlobRow(db.Model):  # type: ignore[name-defined,misc]
    __tablename__ = "blobs"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    blob_id: Mapped[bytes] = mapped_column(Blob(16), primary_key=True)
    uploader: Mapped[bytes] = mapped_column(Blob(32))
    data: Mapped[bytes] = mapped_column(Blob)
    size: Mapped[int] = mapped_column(Integer)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    # The post this attachment belongs to (16 bytes), or LEGACY_POST_ID for a blob stored
    # before blobs named their post (schema 0001): those are kept.
    post_id: Mapped[bytes] = mapped_column(Blob(16))

    # (group_id, post_id) finds a post's blobs; created_at_ms makes the index cover the
    # orphan sweep (in SQLite a row's created_at_ms lies after its attachment bytes).
    __table_args__ = (Index("ix_blobs_group_post", "group_id", "post_id", "created_at_ms"),)


LEGACY_POST_ID = b""  # never a post id (those are 16 bytes)


class InboxItemRow(db.Model):  # type: ignore[name-defined,misc]
    """An item of the moderators' inbox (an InboxEnvelope: ciphertext sealed to each of its
    recipients, protocol §8.8), stored as its sender uploaded it."""

    __tablename__ = "inbox_items"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    item_id: Mapped[bytes] = mapped_column(Blob(16), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger)
    sender: Mapped[bytes] = mapped_column(Blob(32))
    envelope: Mapped[bytes] = mapped_column(Blob)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (UniqueConstraint("group_id", "cursor", name="uq_inbox_group_cursor"),)


class InboxRecipientRow(db.Model):  # type: ignore[name-defined,misc]
    """Who may fetch an inbox item: the recipients its envelope lists."""

    __tablename__ = "inbox_recipients"

    group_id: Mapped[bytes] = mapped_column(
        Blob(32), ForeignKey(_GROUP_FK, ondelete="CASCADE"), primary_key=True
    )
    recipient: Mapped[bytes] = mapped_column(Blob(32), primary_key=True)
    cursor: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    item_id: Mapped[bytes] = mapped_column(Blob(16))


ALL_TABLES = (
    "inbox_recipients",
    "inbox_items",
    "blobs",
    "posts",
    "grants",
    "sessions",
    "auth_challenges",
    "join_requests",
    "invites",
    "members",
    "log_entries",
    "groups",
)
