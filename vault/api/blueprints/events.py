"""New posts, deletions and log entries, as they happen.

GET /v1/groups/<gid>/events?after=<cursor>&timeout=S     long-poll: answers as soon as
        something lies beyond the cursor, or after *timeout* seconds with no events
GET /v1/groups/<gid>/events/stream?after=<cursor>        server-sent events: one frame per
        batch, ``id:`` its cursor (``Last-Event-ID`` resumes), a comment every
        VAULT_EVENTS_HEARTBEAT_S, closed after VAULT_EVENTS_STREAM_S

Both read the database when they start (the session, the membership and the group's event
counter, in one statement for a long-poll), before they enter the group's waiting room, and
when they answer; a long-poll asked again at the cursor its pass was issued at reads nothing
at its start when this process is sure nothing is new (vault/api/passes.py). While
waiting they hold no database connection and read nothing: they wait in this process's
waiting room (vault/api/news.py), which commits in this and other relay processes wake
(vault/api/wakeup.py). Membership is checked again, fresh, before every answer that
follows a wait (with the counter, in one statement) and before every further frame of a
stream.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Response, g, request, stream_with_context
from sqlalchemy import bindparam, select
from sqlalchemy.exc import OperationalError

from vault.api import sse
from vault.api.authn import authenticate, authenticate_with_counter, bearer_token_hash
from vault.api.blueprints.common import group_id_param
from vault.api.blueprints.posts import PAGE_COLUMNS, not_expired, post_item
from vault.api.db import autocommit_request, db, run
from vault.api.models import Group, LogEntryRow, PostRow
from vault.api.registry import Call, api_route
from vault.api.schemas import EventsQuery, EventsResponse, EventStreamQuery
from vault.api.services import services
from vault.api.util import cursor_text, now_ms, parse_cursor
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    InternalError,
    InvalidRequestError,
    NotFoundError,
    RelayUnavailableError,
    VaultError,
)

log = logging.getLogger("vault.relay")

bp = Blueprint("events", __name__, url_prefix="/v1/groups")

MAX_EVENTS = 100
EVENT_BYTES = 4 * 1024 * 1024


# The statements every waiter runs, built once with bound parameters (SQLAlchemy caches
# their compiled form; building them per request cost more than running them).
EVENT_SEQ = select(Group.event_seq).where(Group.group_id == bindparam("gid"))
POSTS_BETWEEN = (select(*PAGE_COLUMNS)
                 .where(PostRow.group_id == bindparam("gid"), not_expired(bindparam("now")),
                        PostRow.cursor > bindparam("after"), PostRow.cursor <= bindparam("upto"))
                 .order_by(PostRow.cursor).limit(MAX_EVENTS + 1))
ENTRIES_BETWEEN = (select(LogEntryRow.seq, LogEntryRow.event_seq, LogEntryRow.raw)
                   .where(LogEntryRow.group_id == bindparam("gid"),
                          LogEntryRow.event_seq > bindparam("after"),
                          LogEntryRow.event_seq <= bindparam("upto"))
                   .order_by(LogEntryRow.event_seq).limit(MAX_EVENTS + 1))


def _collect(group_id: bytes, after: int, upto: int) -> dict[str, Any]:
    """The EventsResponse after *after* up to *upto* (built as a dict, like post pages)."""
    window = {"gid": group_id, "after": after, "upto": upto}
    posts = run(POSTS_BETWEEN, {**window, "now": now_ms()}).all()
    entries = run(ENTRIES_BETWEEN, window).all()
    merged: list[tuple[int, dict[str, Any], int]] = [
        (row.cursor, {"cursor": cursor_text(row.cursor), "type": "post", "post": post_item(row),
                      "seq": None, "entry": None}, len(row.envelope or b""))
        for row in posts
    ] + [
        (row.event_seq, {"cursor": cursor_text(row.event_seq), "type": "log", "post": None,
                         "seq": row.seq, "entry": b64encode(row.raw)}, len(row.raw))
        for row in entries
    ]
    merged.sort(key=lambda triple: triple[0])
    events: list[dict[str, Any]] = []
    total = 0
    more = False
    for index, (_cursor, item, size) in enumerate(merged):
        total += size
        if index >= MAX_EVENTS or (events and total > EVENT_BYTES):
            more = True
            break
        events.append(item)
    cursor = events[-1]["cursor"] if more else cursor_text(upto)
    return {"events": events, "cursor": cursor, "more": more}


def _event_seq(group_id: bytes) -> int:
    """The group's event counter (the newest cursor), read now."""
    upto = run(EVENT_SEQ, {"gid": group_id}).scalar()
    if upto is None:
        raise NotFoundError("no group with this id on this relay")
    return int(upto)


def _rest() -> None:
    """Give the connection back (and end SQLite's read snapshot) before waiting."""
    db.session.close()


def _fresh() -> None:
    """After waiting: the next statements run as a GET's do (autocommit on PostgreSQL)."""
    autocommit_request()


@api_route(bp, "/<gid>/events", "GET", query=EventsQuery, auth="member_waiting",
           summary="Long-poll for posts and log entries after a cursor (timeout <= 30 s)",
           responses={200: EventsResponse})
def events(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    after = parse_cursor(call.query.after)
    read = "vault_session" in g  # the registry read the session (it held no pass)
    if call.query.timeout == 0:
        _fresh()
        _, upto = authenticate_with_counter(group_id, fresh=False)
        if upto > after:
            return _collect(group_id, after, upto), 200
        return {"events": [], "cursor": cursor_text(max(after, upto)), "more": False}, 200
    relay = services()
    wakeup = relay.wakeup
    # A waiter coming back for more usually finds nothing new, and this process often knows
    # it for sure: then, on its pass, it waits without reading anything. (Only at the
    # cursor the pass was issued at: an honest client is never beyond the counter.)
    held = None if read else relay.passes.get(bearer_token_hash(), group_id, now_ms())
    upto = after
    if held is None:
        # Without a pass for this group, only a member enters its waiting room: take the
        # registry's read (or read) of session, membership and counter first; news already
        # there is answered at once, without waiting.
        if not read:
            _fresh()
        _, upto = authenticate_with_counter(group_id, fresh=not read)
        if upto > after:
            return _collect(group_id, after, upto), 200
    with wakeup.watch(group_id) as watch:  # watching before the counter's read: no gap
        if held is not None and not (after == held.seq
                                     and wakeup.nothing_beyond(watch, held.seq)):
            # A pass (issued to a member of this group) that cannot vouch now: one fresh
            # read of it all, membership included, as the watch has begun.
            _fresh()
            _, upto = authenticate_with_counter(group_id, fresh=True)
        elif held is None and not wakeup.nothing_beyond(watch, after):
            upto = _event_seq(group_id)  # (read before the watch: read again)
        if upto <= after:
            _rest()
            if not watch.wait_beyond(after, call.query.timeout):
                return {"events": [], "cursor": cursor_text(max(after, upto)), "more": False}, 200
            _fresh()
            seen = watch.known
            _, upto = authenticate_with_counter(group_id, fresh=True)  # still a member now
            if upto <= after:  # news the database does not show (see Watch.settle)
                watch.settle(upto, seen)
                return {"events": [], "cursor": cursor_text(after), "more": False}, 200
    return _collect(group_id, after, upto), 200


@api_route(bp, "/<gid>/events/stream", "GET", query=EventStreamQuery,
           summary="Server-sent events: posts and log entries after a cursor, as they come "
                   "(text/event-stream; Last-Event-ID resumes)",
           responses={200: "event-stream"})
def stream(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    session = g.get("vault_session")
    authenticate(group_id)
    resume = request.headers.get("Last-Event-ID")
    if resume is not None and not sse.valid_id(resume.strip()):
        raise InvalidRequestError("Last-Event-ID: not a cursor of this relay")
    after = parse_cursor(resume.strip() if resume is not None else call.query.after)
    _event_seq(group_id)  # an unknown group is a 404, before the stream starts
    _rest()
    settings = services().settings
    lifetime = float(settings.events_stream_s)
    if session is not None:  # no longer than the session: it is checked only per batch
        lifetime = min(lifetime, max(0.0, (session.expires_at_ms - now_ms()) / 1000))
    frames = _frames(group_id, after, lifetime, max(0.5, settings.events_heartbeat_s))
    return Response(stream_with_context(frames), mimetype=sse.MIMETYPE, headers=sse.HEADERS)


def _frames(group_id: bytes, after: int, lifetime: float, heartbeat: float) -> Iterator[bytes]:
    deadline = time.monotonic() + lifetime
    cursor = after
    try:
        with services().wakeup.watch(group_id) as watch:  # before the first read: no gap
            yield sse.comment("stream open")  # the headers go out now: the client is waiting
            while True:
                _fresh()
                # Still a member, now (the request's own check came before "stream open"
                # went out, and then it waited), and the counter: one read.
                seen = watch.known
                _, upto = authenticate_with_counter(group_id, fresh=True)
                if upto <= cursor and watch.known > cursor:
                    watch.settle(upto, seen)  # news the database does not show
                first = True
                while upto > cursor:  # one frame per batch (<= 100 events, <= 4 MiB)
                    if not first:  # (the client may have taken its time over the last)
                        authenticate(group_id, fresh=True)
                    first = False
                    batch = _collect(group_id, cursor, upto)
                    cursor = int(batch["cursor"])
                    yield sse.data_frame(batch["cursor"], batch)
                _rest()
                while True:  # wait for news; a heartbeat when there is none for a while
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        yield sse.comment("lifetime reached; reconnect with Last-Event-ID")
                        return
                    if watch.wait_beyond(cursor, min(heartbeat, remaining)):
                        break
                    if watch.closing:  # this process is stopping: the client reconnects
                        yield sse.comment("relay restarting; reconnect with Last-Event-ID")
                        return
                    if deadline > time.monotonic():
                        yield sse.comment("heartbeat")
    except VaultError as error:
        yield sse.error_frame(error)
    except OperationalError as error:
        log.error("database error", extra={"vault": {"error_type": type(error.orig).__name__}})
        yield sse.error_frame(RelayUnavailableError("the relay's database is unavailable"))
    except Exception as error:  # only the type: messages may carry request data
        log.error("unhandled error", extra={"vault": {"error_type": type(error).__name__}})
        yield sse.error_frame(InternalError("internal error"))
