"""Posts: idempotent upload on the client's post id, cursor pages, tombstones.

PUT    /v1/groups/<gid>/posts/<post_id>   new -> 201; same bytes again -> 200 (same cursor);
                                          other bytes -> 409 post_conflict
GET    /v1/groups/<gid>/posts             ?after=<cursor>&limit=L, or ?newest=L
DELETE /v1/groups/<gid>/posts/<post_id>   uploader or moderator+: erase the ciphertext, keep
                                          a tombstone at a new cursor so syncing clients learn it
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.api.authn import authenticate
from vault.api.blueprints.common import ID16, NO_SYNC, group_id_param, next_event
from vault.api.db import db, write_txn
from vault.api.models import Group, PostRow
from vault.api.registry import Call, api_route
from vault.api.schemas import (
    MAX_ENVELOPE_BYTES,
    PostDeleted,
    PostItem,
    PostsPage,
    PostsQuery,
    PostStored,
    PutPostRequest,
)
from vault.api.util import cursor_text, decode_b64, decode_id, now_ms, parse_cursor, ring_events
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    ConflictError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    PostConflictError,
    PostDeletedError,
    PostExpiredError,
    PostRejectedError,
)
from vault.crypto.log import Role
from vault.crypto.posts import PostEnvelope

bp = Blueprint("posts", __name__, url_prefix="/v1/groups")

PAGE_BYTES = 4 * 1024 * 1024
ENVELOPE_BODY_LIMIT = MAX_ENVELOPE_BYTES * 4 // 3 + 1024


def post_item(row: Any) -> PostItem:
    return PostItem(
        post_id=b64encode(row.post_id),
        cursor=cursor_text(row.cursor),
        envelope=None if row.envelope is None else b64encode(row.envelope),
        deleted=row.deleted,
        created_at_ms=row.created_at_ms,
        expires_at_ms=row.expires_at_ms,
    )


def not_expired(now: int) -> Any:
    return or_(PostRow.expires_at_ms.is_(None), PostRow.expires_at_ms > now)


@api_route(bp, "/<gid>/posts/<post_id>", "PUT", body=PutPostRequest,
           max_body=ENVELOPE_BODY_LIMIT, summary="Upload a post envelope (idempotent)",
           responses={201: PostStored, 200: PostStored})
def put_post(call: Call, gid: str, post_id: str) -> Any:
    group_id = group_id_param(gid)
    pid = decode_id(post_id, ID16, "post id")
    caller = authenticate(group_id)
    raw = decode_b64(call.body.envelope, "envelope", MAX_ENVELOPE_BYTES)
    envelope = PostEnvelope.decode(raw)
    if envelope.group_id != group_id:
        raise PostRejectedError("the envelope names another group than the URL")
    if envelope.post_id != pid:
        raise PostRejectedError("the envelope names another post id than the URL")
    now = now_ms()
    for _attempt in range(3):
        try:
            with write_txn() as tx:
                stored, status = _store(tx, group_id, pid, raw, envelope, caller.subject, now)
            if status == 201:
                ring_events()
            return PostStored(post_id=post_id, cursor=cursor_text(stored)), status
        except IntegrityError:
            continue  # the same id raced in; the next pass compares the bytes
    raise ConflictError("the post could not be stored because of concurrent uploads; retry")


def _store(tx: Session, group_id: bytes, pid: bytes, raw: bytes, envelope: PostEnvelope,
           uploader: bytes, now: int) -> tuple[int, int]:
    """Store the envelope unless it is already there; return (cursor, HTTP status)."""
    existing = tx.execute(
        select(PostRow.envelope, PostRow.deleted, PostRow.cursor)
        .where(PostRow.group_id == group_id, PostRow.post_id == pid)
    ).first()
    if existing is not None:
        if existing.deleted:
            raise PostDeletedError("this post was deleted; its id cannot be reused")
        if existing.envelope != raw:
            raise PostConflictError("a different envelope is already stored under this post id")
        return int(existing.cursor), 200
    if envelope.expires_at_ms is not None and envelope.expires_at_ms <= now:
        raise PostExpiredError("this post's expiry has already passed")
    head = tx.execute(
        select(Group.epoch, Group.head_seq).where(Group.group_id == group_id)
    ).first()
    if head is None:
        raise NotFoundError("no group with this id on this relay")
    if envelope.epoch > head.epoch:
        raise PostRejectedError(
            f"epoch {envelope.epoch} does not exist yet (current: {head.epoch})"
        )
    if envelope.log_seq > head.head_seq:
        raise PostRejectedError(
            f"the envelope names log entry {envelope.log_seq}, beyond the head ({head.head_seq})"
        )
    cursor = next_event(tx, group_id)
    tx.add(PostRow(group_id=group_id, post_id=pid, cursor=cursor, epoch=envelope.epoch,
                   uploader=uploader, envelope=raw, deleted=False, created_at_ms=now,
                   expires_at_ms=envelope.expires_at_ms))
    return cursor, 201


@api_route(bp, "/<gid>/posts", "GET", query=PostsQuery,
           summary="Read posts after a cursor, or the newest page",
           responses={200: PostsPage})
def list_posts(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    authenticate(group_id)
    query = call.query
    now = now_ms()
    base = select(
        PostRow.post_id, PostRow.cursor, PostRow.envelope, PostRow.deleted,
        PostRow.created_at_ms, PostRow.expires_at_ms,
    ).where(PostRow.group_id == group_id, not_expired(now))
    if query.newest is not None:
        if query.after is not None:
            raise InvalidRequestError("use either 'after' or 'newest', not both")
        rows = list(db.session.execute(base.order_by(PostRow.cursor.desc()).limit(query.newest)))
        rows.reverse()
        limit = query.newest
    else:
        after = parse_cursor(query.after)
        rows = list(db.session.execute(
            base.where(PostRow.cursor > after).order_by(PostRow.cursor).limit(query.limit + 1)
        ))
        limit = query.limit
    more = len(rows) > limit
    rows = rows[:limit] if query.newest is None else rows
    items: list[PostItem] = []
    total = 0
    for row in rows:
        total += len(row.envelope or b"")
        if items and total > PAGE_BYTES:
            more = True
            break
        items.append(post_item(row))
    cursor = items[-1].cursor if items else query.after
    return PostsPage(posts=items, cursor=cursor, more=more), 200


@api_route(bp, "/<gid>/posts/<post_id>", "DELETE",
           summary="Delete a post (its uploader or a moderator+): leaves a tombstone",
           responses={200: PostDeleted})
def delete_post(call: Call, gid: str, post_id: str) -> Any:
    group_id = group_id_param(gid)
    pid = decode_id(post_id, ID16, "post id")
    caller = authenticate(group_id)
    with write_txn() as tx:
        row = tx.execute(
            select(PostRow.uploader, PostRow.deleted, PostRow.cursor)
            .where(PostRow.group_id == group_id, PostRow.post_id == pid)
        ).first()
        if row is None:
            raise NotFoundError("no post with this id")
        if row.deleted:
            return PostDeleted(post_id=post_id, cursor=cursor_text(row.cursor), deleted=True), 200
        if row.uploader != caller.subject and (caller.role is None or
                                               caller.role < Role.MODERATOR):
            raise ForbiddenError("only the post's uploader or a moderator can delete it")
        cursor = next_event(tx, group_id)
        tx.execute(
            update(PostRow)
            .where(PostRow.group_id == group_id, PostRow.post_id == pid)
            .values(envelope=None, deleted=True, cursor=cursor),
            execution_options=NO_SYNC,
        )
    ring_events()
    return PostDeleted(post_id=post_id, cursor=cursor_text(cursor), deleted=True), 200
