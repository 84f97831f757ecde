"""GET /v1/groups/<gid>/events?after=<cursor>&timeout=S — long-poll for new posts, deletions
and log entries.

Returns as soon as something lies beyond the cursor, or after *timeout* seconds with no
events. Works across relay processes sharing one database: the request re-reads the
group's event counter (one primary-key read) every VAULT_EVENTS_POLL_MS, and is woken at
once by commits in its own process. No database connection is held while waiting.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint
from sqlalchemy import select

from vault.api.authn import authenticate
from vault.api.blueprints.common import group_id_param
from vault.api.blueprints.posts import not_expired, post_item
from vault.api.db import db
from vault.api.models import Group, LogEntryRow, PostRow
from vault.api.registry import Call, api_route
from vault.api.schemas import EventsQuery, EventsResponse
from vault.api.services import services
from vault.api.util import cursor_text, now_ms, parse_cursor
from vault.crypto.encoding import b64encode
from vault.crypto.errors import NotFoundError

bp = Blueprint("events", __name__, url_prefix="/v1/groups")

MAX_EVENTS = 100
EVENT_BYTES = 4 * 1024 * 1024


def _collect(group_id: bytes, after: int, upto: int) -> dict[str, Any]:
    """The EventsResponse after *after* up to *upto* (built as a dict, like post pages)."""
    posts = db.session.execute(
        select(PostRow.post_id, PostRow.cursor, PostRow.envelope, PostRow.deleted,
               PostRow.created_at_ms, PostRow.expires_at_ms)
        .where(PostRow.group_id == group_id, PostRow.cursor > after, PostRow.cursor <= upto,
               not_expired(now_ms()))
        .order_by(PostRow.cursor)
        .limit(MAX_EVENTS + 1)
    ).all()
    entries = db.session.execute(
        select(LogEntryRow.seq, LogEntryRow.event_seq, LogEntryRow.raw)
        .where(LogEntryRow.group_id == group_id, LogEntryRow.event_seq > after,
               LogEntryRow.event_seq <= upto)
        .order_by(LogEntryRow.event_seq)
        .limit(MAX_EVENTS + 1)
    ).all()
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


@api_route(bp, "/<gid>/events", "GET", query=EventsQuery,
           summary="Long-poll for posts and log entries after a cursor (timeout <= 30 s)",
           responses={200: EventsResponse})
def events(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    authenticate(group_id)
    after = parse_cursor(call.query.after)
    relay = services()
    bell = relay.events
    poll = max(0.05, relay.settings.events_poll_ms / 1000)
    deadline = time.monotonic() + call.query.timeout
    while True:
        generation = bell.generation
        upto = db.session.scalar(select(Group.event_seq).where(Group.group_id == group_id))
        if upto is None:
            raise NotFoundError("no group with this id on this relay")
        if upto > after:
            authenticate(group_id, fresh=True)  # still a member now, not only at the start
            return _collect(group_id, after, int(upto)), 200
        db.session.close()  # hold no connection while waiting
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return {"events": [], "cursor": cursor_text(max(after, int(upto))),
                    "more": False}, 200
        bell.wait(generation, min(remaining, poll))
