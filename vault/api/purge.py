"""Deleting what the relay must no longer keep: expired posts and their attachments, orphan
attachments, challenges and sessions."""

from __future__ import annotations

from sqlalchemy import Connection, and_, delete, exists, select, tuple_, update
from sqlalchemy.orm import aliased

from vault.api.db import affected, write_txn
from vault.api.models import (
    LEGACY_POST_ID,
    AuthChallenge,
    BlobRow,
    GrantRow,
    Group,
    InboxItemRow,
    InboxRecipientRow,
    InviteRow,
    JoinRequestRow,
    LogEntryRow,
    MemberRow,
    PostRow,
    SessionRow,
)
from vault.api.util import now_ms as current_ms

NO_SYNC = {"synchronize_session": False}
# A client uploads a post's attachments just before the post: an attachment whose post is not
# stored (or was deleted) this long after its upload is an orphan.
ORPHAN_BLOB_GRACE_MS = 24 * 3600 * 1000


def purge_expired(now_ms: int | None = None) -> dict[str, int]:
    """Delete expired posts (rows and ciphertext) and their attachments, orphan attachments,
    expired challenges and sessions.

    Runs inside an app context; returns how many rows of each kind went. Expired posts are
    never served even before they are purged. Attachments stored before blobs named their
    post (``LEGACY_POST_ID``) are kept.
    """
    now = current_ms() if now_ms is None else now_ms
    expired = and_(PostRow.expires_at_ms.is_not(None), PostRow.expires_at_ms <= now)
    cutoff = now - ORPHAN_BLOB_GRACE_MS
    # The orphans' (group, post) pairs are found from the index on (group_id, post_id,
    # created_at_ms) alone: in SQLite a row's later columns lie after its attachment bytes,
    # which a scan of the table would read through, every minute.
    blob = aliased(BlobRow)
    orphans = select(blob.group_id, blob.post_id).where(
        blob.created_at_ms <= cutoff, blob.post_id != LEGACY_POST_ID,
        ~exists().where(PostRow.group_id == blob.group_id, PostRow.post_id == blob.post_id,
                        PostRow.deleted.is_(False)))
    with write_txn() as tx:
        blobs = affected(tx.execute(
            delete(BlobRow).where(tuple_(BlobRow.group_id, BlobRow.post_id).in_(
                select(PostRow.group_id, PostRow.post_id).where(expired))),
            execution_options=NO_SYNC,
        ))
        posts = affected(tx.execute(delete(PostRow).where(expired), execution_options=NO_SYNC))
        blobs += affected(tx.execute(
            delete(BlobRow).where(BlobRow.created_at_ms <= cutoff,
                                  tuple_(BlobRow.group_id, BlobRow.post_id).in_(orphans)),
            execution_options=NO_SYNC,
        ))
        challenges = affected(tx.execute(
            delete(AuthChallenge).where(AuthChallenge.expires_at_ms <= now),
            execution_options=NO_SYNC,
        ))
        sessions = affected(tx.execute(
            delete(SessionRow).where(SessionRow.expires_at_ms <= now),
            execution_options=NO_SYNC,
        ))
    return {"posts": int(posts), "blobs": int(blobs), "challenges": int(challenges),
            "sessions": int(sessions)}


# In the order purge_expired deletes the tables both touch (blobs, posts, challenges,
# sessions), so the two never wait for each other's rows in opposite orders.
_GROUP_ROWS = (BlobRow, PostRow, GrantRow, JoinRequestRow, InviteRow, AuthChallenge, SessionRow,
               MemberRow, InboxRecipientRow, InboxItemRow)


def purge_group(conn: Connection, group_id: bytes, deletion_seq: int, now_ms: int) -> None:
    """Delete everything kept for a group an owner deleted, on *conn* inside the transaction
    that stored the DELETE_GROUP entry at *deletion_seq*: its posts, attachments, grants,
    join requests, invites, sessions, challenges, member rows and every log entry before
    that one, and the moderators' inbox. What stays, a tombstone: the group row (marked
    deleted) and that entry."""
    for model in _GROUP_ROWS:
        conn.execute(delete(model).where(model.group_id == group_id))
    conn.execute(delete(LogEntryRow).where(LogEntryRow.group_id == group_id,
                                           LogEntryRow.seq < deletion_seq))
    conn.execute(update(Group).where(Group.group_id == group_id)
                 .values(deleted_at_ms=now_ms))
