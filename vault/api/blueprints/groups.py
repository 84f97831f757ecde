"""Groups and their membership log.

POST /v1/groups                 create from a genesis entry (anyone; rate limited)
GET  /v1/groups/<gid>/log       read entries from a seq (members, or a joiner's invite session;
                                a former member reads up to the entry that ended its
                                membership, which is then its head_seq)
POST /v1/groups/<gid>/log       append one entry: validated against the stored head with
                                vault/crypto, inserted as compare-and-swap on the head; an
                                owner's DELETE_GROUP purges the group in the same transaction
GET  /v1/groups/<gid>/deletion  the entry that deleted a group (anyone who knows its id)
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint
from sqlalchemy import bindparam, insert, literal_column, select, update
from sqlalchemy.exc import IntegrityError

from vault.api.authn import authenticate
from vault.api.blueprints.common import deleted_error, get_group, group_id_param
from vault.api.db import db, run, write_txn
from vault.api.models import Group, LogEntryRow
from vault.api.purge import purge_group
from vault.api.registry import Call, api_route
from vault.api.schemas import (
    MAX_ENTRY_BYTES,
    AppendRequest,
    AppendResponse,
    CreateGroupRequest,
    DeletionResponse,
    GroupResponse,
    LogQuery,
    LogResponse,
    json_body_limit,
)
from vault.api.state import load_state, remember, sync_derived
from vault.api.util import MAX_PAST_SKEW_MS, cursor_text, decode_b64, now_ms, ring_events
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    ChainBrokenError,
    ForbiddenError,
    LogConflictError,
    LogEntryStaleError,
    NotFoundError,
)
from vault.crypto.log import LogEntry, group_id_of
from vault.crypto.log_entries import EntryKind
from vault.crypto.log_verify import apply_decoded, genesis_state

bp = Blueprint("groups", __name__, url_prefix="/v1/groups")

LOG_PAGE_BYTES = 4 * 1024 * 1024
ENTRY_BODY_LIMIT = json_body_limit(MAX_ENTRY_BYTES)

# The append's statements, built once with bound parameters and run on the transaction's
# connection (Core: nothing is loaded as an object, so the ORM's unit of work has nothing
# to do). Parameter names are no column names of their tables (Core would SET those).
_GROUPS = Group.__table__
_ENTRIES = LogEntryRow.__table__
READ_HEAD = select(_GROUPS.c.head_seq, _GROUPS.c.head_hash, _GROUPS.c.deleted_at_ms).where(
    _GROUPS.c.group_id == bindparam("gid"))
# Compare-and-swap on the head; it also takes the group's next event number.
MOVE_HEAD = (update(_GROUPS)
             .where(_GROUPS.c.group_id == bindparam("gid"),
                    _GROUPS.c.head_seq == bindparam("old_seq"),
                    _GROUPS.c.head_hash == bindparam("old_head"))
             .values(head_seq=bindparam("new_seq"), head_hash=bindparam("new_head"),
                     epoch=bindparam("new_epoch"),
                     event_seq=_GROUPS.c.event_seq + literal_column("1"))
             .returning(_GROUPS.c.event_seq))
INSERT_ENTRY = insert(_ENTRIES)


@api_route(bp, "", "POST", auth="none", rate="expensive", body=CreateGroupRequest,
           max_body=ENTRY_BODY_LIMIT, summary="Create a group from its genesis entry",
           responses={201: GroupResponse, 200: GroupResponse})
def create_group(call: Call) -> Any:
    raw = decode_b64(call.body.genesis, "genesis", MAX_ENTRY_BYTES)
    entry = LogEntry.decode(raw)
    group_id = group_id_of(entry)
    now = now_ms()
    state = genesis_state(entry, group_id, now_ms=now)
    response = GroupResponse(group_id=b64encode(group_id), head_seq=0)
    existing = db.session.get(Group, group_id)
    if existing is not None and existing.deleted_at_ms is not None:
        raise deleted_error()
    if existing is not None:
        return response.model_copy(update={"head_seq": existing.head_seq}), 200
    try:
        with write_txn() as tx:
            tx.add(Group(group_id=group_id, head_seq=0, head_hash=state.head,
                         epoch=state.epoch, event_seq=1, created_at_ms=now))
            tx.flush()
            tx.add(LogEntryRow(group_id=group_id, seq=0, entry_hash=state.head, raw=raw,
                               event_seq=1, created_at_ms=now))
            sync_derived(tx, None, state)
    except IntegrityError:  # created concurrently with the same genesis
        return response, 200
    remember(state)
    return response, 201


@api_route(bp, "/<gid>/log", "GET", auth="member_or_invite", query=LogQuery,
           summary="Read log entries from a sequence number (a former member: up to the "
                   "entry that ended its membership)",
           responses={200: LogResponse})
def read_log(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    caller = authenticate(group_id, allow_invite=True, allow_former=True)
    group = get_group(group_id)
    head_seq = group.head_seq
    query = (select(LogEntryRow.raw)
             .where(LogEntryRow.group_id == group_id, LogEntryRow.seq >= call.query.from_))
    if caller.removed_seq is not None:
        # A former member learns how its membership ended, and nothing after.
        head_seq = min(head_seq, caller.removed_seq)
        query = query.where(LogEntryRow.seq <= head_seq)
    rows = db.session.scalars(query.order_by(LogEntryRow.seq).limit(call.query.limit))
    entries: list[str] = []
    total = 0
    for raw in rows:
        total += len(raw)
        if entries and total > LOG_PAGE_BYTES:
            break
        entries.append(b64encode(raw))
    return LogResponse(entries=entries, head_seq=head_seq), 200


def _conflict(group_id: bytes) -> LogConflictError:
    db.session.rollback()
    group = db.session.get(Group, group_id)
    if group is None:
        return LogConflictError("the group's log changed; fetch it and try again")
    return LogConflictError(
        f"the log head is now entry {group.head_seq} ({b64encode(group.head_hash)}); "
        "fetch the log, rebuild your entry on the new head and try again"
    )


@api_route(bp, "/<gid>/log", "POST", auth="member_or_join", body=AppendRequest,
           max_body=ENTRY_BODY_LIMIT,
           summary="Append one entry (compare-and-swap on the head; JOIN entries need no "
                   "session: they carry their own invite proof)",
           responses={201: AppendResponse})
def append_entry(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    raw = decode_b64(call.body.entry, "entry", MAX_ENTRY_BYTES)
    entry = LogEntry.decode(raw)
    if entry.kind is not EntryKind.JOIN:
        caller = authenticate(group_id)
        if entry.author != caller.subject:
            raise ForbiddenError("sign log entries with the key this session belongs to")
    group = run(READ_HEAD, {"gid": group_id}).first()
    if group is None:
        raise NotFoundError("no group with this id on this relay")
    if group.deleted_at_ms is not None:
        raise deleted_error()
    if entry.group_id != group_id:
        raise ChainBrokenError("this entry belongs to another group")
    now = now_ms()
    if entry.timestamp_ms < now - MAX_PAST_SKEW_MS:
        # The core only forbids dating an entry before its predecessor; the relay's clock
        # bounds the past, so nobody can backdate an entry (say, a JOIN under an invite that
        # has since expired) or replay one signed long ago.
        raise LogEntryStaleError(
            "this entry is dated more than 5 minutes before the relay's clock; rebuild it "
            "on the current head (and check this device's clock)"
        )
    if entry.seq != group.head_seq + 1 or entry.prev_hash != group.head_hash:
        raise _conflict(group_id)
    old = load_state(group_id, group.head_seq, group.head_hash)
    # Every rule of the core (also refusing entries > 5 min in the future); the entry was
    # decoded from these bytes above, its signature verified, so they are not decoded again.
    new = apply_decoded(old, entry, now_ms=now)
    try:
        with write_txn() as tx:
            conn = tx.connection()
            event = conn.execute(MOVE_HEAD, {
                "gid": group_id, "old_seq": old.seq, "old_head": old.head,
                "new_seq": new.seq, "new_head": new.head, "new_epoch": new.epoch,
            }).scalar_one_or_none()
            if event is None:
                raise LogConflictError("the head moved")
            conn.execute(INSERT_ENTRY, {
                "group_id": group_id, "seq": new.seq, "entry_hash": new.head, "raw": raw,
                "event_seq": event, "created_at_ms": now,
            })
            if new.deleted:  # nothing of the group stays but its row and this entry
                purge_group(conn, group_id, new.seq, now)
            else:
                sync_derived(tx, old, new, entry)
    except (LogConflictError, IntegrityError):
        raise _conflict(group_id) from None
    remember(new)
    ring_events(group_id, int(event))
    # The AppendResponse schema, as a plain dict (see registry.api_route).
    return {"seq": new.seq, "head": b64encode(new.head), "cursor": cursor_text(event)}, 201


@api_route(bp, "/<gid>/deletion", "GET", auth="none",
           summary="The entry that deleted a group (its owner's DELETE_GROUP), kept when "
                   "everything else of the group was purged",
           responses={200: DeletionResponse})
def read_deletion(call: Call, gid: str) -> Any:
    group_id = group_id_param(gid)
    group = db.session.get(Group, group_id)
    if group is None or group.deleted_at_ms is None:
        raise NotFoundError("no deleted group with this id on this relay")
    raw = db.session.scalars(select(LogEntryRow.raw).where(
        LogEntryRow.group_id == group_id, LogEntryRow.seq == group.head_seq)).one()
    return DeletionResponse(seq=group.head_seq, entry=b64encode(raw)), 200
