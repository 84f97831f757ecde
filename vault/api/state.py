"""The relay's view of each group's verified log, and the tables derived from it.

Every accepted entry is checked with the core's rules (those of
:func:`vault.crypto.log_verify.apply_entry`, on the entry the handler decoded and verified)
against the verified state at the stored head. States are cached per process keyed by group and
checked against the stored (seq, head); a stale cache is extended with
:func:`extend_log`, a missing one rebuilt with :func:`verify_log` from the stored bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Final

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.orm import Session

from vault.api.db import db
from vault.api.models import InviteRow, JoinRequestRow, LogEntryRow, MemberRow
from vault.api.services import services
from vault.crypto.group_state import GroupState, InviteState, Member
from vault.crypto.log import LogEntry
from vault.crypto.log_rules import touched_by
from vault.crypto.log_verify import extend_log, verify_log

REQUEST_PENDING, REQUEST_APPROVED, REQUEST_DENIED = 0, 1, 2

_NO_MEMBERS: Final[Mapping[bytes, Member]] = {}
_NO_INVITES: Final[Mapping[bytes, InviteState]] = {}
# The derived rows are written as plain table statements (no ORM unit of work): the
# request never loads them as objects, so there is nothing in the session to keep in step.
# Built once with bound parameters (none named like a column: Core would SET it), and run
# on the transaction's connection.
_MEMBERS: Final = MemberRow.__table__
_REQUESTS: Final = JoinRequestRow.__table__
_INVITES: Final = InviteRow.__table__
_A_MEMBER = (_MEMBERS.c.group_id == bindparam("gid"), _MEMBERS.c.sign_pk == bindparam("pk"))
INSERT_MEMBER: Final = insert(_MEMBERS)
SET_ROLE: Final = update(_MEMBERS).where(*_A_MEMBER).values(role=bindparam("new_role"))
SET_REMOVED: Final = update(_MEMBERS).where(*_A_MEMBER).values(
    removed_seq=bindparam("removed"))
APPROVE_REQUESTS: Final = (
    update(_REQUESTS)
    .where(_REQUESTS.c.group_id == bindparam("gid"), _REQUESTS.c.joiner_pk == bindparam("pk"))
    .values(status=REQUEST_APPROVED))
INSERT_INVITE: Final = insert(_INVITES)
SET_INVITE_USE: Final = (
    update(_INVITES)
    .where(_INVITES.c.group_id == bindparam("gid"), _INVITES.c.invite_id == bindparam("iid"))
    .values(revoked=bindparam("is_revoked"), uses=bindparam("use_count")))
DROP_CARD: Final = (  # a revoked invite's card is of no use to anyone
    update(_INVITES)
    .where(_INVITES.c.group_id == bindparam("gid"), _INVITES.c.invite_id == bindparam("iid"))
    .values(card=None))


class StateCache:
    def __init__(self, size: int = 256) -> None:
        self._size = size
        self._states: OrderedDict[bytes, GroupState] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, group_id: bytes) -> GroupState | None:
        with self._lock:
            state = self._states.get(group_id)
            if state is not None:
                self._states.move_to_end(group_id)
            return state

    def drop(self, group_id: bytes) -> None:
        with self._lock:
            self._states.pop(group_id, None)

    def put(self, state: GroupState) -> None:
        with self._lock:
            current = self._states.get(state.group_id)
            if current is not None and current.seq > state.seq:
                return
            self._states[state.group_id] = state
            self._states.move_to_end(state.group_id)
            while len(self._states) > self._size:
                self._states.popitem(last=False)


def _cache() -> StateCache:
    return services().state_cache


def load_state(group_id: bytes, head_seq: int, head_hash: bytes) -> GroupState:
    """The verified state at the stored head (seq, hash)."""
    cached = _cache().get(group_id)
    if cached is not None and cached.seq == head_seq and cached.head == head_hash:
        return cached
    state: GroupState | None = None
    if cached is not None and cached.seq < head_seq:
        rows = db.session.scalars(
            select(LogEntryRow.raw)
            .where(LogEntryRow.group_id == group_id)
            .where(LogEntryRow.seq > cached.seq, LogEntryRow.seq <= head_seq)
            .order_by(LogEntryRow.seq)
        ).all()
        state = extend_log(cached, list(rows))
    if state is None or state.head != head_hash:
        rows = db.session.scalars(
            select(LogEntryRow.raw)
            .where(LogEntryRow.group_id == group_id, LogEntryRow.seq <= head_seq)
            .order_by(LogEntryRow.seq)
        ).all()
        state = verify_log(group_id, list(rows))
    _cache().put(state)
    return state


def remember(state: GroupState) -> None:
    """Keep *state*, the group's newest; a deleted group's is dropped instead (its members'
    keys are not kept in memory once the database no longer holds them)."""
    if state.deleted:
        _cache().drop(state.group_id)
    else:
        _cache().put(state)


def sync_derived(
    session: Session, old: GroupState | None, new: GroupState, entry: LogEntry | None = None
) -> None:
    """Bring ``members``, ``invites`` (revocations and uses too) and ``join_requests`` in
    line with *new* (same txn).

    With *entry* (the one entry that took *old* to *new*) only the rows of the members and
    the invite it names are compared (:func:`~vault.crypto.log_rules.touched_by`): an add or
    a remove costs the same in a group of 10 or 10,000. Without it, every member and invite
    of both states is compared (a new group, or a jump of several entries).
    """
    gid = new.group_id
    old_members = _NO_MEMBERS if old is None else old.members
    old_invites = _NO_INVITES if old is None else old.invites
    if entry is not None:
        touched = touched_by(entry)
        member_keys: Iterable[bytes] = touched.members
        invite_ids: Iterable[bytes] = touched.invites
    else:
        member_keys = list(dict.fromkeys([*new.members, *old_members]))
        invite_ids = list(new.invites)
    conn = session.connection()
    for pk in member_keys:
        before = old_members.get(pk)
        member = new.members.get(pk)
        if before is None and member is not None:
            conn.execute(INSERT_MEMBER, {
                "group_id": gid, "sign_pk": pk, "role": int(member.role),
                "joined_seq": member.joined_seq, "removed_seq": None})
            conn.execute(APPROVE_REQUESTS, {"gid": gid, "pk": pk})
        elif before is not None and member is not None and before.role != member.role:
            conn.execute(SET_ROLE, {"gid": gid, "pk": pk, "new_role": int(member.role)})
        elif before is not None and member is None:
            former = new.former_members.get(pk)
            removed = new.seq if former is None or former.removed_seq is None \
                else former.removed_seq
            conn.execute(SET_REMOVED, {"gid": gid, "pk": pk, "removed": removed})
    for invite_id in invite_ids:
        invite = new.invites.get(invite_id)
        if invite is None:
            continue
        before_inv = old_invites.get(invite_id)
        if before_inv is None:
            conn.execute(INSERT_INVITE, {
                "group_id": gid, "invite_id": invite_id, "invite_pk": invite.invite_pk,
                "max_uses": invite.max_uses, "expires_at_ms": invite.expires_at_ms,
                "requires_approval": invite.requires_approval, "revoked": invite.revoked,
                "redemptions": 0, "uses": invite.uses,
            })
        elif before_inv.revoked != invite.revoked or before_inv.uses != invite.uses:
            conn.execute(SET_INVITE_USE, {"gid": gid, "iid": invite_id,
                                          "is_revoked": invite.revoked,
                                          "use_count": invite.uses})
            if invite.revoked and not before_inv.revoked:
                conn.execute(DROP_CARD, {"gid": gid, "iid": invite_id})
