"""Posts: idempotent upload on the client's post id, cursor pages, tombstones.

PUT    /v1/groups/<gid>/posts/<post_id>   new -> 201; same bytes again -> 200 (same cursor,
                                          also after the epoch changed); other bytes -> 409
                                          post_conflict; deleted -> 410 post_deleted; a new
                                          post sealed under an epoch older than the group's
                                          current one -> 409 epoch_stale (nothing stored, no
                                          cursor taken); ahead of the group -> 422 post_rejected
GET    /v1/groups/<gid>/posts             ?after=<cursor>&limit=L, or ?newest=L
DELETE /v1/groups/<gid>/posts/<post_id>   uploader or moderator+: erase the ciphertext and the
                                          post's attachments, keep a tombstone at a new cursor
                                          so syncing clients learn it
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import (
    BigInteger,
    bindparam,
    delete,
    false,
    insert,
    literal_column,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from vault.api.authn import authenticate
from vault.api.blueprints.common import ID16, NO_SYNC, get_group, group_id_param, next_event
from vault.api.db import (
    autocommit_request,
    db,
    in_autocommit,
    run,
    run_is_postgresql,
    write_txn,
)
from vault.api.models import BlobRow, Group, PostRow
from vault.api.registry import Call, api_route
from vault.api.schemas import (
    MAX_ENVELOPE_BYTES,
    PostDeleted,
    PostsPage,
    PostsQuery,
    PostStored,
    PutPostRequest,
    json_body_limit,
)
from vault.api.util import cursor_text, decode_b64, decode_id, now_ms, parse_cursor, ring_events
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    ConflictError,
    EpochStaleError,
    ForbiddenError,
    InvalidRequestError,
    NotFoundError,
    PostConflictError,
    PostDeletedError,
    PostExpiredError,
    PostRejectedError,
)
from vault.crypto.log_entries import Role
from vault.crypto.posts import PostEnvelope

bp = Blueprint("posts", __name__, url_prefix="/v1/groups")

PAGE_BYTES = 4 * 1024 * 1024
ENVELOPE_BODY_LIMIT = json_body_limit(MAX_ENVELOPE_BYTES)


def post_item(row: Any) -> dict[str, Any]:
    """A post as the API shows it (the PostItem schema), built as a plain dict: pages are the
    relay's hottest responses, and the document's models are for requests and the OpenAPI
    document (the schemathesis tests hold responses to them)."""
    envelope = row.envelope
    return {
        "post_id": b64encode(row.post_id),
        "cursor": cursor_text(row.cursor),
        "envelope": None if envelope is None else b64encode(envelope),
        "deleted": bool(row.deleted),
        "created_at_ms": row.created_at_ms,
        "expires_at_ms": row.expires_at_ms,
    }


def not_expired(now: Any) -> Any:
    return or_(PostRow.expires_at_ms.is_(None), PostRow.expires_at_ms > now)


# The hot statements, built once with bound parameters (SQLAlchemy caches their compiled
# form; building the expression per request costs more than running it on SQLite).
PAGE_COLUMNS = (PostRow.post_id, PostRow.cursor, PostRow.envelope, PostRow.deleted,
                 PostRow.created_at_ms, PostRow.expires_at_ms)
_LIVE = (PostRow.group_id == bindparam("gid"), not_expired(bindparam("now")))
NEWEST = (select(*PAGE_COLUMNS).where(*_LIVE)
          .order_by(PostRow.cursor.desc()).limit(bindparam("n")))
AFTER = (select(*PAGE_COLUMNS).where(*_LIVE, PostRow.cursor > bindparam("after"))
         .order_by(PostRow.cursor).limit(bindparam("n")))
_POSTS = PostRow.__table__
_GROUPS = Group.__table__
EXISTING = select(_POSTS.c.envelope, _POSTS.c.deleted, _POSTS.c.cursor).where(
    _POSTS.c.group_id == bindparam("gid"), _POSTS.c.post_id == bindparam("pid"))
HEAD = select(_GROUPS.c.epoch, _GROUPS.c.head_seq).where(_GROUPS.c.group_id == bindparam("gid"),
                                                         _GROUPS.c.deleted_at_ms.is_(None))
# Takes the group's next event number; its row lock (held to the commit) makes cursors
# become visible in order. SQLite: two statements inside a BEGIN IMMEDIATE transaction.
TAKE_CURSOR = (update(_GROUPS).where(_GROUPS.c.group_id == bindparam("gid"),
                                     _GROUPS.c.deleted_at_ms.is_(None))
               .values(event_seq=_GROUPS.c.event_seq + literal_column("1"))
               .returning(_GROUPS.c.event_seq, _GROUPS.c.epoch, _GROUPS.c.head_seq))
INSERT_POST = insert(_POSTS)
# PostgreSQL: one statement, atomic on its own, run in autocommit mode (so the group row is
# locked for this statement only, and the upload costs no BEGIN/COMMIT round trips). The
# cursor is taken only if the envelope is in the group's current epoch and not ahead of its
# log, so a refused post leaves no gap. (Parameter names must not be column names of
# `groups`: Core would add those to the UPDATE's SET clause.)
_TAKEN = (update(_GROUPS)
          .where(_GROUPS.c.group_id == bindparam("gid"),
                 _GROUPS.c.deleted_at_ms.is_(None),
                 _GROUPS.c.epoch == bindparam("post_epoch"),
                 _GROUPS.c.head_seq >= bindparam("log_seq"))
          .values(event_seq=_GROUPS.c.event_seq + literal_column("1"))
          .returning(_GROUPS.c.event_seq)
          .cte("taken"))
INSERT_POST_AT_CURSOR = insert(_POSTS).from_select(
    ["group_id", "post_id", "cursor", "epoch", "uploader", "envelope", "deleted",
     "created_at_ms", "expires_at_ms"],
    select(bindparam("gid"), bindparam("pid"), _TAKEN.c.event_seq, bindparam("post_epoch"),
           bindparam("uploader"), bindparam("envelope"), false(), bindparam("now"),
           bindparam("expires", type_=BigInteger)),
).returning(_POSTS.c.cursor)


@api_route(bp, "/<gid>/posts/<post_id>", "PUT", body=PutPostRequest, autocommit=True,
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
    new = _NewPost(group_id, pid, raw, envelope, caller.subject, now)
    postgresql = run_is_postgresql()  # the session's dialect: looked up once per upload
    compare_first = False  # a new post: insert straight away; a retry: compare first
    for _attempt in range(3):
        try:
            if postgresql and in_autocommit():
                stored, status = new.store_in_one_statement(compare_first=compare_first)
            elif postgresql:
                with write_txn():
                    stored, status = new.store_in_one_statement(compare_first=compare_first)
            else:
                with write_txn() as tx:
                    stored, status = new.store(tx, compare_first=compare_first)
            if status == 201:
                ring_events(group_id, stored)
            return {"post_id": post_id, "cursor": cursor_text(stored)}, status
        except IntegrityError:
            # The id is taken (a retry, or the same id raced in): nothing was written; the
            # next pass compares the stored bytes.
            db.session.rollback()
            autocommit_request()
            compare_first = True
        except EpochStaleError:
            # In an epoch the group has left: nothing was written. A retry of a post stored
            # before the epoch changed is still answered from its row (the next pass compares
            # first); a post that is not stored is refused.
            if compare_first:
                raise
            db.session.rollback()
            autocommit_request()
            compare_first = True
    raise ConflictError("the post could not be stored because of concurrent uploads; retry")


class _NewPost:
    """Storing one uploaded envelope unless it is already there."""

    def __init__(self, group_id: bytes, pid: bytes, raw: bytes, envelope: PostEnvelope,
                 uploader: bytes, now: int) -> None:
        self.group_id, self.pid, self.raw, self.envelope = group_id, pid, raw, envelope
        self.uploader, self.now = uploader, now
        self.expired = envelope.expires_at_ms is not None and envelope.expires_at_ms <= now

    def stored_before(self) -> tuple[int, int] | None:
        """(cursor, 200) if these bytes are stored under this id; raise if others are."""
        existing = run(EXISTING, {"gid": self.group_id, "pid": self.pid}).first()
        if existing is None:
            return None
        if existing.deleted:
            raise PostDeletedError("this post was deleted; its id cannot be reused")
        if existing.envelope != self.raw:
            raise PostConflictError("a different envelope is already stored under this post id")
        return int(existing.cursor), 200

    def check(self, head: Any) -> None:
        """Refuse an envelope ahead of the group, or in an epoch the group has left (*head*:
        its epoch and head_seq, or None: no such group, or a deleted one)."""
        if head is None:
            get_group(self.group_id)  # group_deleted, or:
            raise NotFoundError("no group with this id on this relay")
        if self.envelope.epoch > head.epoch:
            raise PostRejectedError(
                f"epoch {self.envelope.epoch} does not exist yet (current: {head.epoch})")
        if self.envelope.epoch < head.epoch:
            raise EpochStaleError(
                f"this post is sealed under epoch {self.envelope.epoch}, but the group has "
                f"moved on to epoch {head.epoch}: sync the log, fetch the current epoch key "
                "and seal the post again")
        if self.envelope.log_seq > head.head_seq:
            raise PostRejectedError(
                f"the envelope names log entry {self.envelope.log_seq}, beyond the head "
                f"({head.head_seq})")

    def answered_before(self, *, compare_first: bool) -> tuple[int, int] | None:
        """The stored answer for a retry (same bytes) or a conflict; an expired post that
        was never stored is refused (PostExpiredError)."""
        if compare_first or self.expired:
            earlier = self.stored_before()
            if earlier is not None:
                return earlier
        if self.expired:
            raise PostExpiredError("this post's expiry has already passed")
        return None

    def store(self, tx: Session, *, compare_first: bool) -> tuple[int, int]:
        """Inside the write transaction *tx* (SQLite): (cursor, HTTP status).

        A new post costs one UPDATE (the cursor) and one INSERT, both on the transaction's
        connection (taken once); an id already taken makes the INSERT fail (IntegrityError,
        the transaction rolls back) and the caller comes back with *compare_first*, which
        answers from the stored row.
        """
        earlier = self.answered_before(compare_first=compare_first)
        if earlier is not None:
            return earlier
        conn = tx.connection()  # BEGIN IMMEDIATE, on the first statement
        head = conn.execute(TAKE_CURSOR, {"gid": self.group_id}).first()
        self.check(head)
        assert head is not None
        cursor = int(head.event_seq)
        conn.execute(INSERT_POST, {
            "group_id": self.group_id, "post_id": self.pid, "cursor": cursor,
            "epoch": self.envelope.epoch, "uploader": self.uploader, "envelope": self.raw,
            "deleted": False, "created_at_ms": self.now,
            "expires_at_ms": self.envelope.expires_at_ms,
        })
        return cursor, 201

    def store_in_one_statement(self, *, compare_first: bool) -> tuple[int, int]:
        """PostgreSQL, in autocommit mode: the write is one statement, atomic by itself."""
        earlier = self.answered_before(compare_first=compare_first)
        if earlier is not None:
            return earlier
        cursor = run(INSERT_POST_AT_CURSOR, {
            "gid": self.group_id, "pid": self.pid, "post_epoch": self.envelope.epoch,
            "log_seq": self.envelope.log_seq, "uploader": self.uploader,
            "envelope": self.raw, "now": self.now, "expires": self.envelope.expires_at_ms,
        }).scalar()
        if cursor is not None:
            return int(cursor), 201
        self.check(run(HEAD, {"gid": self.group_id}).first())  # nothing written: say why
        raise ConflictError("the group changed while the post was stored; retry")


@api_route(bp, "/<gid>/posts", "GET", query=PostsQuery,
           summary="Read posts after a cursor, or the newest page",
           responses={200: PostsPage})
def list_posts(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    authenticate(group_id)
    query = call.query
    params: dict[str, Any] = {"gid": group_id, "now": now_ms()}
    if query.newest is not None:
        if query.after is not None:
            raise InvalidRequestError("use either 'after' or 'newest', not both")
        rows = list(reversed(run(NEWEST, {**params, "n": query.newest}).all()))
        limit = query.newest
    else:
        params["after"] = parse_cursor(query.after)
        rows = list(run(AFTER, {**params, "n": query.limit + 1}).all())
        limit = query.limit
    more = len(rows) > limit
    rows = rows[:limit] if query.newest is None else rows
    items: list[dict[str, Any]] = []
    total = 0
    for row in rows:
        total += len(row.envelope or b"")
        if items and total > PAGE_BYTES:
            more = True
            break
        items.append(post_item(row))
    cursor = items[-1]["cursor"] if items else query.after
    return {"posts": items, "cursor": cursor, "more": more}, 200


@api_route(bp, "/<gid>/posts/<post_id>", "DELETE",
           summary="Delete a post (its uploader or a moderator+) and its attachments: leaves "
                   "a tombstone",
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
        tx.execute(delete(BlobRow).where(BlobRow.group_id == group_id, BlobRow.post_id == pid),
                   execution_options=NO_SYNC)
    ring_events(group_id, cursor)
    return PostDeleted(post_id=post_id, cursor=cursor_text(cursor), deleted=True), 200
