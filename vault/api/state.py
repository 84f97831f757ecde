"""The relay's view of each group's verified log, and the tables derived from it.

Every accepted entry is checked with :func:`vault.crypto.log_verify.apply_entry` against
the verified state at the stored head. States are cached per process keyed by group and
checked against the stored (seq, head); a stale cache is extended with
:func:`extend_log`, a missing one rebuilt with :func:`verify_log` from the stored bytes.
"""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from vault.api.db import db
from vault.api.models import InviteRow, JoinRequestRow, LogEntryRow, MemberRow
from vault.api.services import services
from vault.crypto.group_state import GroupState
from vault.crypto.log_verify import extend_log, verify_log

REQUEST_PENDING, REQUEST_APPROVED, REQUEST_DENIED = 0, 1, 2


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
    _cache().put(state)


def sync_derived(session: Session, old: GroupState | None, new: GroupState) -> None:
    """Bring ``members``, ``invites`` (revocations and uses too) and ``join_requests`` in
    line with *new* (same txn)."""
    gid = new.group_id
    old_members = {} if old is None else old.members
    if old is None or old.members is not new.members:
        for pk, member in new.members.items():
            before = old_members.get(pk)
            if before is None:
                session.add(MemberRow(group_id=gid, sign_pk=pk, role=int(member.role),
                                      joined_seq=member.joined_seq, removed_seq=None))
                session.execute(
                    update(JoinRequestRow)
                    .where(JoinRequestRow.group_id == gid, JoinRequestRow.joiner_pk == pk)
                    .values(status=REQUEST_APPROVED)
                )
            elif before.role != member.role:
                session.execute(
                    update(MemberRow)
                    .where(MemberRow.group_id == gid, MemberRow.sign_pk == pk)
                    .values(role=int(member.role))
                )
        for pk in old_members:
            if pk not in new.members:
                former = new.former_members.get(pk)
                removed = new.seq if former is None or former.removed_seq is None \
                    else former.removed_seq
                session.execute(
                    update(MemberRow)
                    .where(MemberRow.group_id == gid, MemberRow.sign_pk == pk)
                    .values(removed_seq=removed)
                )
    old_invites = {} if old is None else old.invites
    if old is None or old.invites is not new.invites:
        for invite_id, invite in new.invites.items():
            before_inv = old_invites.get(invite_id)
            if before_inv is None:
                session.add(InviteRow(
                    group_id=gid, invite_id=invite_id, invite_pk=invite.invite_pk,
                    max_uses=invite.max_uses, expires_at_ms=invite.expires_at_ms,
                    requires_approval=invite.requires_approval, revoked=invite.revoked,
                    redemptions=0, uses=invite.uses,
                ))
            elif before_inv.revoked != invite.revoked or before_inv.uses != invite.uses:
                session.execute(
                    update(InviteRow)
                    .where(InviteRow.group_id == gid, InviteRow.invite_id == invite_id)
                    .values(revoked=invite.revoked, uses=invite.uses)
                )
