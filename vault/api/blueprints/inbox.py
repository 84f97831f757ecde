"""The moderators' inbox (protocol §8.8): items sealed to their recipients, kept as ciphertext.

PUT    /v1/groups/<gid>/inbox/<item>   a member stores an item: new -> 201; the same bytes again
                                       -> 200 (same cursor); other bytes -> 409 conflict
GET    /v1/groups/<gid>/inbox          ?after=<cursor>&limit=L: the items sealed to the caller

The relay checks the envelope's shape (INBOX-1), that it names this group and item, that its
sender is among its recipients and that every recipient is a current member; who the
recipients must be (the moderators of the item's log position) is every reader's check
(INBOX-8): the relay cannot open an item, nor show one to anyone it is not sealed to.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import func, select

from vault.api.authn import authenticate
from vault.api.blueprints.common import group_id_param, lock_live_group
from vault.api.db import db, write_txn
from vault.api.models import InboxItemRow, InboxRecipientRow, MemberRow
from vault.api.registry import Call, api_route
from vault.api.schemas import (
    InboxItem,
    InboxPage,
    InboxQuery,
    InboxStored,
    PutInboxRequest,
    json_body_limit,
)
from vault.api.util import cursor_text, decode_b64, decode_id, now_ms, parse_cursor
from vault.crypto.encoding import b64encode
from vault.crypto.errors import ConflictError, InvalidRequestError
from vault.crypto.inbox import MAX_INBOX_ENVELOPE_SIZE, InboxEnvelope

bp = Blueprint("inbox", __name__, url_prefix="/v1/groups")

INBOX_BODY_LIMIT = json_body_limit(MAX_INBOX_ENVELOPE_SIZE)


@api_route(bp, "/<gid>/inbox/<item>", "PUT", body=PutInboxRequest, max_body=INBOX_BODY_LIMIT,
           summary="Store an item of the moderators' inbox (members)",
           responses={200: InboxStored, 201: InboxStored})
def put_item(call: Call, gid: str, item: str) -> Any:
    group_id = group_id_param(gid)
    item_id = decode_id(item, 16, "item id")
    caller = authenticate(group_id)
    raw = decode_b64(call.body.envelope, "inbox item", MAX_INBOX_ENVELOPE_SIZE)
    envelope = InboxEnvelope.decode(raw)
    if envelope.group_id != group_id or envelope.item_id != item_id:
        raise InvalidRequestError("the item names another group or item id than its address")
    recipients = envelope.recipient_keys
    if caller.subject not in recipients:
        raise InvalidRequestError("an inbox item is sealed to its sender too")
    with write_txn() as tx:
        lock_live_group(tx, group_id)
        existing = tx.get(InboxItemRow, (group_id, item_id))
        if existing is not None:
            if existing.envelope != raw or existing.sender != caller.subject:
                raise ConflictError("another item is stored under this id")
            return InboxStored(item_id=item, cursor=cursor_text(existing.cursor)), 200
        current = set(tx.scalars(select(MemberRow.sign_pk).where(
            MemberRow.group_id == group_id, MemberRow.removed_seq.is_(None),
            MemberRow.sign_pk.in_(recipients))))
        if len(current) != len(recipients):
            raise InvalidRequestError("an inbox item goes to current members only")
        last = tx.scalar(select(func.max(InboxItemRow.cursor))
                         .where(InboxItemRow.group_id == group_id))
        cursor = (last or 0) + 1
        tx.add(InboxItemRow(group_id=group_id, item_id=item_id, cursor=cursor,
                            sender=caller.subject, envelope=raw, created_at_ms=now_ms()))
        tx.add_all(InboxRecipientRow(group_id=group_id, recipient=pk, cursor=cursor,
                                     item_id=item_id) for pk in recipients)
    return InboxStored(item_id=item, cursor=cursor_text(cursor)), 201


@api_route(bp, "/<gid>/inbox", "GET", query=InboxQuery,
           summary="The items of the moderators' inbox sealed to the caller",
           responses={200: InboxPage})
def list_items(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    caller = authenticate(group_id)
    after = parse_cursor(call.query.after)
    limit = call.query.limit
    rows = db.session.execute(
        select(InboxItemRow.item_id, InboxItemRow.cursor, InboxItemRow.sender,
               InboxItemRow.envelope, InboxItemRow.created_at_ms)
        .join(InboxRecipientRow, (InboxRecipientRow.group_id == InboxItemRow.group_id)
              & (InboxRecipientRow.cursor == InboxItemRow.cursor))
        .where(InboxRecipientRow.group_id == group_id,
               InboxRecipientRow.recipient == caller.subject,
               InboxRecipientRow.cursor > after)
        .order_by(InboxRecipientRow.cursor).limit(limit + 1)).all()
    more = len(rows) > limit
    items = [InboxItem(item_id=b64encode(r.item_id), cursor=cursor_text(r.cursor),
                       sender=b64encode(r.sender), envelope=b64encode(r.envelope),
                       created_at_ms=r.created_at_ms) for r in rows[:limit]]
    return InboxPage(items=items, next_cursor=items[-1].cursor if more else None), 200
