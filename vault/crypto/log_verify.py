"""Verifying a membership log: the entry points, and the high-water mark checks.

A client replays the signed log from the genesis entry (:func:`verify_log`), or extends a
state it verified earlier (:func:`extend_log`, :func:`apply_entry`); every entry must pass
the rules of :mod:`vault.crypto.log_rules`, and the result is a frozen
:class:`~vault.crypto.group_state.GroupState`.

High-water mark: a client stores ``state.checkpoint()`` (group id, seq, head hash) after
every verification and passes it back to :func:`verify_log` next time. A log shorter than
the checkpoint is a rollback (:class:`RollbackError`); a different entry at the
checkpoint's seq, or at any seq the client has seen (:func:`check_same_entry`), is a
fork (:class:`ForkError`): the relay is showing members different logs.
"""

from __future__ import annotations

from collections.abc import Sequence

from vault.crypto.errors import (
    DeletionUnprovenError,
    ForkError,
    GroupIdMismatchError,
    LogError,
    RollbackError,
    VaultError,
)
from vault.crypto.group_state import GroupState, LogCheckpoint
from vault.crypto.limits import MAX_FUTURE_SKEW_MS
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import EntryKind, Role
from vault.crypto.log_rules import StateBuilder, decode_entry

__all__ = [
    "apply_decoded",
    "apply_entry",
    "check_checkpoint",
    "check_deletion",
    "check_same_entry",
    "extend_log",
    "genesis_state",
    "verify_log",
]


def genesis_state(
    genesis: LogEntry, expected_group_id: bytes | None = None, *, now_ms: int | None = None
) -> GroupState:
    """The state right after the genesis entry (:class:`GroupIdMismatchError` if it is
    not the genesis of *expected_group_id*)."""
    return StateBuilder.from_genesis(genesis, expected_group_id, now_ms).freeze()


def apply_entry(state: GroupState, entry: LogEntry, *, now_ms: int | None = None) -> GroupState:
    """The state after *entry*, or the error saying why it may not follow *state*.

    The entry's exact bytes are decoded again and its signature verified, so an entry
    object whose fields disagree with its bytes is refused. *state* never changes: the new
    state shares every record the entry does not touch with it (O(log members), no copy).
    """
    checked = decode_entry(entry.raw, entry.seq)
    if checked != entry:
        raise LogError(f"log entry {entry.seq}: its fields do not match its encoded bytes")
    return apply_decoded(state, checked, now_ms=now_ms)


def apply_decoded(state: GroupState, entry: LogEntry, *, now_ms: int | None = None
                  ) -> GroupState:
    """As :func:`apply_entry`, for an *entry* that was itself decoded from its bytes (by
    :meth:`LogEntry.decode` or :func:`decode_entry`, which verified its signature): every
    rule is applied, and the bytes are not decoded and verified a second time."""
    builder = StateBuilder.thaw(state)
    builder.apply(entry, now_ms)
    return builder.freeze()


def extend_log(
    state: GroupState, entries: Sequence[bytes], *, now_ms: int | None = None
) -> GroupState:
    """Verify *entries* (encoded, starting at ``state.seq + 1``) on top of *state*."""
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


def check_deletion(state: GroupState, raw: bytes, *, now_ms: int | None = None) -> LogEntry:
    """The DELETE_GROUP entry *raw* (served by a relay that says the group is deleted),
    checked against the log this device verified (*state*); raises otherwise.

    Right after *state*'s head it must pass every rule (DEL-1: an owner's). Further on,
    the entries between were purged with the group and cannot be checked: it must then be
    signed by someone who is an owner at *state*'s head, be dated no earlier than that
    head and not in the future (DEL-3). At or before the head, it must be the entry this
    device already holds there. Anything else is :class:`DeletionUnprovenError` (or the
    :class:`ForkError` of a different entry at a known position).
    """
    try:
        entry = LogEntry.decode(raw)
    except VaultError as error:  # malformed, oversized or badly signed: no entry at all
        raise DeletionUnprovenError(
            "the relay says this group was deleted, but what it shows is not a signed log "
            f"entry ({error.message}); this device keeps its copy"
        ) from None
    if entry.group_id != state.group_id or entry.kind is not EntryKind.DELETE_GROUP:
        raise DeletionUnprovenError(
            "the relay says this group was deleted, but shows no owner's deletion of this "
            "group; this device keeps its copy"
        )
    if entry.seq <= state.seq:
        check_same_entry(state, entry.seq, entry.hash)  # so it is the deletion held there
        return entry
    if entry.seq == state.seq + 1:
        try:
            apply_decoded(state, entry, now_ms=now_ms)
        except LogError as error:  # not an owner's, another predecessor, dated wrong...
            raise DeletionUnprovenError(
                f"the relay says this group was deleted, but {error.message}; this device "
                "keeps its copy") from None
        return entry
    if state.role_of(entry.author) is not Role.OWNER:
        raise DeletionUnprovenError(
            "the relay says this group was deleted, by someone who is not an owner in the log "
            "this device verified; this device keeps its copy"
        )
    if entry.timestamp_ms < state.timestamp_ms or (
            now_ms is not None and entry.timestamp_ms > now_ms + MAX_FUTURE_SKEW_MS):
        raise DeletionUnprovenError(
            "the relay says this group was deleted, by an entry dated before the log this "
            "device verified or in the future; this device keeps its copy"
        )
    return entry
