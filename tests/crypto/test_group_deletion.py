"""Deleting a group in the log (DELETE_GROUP, rules DEL-1/DEL-2) and checking a relay's
word that a group was deleted (check_deletion, DEL-3)."""

from __future__ import annotations

import pytest

from vault.crypto.errors import (
    DeletionUnprovenError,
    ForkError,
    InvalidEntryError,
    UnauthorizedEntryError,
)
from vault.crypto.log import sign_entry
from vault.crypto.log_entries import DeleteGroupBody, EntryKind, HistoryBody, HistoryPolicy, Role
from vault.crypto.log_verify import check_deletion, verify_log

from .logfactory import LogFactory


def test_an_owner_deletes_and_nothing_may_follow() -> None:
    f = LogFactory()
    admin = f.add_member(Role.ADMIN)
    entry = f.append(f.owner, DeleteGroupBody())
    assert entry.kind is EntryKind.DELETE_GROUP and entry.body == DeleteGroupBody()
    assert f.state.deleted and verify_log(f.group_id, f.raw).deleted
    with pytest.raises(InvalidEntryError, match="follows the entry that deleted the group"):
        f.append(admin, HistoryBody(HistoryPolicy.NONE))
    with pytest.raises(InvalidEntryError, match="deleted the group"):
        f.append(f.owner, DeleteGroupBody())


def test_an_admin_may_not_delete() -> None:
    f = LogFactory()
    admin = f.add_member(Role.ADMIN)
    with pytest.raises(UnauthorizedEntryError, match="only an owner may delete the group"):
        f.append(admin, DeleteGroupBody())
    assert not f.state.deleted


def test_a_deletion_right_after_the_head_passes_every_rule() -> None:
    f = LogFactory()
    admin = f.add_member(Role.ADMIN)
    known = f.state
    assert check_deletion(known, f.make(f.owner, DeleteGroupBody()).raw).author == f.owner.sign_pk
    with pytest.raises(DeletionUnprovenError, match="only an owner may delete"):
        check_deletion(known, f.make(admin, DeleteGroupBody()).raw)
    # Every other rule a next entry breaks is the same refusal (the copy stays).
    elsewhere = sign_entry(f.owner, DeleteGroupBody(), group_id=f.group_id, seq=known.seq + 1,
                           prev_hash=bytes(32), timestamp_ms=known.timestamp_ms)
    early = sign_entry(f.owner, DeleteGroupBody(), group_id=f.group_id, seq=known.seq + 1,
                       prev_hash=known.head, timestamp_ms=known.timestamp_ms - 1)
    for raw, match in ((elsewhere, "does not follow"), (early, "dated before")):
        with pytest.raises(DeletionUnprovenError, match=match):
            check_deletion(known, raw.raw, now_ms=known.timestamp_ms)


def test_a_deletion_past_purged_entries_needs_an_owner_at_the_known_head() -> None:
    f = LogFactory()
    admin = f.add_member(Role.ADMIN)
    co_owner = f.add_member(Role.OWNER)
    known = f.state
    f.add_member()  # an entry this device never saw (the relay purged it with the group)
    by_owner = f.make(co_owner, DeleteGroupBody())
    assert check_deletion(known, by_owner.raw, now_ms=f.now_ms).seq == known.seq + 2
    with pytest.raises(DeletionUnprovenError, match="not an owner"):
        check_deletion(known, f.make(admin, DeleteGroupBody()).raw)
    stranger = f.identity()
    with pytest.raises(DeletionUnprovenError, match="not an owner"):
        check_deletion(known, f.make(stranger, DeleteGroupBody()).raw)
    backdated = sign_entry(co_owner, DeleteGroupBody(), group_id=f.group_id,
                           seq=by_owner.seq, prev_hash=by_owner.prev_hash,
                           timestamp_ms=known.timestamp_ms - 1)
    with pytest.raises(DeletionUnprovenError, match="dated before"):
        check_deletion(known, backdated.raw)
    with pytest.raises(DeletionUnprovenError, match="in the future"):
        check_deletion(known, by_owner.raw, now_ms=by_owner.timestamp_ms - 10 * 60_000)


def test_what_is_not_an_owners_deletion_of_this_group_is_refused() -> None:
    f = LogFactory()
    other = LogFactory("another group")
    known = f.state
    f.add_member()
    with pytest.raises(DeletionUnprovenError, match="no owner's deletion of this group"):
        check_deletion(known, other.make(other.owner, DeleteGroupBody()).raw)
    with pytest.raises(DeletionUnprovenError, match="no owner's deletion"):
        check_deletion(known, f.make(f.owner, HistoryBody(HistoryPolicy.ALL)).raw)
    tampered = bytearray(f.make(f.owner, DeleteGroupBody()).raw)
    tampered[-1] ^= 1
    with pytest.raises(DeletionUnprovenError, match="not a signed log entry"):
        check_deletion(known, bytes(tampered))
    with pytest.raises(DeletionUnprovenError, match="not a signed log entry"):
        check_deletion(known, b"")


def test_a_known_position_must_hold_that_very_deletion() -> None:
    f = LogFactory()
    twin = LogFactory()  # the same seed: the same group, genesis and owner
    f.add_member()
    known = f.state
    # An entry this device holds, replayed as "the deletion": not one.
    with pytest.raises(DeletionUnprovenError, match="no owner's deletion"):
        check_deletion(known, f.entries[-1].raw)
    # A deletion at a position where this device holds another entry: a fork.
    assert twin.group_id == f.group_id
    with pytest.raises(ForkError):
        check_deletion(known, twin.make(twin.owner, DeleteGroupBody()).raw)
    # The deletion this device already applied is accepted again.
    entry = f.append(f.owner, DeleteGroupBody())
    assert check_deletion(f.state, entry.raw) == entry
