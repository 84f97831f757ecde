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
from sqlalchemy import bindparam, func, select
from sqlalchemy.exc import IntegrityError

from vault.api.authn import authenticate
from vault.api.blueprints.common import get_group, group_id_param
from vault.api.db import db, write_txn
from vault.api.models import Group, InboxItemRow, InboxRecipientRow, MemberRow
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
_GROUP_FOR_UPDATE = (select(Group.deleted_at_ms).where(Group.group_id == bindparam("gid"))
                     .with_for_update())


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
    try:
        return _store(group_id, item, item_id, caller.subject, raw, recipients)
    except IntegrityError:  # (a retry that raced its first try: that one is stored now)
        db.session.rollback()
        existing = db.session.get(InboxItemRow, (group_id, item_id))
        if existing is None:
            raise ConflictError("the inbox changed while the item was stored; retry") from None
        return _same(existing, item, raw, caller.subject)


def _same(existing: InboxItemRow, item: str, raw: bytes, sender: bytes) -> Any:
    if existing.envelope != raw or existing.sender != sender:
        raise ConflictError("another item is stored under this id")
    return InboxStored(item_id=item, cursor=cursor_text(existing.cursor)), 200


def _store(group_id: bytes, item: str, item_id: bytes, sender: bytes, raw: bytes,
           recipients: tuple[bytes, ...]) -> Any:
    with write_txn() as tx:
        # An exclusive lock on the group's row (not lock_live_group's shared one): the next
        # cursor is taken from the ones stored, one writer at a time, visible in order.
        row = tx.execute(_GROUP_FOR_UPDATE, {"gid": group_id}).first()
        if row is None or row.deleted_at_ms is not None:
            get_group(group_id)  # not_found or group_deleted
        existing = tx.get(InboxItemRow, (group_id, item_id))
        if existing is not None:
            return _same(existing, item, raw, sender)
        current = set(tx.scalars(select(MemberRow.sign_pk).where(
            MemberRow.group_id == group_id, MemberRow.removed_seq.is_(None),
            MemberRow.sign_pk.in_(recipients))))
        if len(current) != len(recipients):
            raise InvalidRequestError("an inbox item goes to current members only")
        last = tx.scalar(select(func.max(InboxItemRow.cursor))
                         .where(InboxItemRow.group_id == group_id))
        cursor = (last or 0) + 1
        tx.add(InboxItemRow(group_id=group_id, item_id=item_id, cursor=cursor,
                            sender=sender, envelope=raw, created_at_ms=now_ms()))
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
