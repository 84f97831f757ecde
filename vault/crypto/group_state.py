"""Group state: what a verified membership log says about a group at its head.

A client never trusts the relay's word on membership: it verifies the signed log
(:mod:`vault.crypto.log_verify`), every entry passing the rules of
:mod:`vault.crypto.log_rules`, and gets back the frozen :class:`GroupState` defined here.
This module also holds the high-water mark a client keeps between verifications
(:class:`LogCheckpoint`) and :func:`new_entry`, which signs the entry to follow a state.

Wire form of a checkpoint (``Tag.LOG_CHECKPOINT``): ``group_id[32] seq u64 head[32]``.

Roles over time: every ROLE entry is kept in ``role_history``, so :meth:`GroupState.role_at`
answers "which role did this key have in the state after entry *seq*" (moderation rights
of a post are judged at the post's own ``log_seq``, not at the reader's head).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from vault.crypto.encoding import Reader, Tag, Writer
from vault.crypto.errors import LogError
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.log import LogEntry, sign_entry
from vault.crypto.log_entries import EntryBody, EntryKind, HistoryBody, MetadataBody, Role
from vault.crypto.persistent import OrderedMap
from vault.crypto.primitives import HASH_SIZE, default_clock

__all__ = [
    "GroupState",
    "InviteState",
    "LogCheckpoint",
    "Member",
    "RoleHistory",
    "new_entry",
]

CHECKPOINT_SIZE: Final = 2 + HASH_SIZE + 8 + HASH_SIZE

RoleHistory: TypeAlias = tuple[tuple[int, Role], ...]
"""``((from_seq, role), ...)``, oldest first: each role holds from the state after entry
``from_seq`` until the next pair's ``from_seq`` (the first pair is the member's join)."""

_NO_ROLE_CHANGES: Final[OrderedMap[bytes, RoleHistory]] = OrderedMap()


@dataclass(frozen=True)
class LogCheckpoint:
    """A high-water mark: this device verified the log of *group_id* up to *seq*/*head*."""

    group_id: bytes
    seq: int
    head: bytes

    def encode(self) -> bytes:
        return (
            Writer(Tag.LOG_CHECKPOINT)
            .fixed(self.group_id, HASH_SIZE)
            .u64(self.seq)
            .fixed(self.head, HASH_SIZE)
            .finish()
        )

    @classmethod
    def decode(cls, data: bytes) -> LogCheckpoint:
        reader = Reader(data, "log checkpoint", Tag.LOG_CHECKPOINT)
        group_id = reader.fixed(HASH_SIZE, "group id")
        seq = reader.u64("sequence number")
        head = reader.fixed(HASH_SIZE, "head hash")
        reader.done()
        return cls(group_id, seq, head)


@dataclass(frozen=True)
class Member:
    """A member (current, or former when ``removed_seq`` is set) and their last role.

    The member belongs to the group in the states after entries
    ``joined_seq <= seq < removed_seq``.
    """

    identity: PublicIdentity
    role: Role
    joined_seq: int
    removed_seq: int | None = None
    removed_at_ms: int | None = None
    """The timestamp of the entry that ended the membership (REMOVE or LEAVE)."""

    @property
    def sign_pk(self) -> bytes:
        return self.identity.sign_pk


@dataclass(frozen=True)
class InviteState:
    invite_id: bytes
    invite_pk: bytes
    max_uses: int
    expires_at_ms: int
    requires_approval: bool
    uses: int
    revoked: bool
    created_by: bytes


@dataclass(frozen=True)
class GroupState:
    """The verified state of a group after entry ``seq`` (whose hash is ``head``).

    Mappings are read-only and iterate in the order their keys first appeared in the log,
    keyed by signing key (``members``, ``former_members``, ``profiles``, ``role_history``),
    invite id (``invites``) or epoch number. ``former_members`` is in the order they
    departed. ``hashes[i]`` is the hash of entry *i*. ``epoch_start_seq[e]`` is the seq of
    the entry that started epoch *e*. ``role_history`` lists only the (current or former)
    members whose role was ever changed by a ROLE entry; everyone else held ``Member.role``
    throughout. ``owners`` holds the signing keys of the current owners.

    The collections are persistent (:mod:`vault.crypto.persistent`): the state after the
    next entry shares every record that entry did not touch with this one, so applying an
    entry costs O(log members), and this state never changes.
    """

    group_id: bytes
    seq: int
    head: bytes
    timestamp_ms: int
    members: OrderedMap[bytes, Member]
    former_members: OrderedMap[bytes, Member]
    invites: OrderedMap[bytes, InviteState]
    epoch: int
    epoch_commitments: OrderedMap[int, bytes]
    epoch_start_seq: OrderedMap[int, int]
    rotation_pending: bool
    group_metadata: MetadataBody | None
    profiles: OrderedMap[bytes, MetadataBody]
    hashes: Sequence[bytes]
    role_history: OrderedMap[bytes, RoleHistory] = field(default_factory=lambda: _NO_ROLE_CHANGES)
    owners: frozenset[bytes] = field(kw_only=True)
    history: HistoryBody | None = field(default=None, kw_only=True)
    """The group's history policy (the last HISTORY entry), or None when no admin has set
    one: each admin's device then admits by its own choice (§8.6)."""
    deleted: bool = field(default=False, kw_only=True)
    """An owner deleted the group (a DELETE_GROUP entry, always the log's last)."""

    def role_of(self, sign_pk: bytes) -> Role | None:
        """The current role of a member, or None for anyone who is not a member now."""
        member = self.members.get(sign_pk)
        return None if member is None else member.role

    def is_member(self, sign_pk: bytes) -> bool:
        return sign_pk in self.members

    def is_admin(self, sign_pk: bytes) -> bool:
        """True for current admins and owners."""
        member = self.members.get(sign_pk)
        return member is not None and member.role >= Role.ADMIN

    def member_record(self, sign_pk: bytes) -> Member | None:
        """The record of a current or former member (None if the key was never a member)."""
        member = self.members.get(sign_pk)
        return member if member is not None else self.former_members.get(sign_pk)

    def can(self, sign_pk: bytes, kind: EntryKind) -> bool:
        """Whether *sign_pk* may author an entry of *kind* now (ignores rules on targets)."""
        if kind is EntryKind.JOIN:
            return sign_pk not in self.members and sign_pk not in self.former_members
        role = self.role_of(sign_pk)
        if role is None or kind is EntryKind.CREATE:
            return False
        if kind is EntryKind.METADATA:  # their own profile; group metadata needs an admin
            return True
        if kind is EntryKind.LEAVE:
            return role != Role.OWNER or len(self.owners) > 1
        if kind is EntryKind.DELETE_GROUP:
            return role == Role.OWNER
        return role >= Role.ADMIN

    def hash_at(self, seq: int) -> bytes | None:
        """Hash of entry *seq*, or None if this state does not reach that far."""
        return self.hashes[seq] if 0 <= seq < len(self.hashes) else None

    def epoch_at(self, seq: int) -> int:
        """The epoch in force in the state after entry *seq* (0 <= seq <= self.seq).

        A seq beyond this state raises :class:`LogError`: check :meth:`hash_at` first.
        """
        if not 0 <= seq <= self.seq:
            raise LogError(
                f"entry {seq} is beyond the membership log this device has verified "
                f"(it ends at entry {self.seq}); sync the log and try again"
            )
        # Epochs 0..epoch start at ascending seqs: a binary search, O(log epochs).
        return bisect_right(range(self.epoch + 1), seq, key=self.epoch_start_seq.__getitem__) - 1

    def was_member_at(self, sign_pk: bytes, seq: int) -> bool:
        """Whether *sign_pk* was a member in the state after entry *seq*."""
        if not 0 <= seq <= self.seq:
            return False
        member = self.member_record(sign_pk)
        if member is None or seq < member.joined_seq:
            return False
        return member.removed_seq is None or seq < member.removed_seq

    def role_at(self, sign_pk: bytes, seq: int) -> Role | None:
        """The role *sign_pk* had in the state after entry *seq*, or None if it was not a
        member then (or *seq* is beyond this state). O(log role changes)."""
        if not self.was_member_at(sign_pk, seq):
            return None
        history = self.role_history.get(sign_pk)
        if history is None:
            member = self.member_record(sign_pk)
            return None if member is None else member.role
        # was_member_at guarantees seq >= joined_seq == history[0][0], so index >= 0.
        return history[bisect_right(history, seq, key=_from_seq) - 1][1]

    def _departure(self, position: int) -> Member:
        # former_members only ever grows, one departure per entry: position i holds the
        # i-th departure, so the records are in ascending removed_seq.
        return self.former_members[self.former_members.key_at(position)]

    def departed_after(self, seq: int) -> list[Member]:
        """Former members whose membership ended at an entry after *seq*, in the order
        they departed. O(log departures + the answer)."""
        count = len(self.former_members)
        start = bisect_right(range(count), seq, key=lambda i: self._departure(i).removed_seq or 0)
        return [self._departure(position) for position in range(start, count)]

    def checkpoint(self) -> LogCheckpoint:
        return LogCheckpoint(self.group_id, self.seq, self.head)


def _from_seq(period: tuple[int, Role]) -> int:
    return period[0]


def new_entry(
    state: GroupState, author: Identity, body: EntryBody, *, now_ms: int | None = None
) -> LogEntry:
    """Sign the entry that would follow *state* (it is validated when applied, not here).

    The timestamp is ``max(now, state.timestamp_ms)`` so a slow clock never breaks the chain.
    """
    now = default_clock() if now_ms is None else now_ms
    return sign_entry(
        author,
        body,
        group_id=state.group_id,
        seq=state.seq + 1,
        prev_hash=state.head,
        timestamp_ms=max(now, state.timestamp_ms),
    )

