"""Group state: what a verified membership log says about a group at its head.

A client never trusts the relay's word on membership: it replays the signed log from the
genesis entry (:func:`verify_log`), or extends a state it verified earlier
(:func:`extend_log`), and every entry must pass the rules below. The rules themselves
live in :mod:`vault.crypto.log_rules`; this module holds the resulting frozen
:class:`GroupState`, the high-water mark (:class:`LogCheckpoint`) and the entry points.

High-water mark: a client stores ``state.checkpoint()`` (group id, seq, head hash) after
every verification and passes it back to :func:`verify_log` next time. A log shorter than
the checkpoint is a rollback (:class:`RollbackError`); a different entry at the
checkpoint's seq, or at any seq the client has seen (:func:`check_same_entry`), is a
fork (:class:`ForkError`): the relay is showing members different logs.

Wire form of a checkpoint (``Tag.LOG_CHECKPOINT``): ``group_id[32] seq u64 head[32]``.

Rules (error class in brackets):

Chain, for every entry after the genesis:
  same group id as the genesis [ChainBrokenError]; ``seq == previous seq + 1``
  [ChainBrokenError]; ``prev_hash == hash of the previous entry`` [ChainBrokenError];
  timestamp not before the previous entry's [InvalidEntryError]; when the caller gives
  ``now_ms``, timestamp at most 5 minutes ahead of it [InvalidEntryError]; CREATE only
  as the genesis [InvalidEntryError]; the author is a current member, except in JOIN
  [UnauthorizedEntryError]. Signatures are checked when decoding [SignatureError].

Genesis: kind CREATE, seq 0, zero group id and predecessor hash [InvalidEntryError;
ChainBrokenError for seq]; signed by the creator it names [UnauthorizedEntryError];
hashes to the expected group id [GroupIdMismatchError]; with ``now_ms``, not more than
5 minutes in the future [InvalidEntryError]. The creator becomes the owner; epoch 0
starts with the body's commitment.

Timestamps are the author's claim. The chain forbids going backwards and (given a
clock) far into the future, but cannot stop an author backdating to the previous
entry's time; the relay bounds timestamps against its own clock when it accepts an
append.

Roles, highest first: OWNER > ADMIN > MODERATOR > MEMBER. Moderators have no log rights
beyond a member's (moderation acts on posts). "Admin" below means admin or owner.

* INVITE (admin): invite id unused in this group [InvalidEntryError];
  1 <= max_uses <= 10,000 [InvalidEntryError]; expires after the entry's timestamp
  [InvalidEntryError].
* INVITE_REVOKE (admin): the invite exists [UnknownInviteError] and is not already
  revoked [InviteRevokedError].
* JOIN (the joiner, author == joiner): joiner is not a current member and was never
  one (a removed or departed key can never come back; a person rejoins with a fresh
  identity) [InvalidEntryError]; invite checks (below); the invite does not require
  approval [UnauthorizedEntryError]. Joins as MEMBER.
* ADD (admin): the role is at most the author's own and only an owner adds admins or
  owners [UnauthorizedEntryError]; same "new key" rule as JOIN [InvalidEntryError];
  invite id and proof both present or both absent [InvalidEntryError]; with an invite,
  the invite checks (any invite, approval or not); without one, a direct add.
* ADD_ROTATE (admin): every ADD rule, then ``new_epoch == epoch + 1``
  [InvalidEntryError]. Admits the member and starts the new epoch at the same entry
  (clearing ``rotation_pending``): how an admin admits someone who must read nothing
  written before (history "none"), in one step that cannot half-happen.
* Invite checks: the invite exists [UnknownInviteError], is not revoked
  [InviteRevokedError], the entry's timestamp is before its expiry [InviteExpiredError],
  ``uses < max_uses`` [InviteExhaustedError], and the proof verifies
  ``Sign(invite key, "vault/v1/join-proof", group_id || invite_id || joiner)``
  [SignatureError]. A successful JOIN/ADD uses the invite once.
* REMOVE (admin): the target is a current member [InvalidEntryError] and not the author
  (leave instead) [InvalidEntryError]; removing an admin or owner needs an owner
  [UnauthorizedEntryError]; ``new_epoch == epoch + 1`` [InvalidEntryError]. Starts the
  new epoch with the body's commitment and clears ``rotation_pending``.
* LEAVE (any member): not the last owner [InvalidEntryError]. Sets ``rotation_pending``:
  the leaver cannot rotate for the others, so an admin's ROTATE starts the next epoch.
* ROLE (admin): the target is a current member [InvalidEntryError] and the role changes
  [InvalidEntryError]; the new role is at most the author's own, and only an owner
  changes the role of an admin or owner or makes one [UnauthorizedEntryError]; the last
  owner cannot be demoted [InvalidEntryError]. (Members may change their own role only
  within these rules, e.g. an owner stepping down while another owner remains.)
* ROTATE (admin): ``new_epoch == epoch + 1`` [InvalidEntryError]; clears
  ``rotation_pending``.
* METADATA: subject None (the group's metadata) needs an admin; otherwise the subject
  must be the author (a member's own profile) [UnauthorizedEntryError]; the epoch is the
  current one [InvalidEntryError], so members removed before it cannot read it.

Roles over time: every ROLE entry is kept in ``role_history``, so :meth:`GroupState.role_at`
answers "which role did this key have in the state after entry *seq*" (moderation rights
of a post are judged at the post's own ``log_seq``, not at the reader's head).
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from types import MappingProxyType
from typing import Final, TypeAlias

from vault.crypto.encoding import Reader, Tag, Writer
from vault.crypto.errors import (
    ForkError,
    GroupIdMismatchError,
    LogError,
    RollbackError,
)
from vault.crypto.identity import PublicIdentity
from vault.crypto.log import EntryKind, LogEntry, MetadataBody, Role
from vault.crypto.primitives import HASH_SIZE

__all__ = [
    "GroupState",
    "InviteState",
    "LogCheckpoint",
    "Member",
    "RoleHistory",
    "apply_entry",
    "check_checkpoint",
    "check_same_entry",
    "extend_log",
    "genesis_state",
    "verify_log",
]

CHECKPOINT_SIZE: Final = 2 + HASH_SIZE + 8 + HASH_SIZE

RoleHistory: TypeAlias = tuple[tuple[int, Role], ...]
"""``((from_seq, role), ...)``, oldest first: each role holds from the state after entry
``from_seq`` until the next pair's ``from_seq`` (the first pair is the member's join)."""

_NO_ROLE_CHANGES: Final[Mapping[bytes, RoleHistory]] = MappingProxyType({})


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

    Mappings are read-only views, keyed by signing key (``members``, ``former_members``,
    ``profiles``, ``role_history``), invite id (``invites``) or epoch number. ``hashes[i]``
    is the hash of entry *i*. ``epoch_start_seq[e]`` is the seq of the entry that started
    epoch *e*. ``role_history`` lists only the (current or former) members whose role was
    ever changed by a ROLE entry; everyone else held ``Member.role`` throughout.
    """

    group_id: bytes
    seq: int
    head: bytes
    timestamp_ms: int
    members: Mapping[bytes, Member]
    former_members: Mapping[bytes, Member]
    invites: Mapping[bytes, InviteState]
    epoch: int
    epoch_commitments: Mapping[int, bytes]
    epoch_start_seq: Mapping[int, int]
    rotation_pending: bool
    group_metadata: MetadataBody | None
    profiles: Mapping[bytes, MetadataBody]
    hashes: tuple[bytes, ...]
    role_history: Mapping[bytes, RoleHistory] = field(default_factory=lambda: _NO_ROLE_CHANGES)

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
            return role != Role.OWNER or self._owner_count() > 1
        return role >= Role.ADMIN

    def _owner_count(self) -> int:
        return sum(1 for member in self.members.values() if member.role == Role.OWNER)

    def hash_at(self, seq: int) -> bytes | None:
        """Hash of entry *seq*, or None if this state does not reach that far."""
        return self.hashes[seq] if 0 <= seq < len(self.hashes) else None

    @cached_property
    def _epoch_starts(self) -> list[int]:
        return [self.epoch_start_seq[epoch] for epoch in range(self.epoch + 1)]

    def epoch_at(self, seq: int) -> int:
        """The epoch in force in the state after entry *seq* (0 <= seq <= self.seq).

        A seq beyond this state raises :class:`LogError`: check :meth:`hash_at` first.
        """
        if not 0 <= seq <= self.seq:
            raise LogError(
                f"entry {seq} is beyond the membership log this device has verified "
                f"(it ends at entry {self.seq}); sync the log and try again"
            )
        return bisect_right(self._epoch_starts, seq) - 1

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

    @cached_property
    def _departures(self) -> tuple[tuple[int, bytes], ...]:
        return tuple(sorted((m.removed_seq, pk) for pk, m in self.former_members.items()
                            if m.removed_seq is not None))

    def departed_after(self, seq: int) -> list[Member]:
        """Former members whose membership ended at an entry after *seq*, in the order
        they departed. O(log departures + the answer)."""
        start = bisect_right(self._departures, (seq, b"\xff" * 33))
        return [self.former_members[pk] for _, pk in self._departures[start:]]

    def checkpoint(self) -> LogCheckpoint:
        return LogCheckpoint(self.group_id, self.seq, self.head)


def _from_seq(period: tuple[int, Role]) -> int:
    return period[0]


def genesis_state(
    genesis: LogEntry, expected_group_id: bytes | None = None, *, now_ms: int | None = None
) -> GroupState:
    """The state right after the genesis entry (:class:`GroupIdMismatchError` if it is
    not the genesis of *expected_group_id*)."""
    from vault.crypto.log_rules import StateBuilder

    return StateBuilder.from_genesis(genesis, expected_group_id, now_ms).freeze()


def apply_entry(state: GroupState, entry: LogEntry, *, now_ms: int | None = None) -> GroupState:
    """The state after *entry*, or the error saying why it may not follow *state*.

    The entry's exact bytes are decoded again and its signature verified, so an entry
    object whose fields disagree with its bytes is refused. Copies the state (O(members));
    to apply many entries use :func:`extend_log`.
    """
    from vault.crypto.log_rules import StateBuilder, decode_entry

    checked = decode_entry(entry.raw, entry.seq)
    if checked != entry:
        raise LogError(f"log entry {entry.seq}: its fields do not match its encoded bytes")
    builder = StateBuilder.thaw(state)
    builder.apply(checked, now_ms)
    return builder.freeze()


def extend_log(
    state: GroupState, entries: Sequence[bytes], *, now_ms: int | None = None
) -> GroupState:
    """Verify *entries* (encoded, starting at ``state.seq + 1``) on top of *state*."""
    from vault.crypto.log_rules import StateBuilder, decode_entry

    if not entries:
        return state
    builder = StateBuilder.thaw(state)
    for offset, raw in enumerate(entries):
        builder.apply(decode_entry(raw, state.seq + 1 + offset), now_ms)
    return builder.freeze()


def verify_log(
    group_id: bytes,
    entries: Sequence[bytes],
    *,
    checkpoint: LogCheckpoint | None = None,
    now_ms: int | None = None,
) -> GroupState:
    """Verify a whole log (encoded entries, genesis first) of the group *group_id*.

    With *checkpoint* (this device's high-water mark) a shorter log is a
    :class:`RollbackError` and a different entry at ``checkpoint.seq`` a :class:`ForkError`.
    """
    from vault.crypto.log_rules import StateBuilder, decode_entry

    if checkpoint is not None:
        if checkpoint.group_id != group_id:
            raise GroupIdMismatchError("the saved log checkpoint belongs to another group")
        if len(entries) <= checkpoint.seq:
            raise _rollback(len(entries) - 1, checkpoint.seq)
    if not entries:
        raise LogError(
            "the relay served an empty membership log: there is no genesis entry to verify"
        )
    builder = StateBuilder.from_genesis(decode_entry(entries[0], 0), group_id, now_ms)
    if checkpoint is not None and checkpoint.seq == 0:
        _check_fork(0, builder.head, checkpoint.head)
    fork_seq = -1 if checkpoint is None else checkpoint.seq
    for seq in range(1, len(entries)):
        builder.apply(decode_entry(entries[seq], seq), now_ms)
        if seq == fork_seq and checkpoint is not None:
            # Checked as soon as it is reached, so a fork is named as such even when
            # the forked branch later breaks another rule.
            _check_fork(seq, builder.head, checkpoint.head)
    return builder.freeze()


def _rollback(served_last: int, known: int) -> RollbackError:
    return RollbackError(
        f"the relay served an older log than this device already verified: it ends at "
        f"entry {served_last}, but this device has seen entry {known}. The relay may be "
        "hiding recent membership changes (such as a removal); do not post until it "
        "serves the full log again"
    )


def _check_fork(seq: int, served: bytes, known: bytes) -> None:
    if served != known:
        raise ForkError(
            f"the relay served a different entry {seq} of the membership log than the one "
            "this device already verified: members are being shown different versions of "
            "the group (a fork). Compare safety numbers and the log head with other members "
            "in person before trusting this group again"
        )


def check_checkpoint(state: GroupState | Sequence[bytes], checkpoint: LogCheckpoint) -> None:
    """Check a served log (a state or its entry hashes) against a saved high-water mark."""
    if isinstance(state, GroupState):
        if state.group_id != checkpoint.group_id:
            raise GroupIdMismatchError("the saved log checkpoint belongs to another group")
        hashes: Sequence[bytes] = state.hashes
    else:
        hashes = state
    if len(hashes) <= checkpoint.seq:
        raise _rollback(len(hashes) - 1, checkpoint.seq)
    _check_fork(checkpoint.seq, hashes[checkpoint.seq], checkpoint.head)


def check_same_entry(state: GroupState, seq: int, entry_hash: bytes) -> None:
    """:class:`ForkError` if the entry at *seq* (already verified) has another hash.

    Seqs beyond this state are unknown, not a fork: they are verified when synced.
    """
    known = state.hash_at(seq)
    if known is not None:
        _check_fork(seq, entry_hash, known)
