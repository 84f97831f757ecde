"""The group state's structural sharing (issue 14): applying an entry never changes a state
someone holds, states built entry by entry equal the state of a full verification (order of
iteration and epoch commitments included), and :func:`touched_by` names every record an
entry changes. No timings here: benchmarks/membership.py measures the costs."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import LogFactory, opaque_metadata
from vault.crypto.group_state import GroupState
from vault.crypto.log_entries import AddBody, Role
from vault.crypto.log_rules import touched_by
from vault.crypto.log_verify import apply_entry, extend_log, verify_log
from vault.crypto.persistent import Entries, OrderedMap


def contents(state: GroupState) -> dict[str, Any]:
    """Everything a state holds, as plain lists in iteration order (a deep, detached copy)."""
    return {
        "head": (state.group_id, state.seq, state.head, state.timestamp_ms, state.epoch,
                 state.rotation_pending, state.group_metadata),
        "members": list(state.members.items()),
        "former": list(state.former_members.items()),
        "invites": list(state.invites.items()),
        "commitments": list(state.epoch_commitments.items()),
        "starts": list(state.epoch_start_seq.items()),
        "profiles": list(state.profiles.items()),
        "hashes": list(state.hashes),
        "roles": list(state.role_history.items()),
        "owners": sorted(state.owners),
    }


def every_kind() -> LogFactory:
    """A log with every entry kind: adds, invites, joins, approvals, roles, metadata,
    profiles, leaves, removals, rotations and an add that rotates."""
    f = LogFactory("persistent-state")
    admin = f.add_member(Role.ADMIN)
    members = f.add_members(6)
    ticket = f.invite(by=admin)
    joiner = f.join(ticket)
    approval = f.invite(requires_approval=True)
    f.approve(approval)
    f.set_role(members[0], Role.MODERATOR)
    f.set_role(members[1], Role.OWNER)
    f.set_metadata()
    f.set_metadata(by=members[2], profile=True, ciphertext=opaque_metadata(7))
    f.remove(members[3])
    f.leave(members[4])
    f.rotate()
    f.add_rotating()
    f.revoke(ticket)
    f.set_role(members[1], Role.ADMIN)
    f.remove(joiner, by=admin)
    f.leave(members[1])
    f.rotate(by=admin)
    f.add_members(3)
    return f


def test_an_old_state_is_unchanged_by_every_entry_after_it() -> None:
    f = every_kind()
    raw = f.raw
    states = [verify_log(f.group_id, raw[:1])]
    before = [contents(states[0])]
    for entry in f.entries[1:]:
        states.append(apply_entry(states[-1], entry))
        before.append(contents(states[-1]))
    for state, seen in zip(states, before, strict=True):
        assert contents(state) == seen
    # ...and each old state is still the one a verification of its prefix gives.
    for seq in (0, 5, 12, len(raw) // 2):
        assert states[seq] == verify_log(f.group_id, raw[:seq + 1])


def test_incremental_states_equal_the_full_verification() -> None:
    f = every_kind()
    full = verify_log(f.group_id, f.raw)
    one_by_one = verify_log(f.group_id, f.raw[:1])
    applied = one_by_one
    for entry in f.entries[1:]:
        one_by_one = extend_log(one_by_one, [entry.raw])
        applied = apply_entry(applied, entry)
    in_two = extend_log(verify_log(f.group_id, f.raw[:9]), f.raw[9:])
    for state in (one_by_one, applied, in_two, f.state):
        assert state == full
        assert contents(state) == contents(full)  # iteration order and commitments too
    assert dict(full.epoch_commitments) == {
        epoch: f.commitment(epoch, key) for epoch, key in f.epoch_keys.items()}


def test_two_entries_on_one_state_make_two_independent_states() -> None:
    f = LogFactory("fork")
    f.add_members(20)
    base = f.state
    kept = contents(base)
    a, b = f.identity(), f.identity()
    left = apply_entry(base, f.make(f.owner, AddBody(a.public, Role.MEMBER)))
    right = apply_entry(base, f.make(f.owner, AddBody(b.public, Role.ADMIN)))
    assert a.sign_pk in left.members and a.sign_pk not in right.members
    assert b.sign_pk in right.members and b.sign_pk not in left.members
    assert left.hashes[-1] != right.hashes[-1] and left.hashes[:-1] == right.hashes[:-1]
    assert contents(base) == kept


def test_iteration_order_is_the_order_of_the_log() -> None:
    f = LogFactory("order")
    people = f.add_members(12)
    f.set_role(people[3], Role.ADMIN)  # a changed record keeps its place
    f.remove(people[5])
    f.remove(people[1])
    f.leave(people[8])
    state = f.state
    assert list(state.members) == [f.owner.sign_pk] + [
        p.sign_pk for i, p in enumerate(people) if i not in (1, 5, 8)]
    assert list(state.former_members) == [people[5].sign_pk, people[1].sign_pk,
                                          people[8].sign_pk]
    assert list(state.epoch_start_seq) == [0, 1, 2]
    departed = sorted(state.former_members.values(), key=lambda m: m.removed_seq or 0)
    for seq in range(state.seq + 1):
        assert state.departed_after(seq) == [m for m in departed if (m.removed_seq or 0) > seq]
        starts = [state.epoch_start_seq[e] for e in range(state.epoch + 1)]
        assert state.epoch_at(seq) == max(e for e, s in enumerate(starts) if s <= seq)
    assert state.owners == frozenset({f.owner.sign_pk})


def test_touched_by_names_every_record_an_entry_changes() -> None:
    f = every_kind()
    state = verify_log(f.group_id, f.raw[:1])
    for entry in f.entries[1:]:
        after = apply_entry(state, entry)
        touched = touched_by(entry)
        for old, new, names in ((state.members, after.members, touched.members),
                                (state.former_members, after.former_members, touched.members),
                                (state.invites, after.invites, touched.invites)):
            changed = {k for k in {*old, *new} if old.get(k) != new.get(k)}
            assert changed <= names, (entry.kind, changed - names)
        state = after


# --- the collections themselves --------------------------------------------------------------

OPS = st.lists(st.tuples(st.booleans(), st.integers(0, 15), st.integers()), max_size=60)


@settings(max_examples=150, deadline=None)
@given(OPS, OPS)
def test_ordered_map_behaves_as_a_dict_and_never_changes(first: Any, second: Any) -> None:
    model: dict[int, int] = {}
    draft = OrderedMap[int, int]().mutate()
    for is_delete, key, value in first:
        if is_delete and key in model:
            del model[key]
            del draft[key]
        elif not is_delete:
            model[key] = value
            draft[key] = value
    base = draft.finish()
    assert list(base.items()) == list(model.items()) and base == model
    frozen = list(base.items())
    later, model2 = base.mutate(), dict(model)
    for is_delete, key, value in second:
        if is_delete and key in model2:
            del model2[key]
            del later[key]
        elif not is_delete:
            model2[key] = value
            later[key] = value
    assert list(later.finish().items()) == list(model2.items())
    assert list(base.items()) == frozen  # the map it was made from is untouched
    assert all(base.get(k) == model.get(k) for k in range(16))


def test_entries_behave_as_a_tuple_and_never_change() -> None:
    base = Entries([b"a", b"b", b"c"])
    draft = base.mutate()
    draft.append(b"d")
    longer = draft.finish()
    assert base == (b"a", b"b", b"c") and len(base) == 3
    assert longer == [b"a", b"b", b"c", b"d"] and longer[-1] == b"d" and longer[1:3] == (b"b", b"c")
    with pytest.raises(IndexError):
        _ = base[3]
    assert base != longer and base != (b"a", b"b")
