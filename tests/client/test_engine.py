"""The sans-I/O sync engine: what it decides from what a (possibly hostile) relay served."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from vault_client import events as ev
from vault_client._internal import sync
from vault_client._internal.group_view import GroupView

from tests.crypto.logfactory import LogFactory
from tests.crypto.postkit import Group
from vault.crypto import posts as posts_module
from vault.crypto.errors import ChainBrokenError, ForkError, RollbackError
from vault.crypto.freshness import Arrival
from vault.crypto.identity import Identity
from vault.crypto.log_entries import Role
from vault.crypto.log_verify import verify_log


def view_of(group: Group, me: Identity, *, keys: bool = True) -> GroupView:
    f = group.f
    view = GroupView(f.group_id, "https://relay.example", "member", me, f.state, f.raw, "none")
    if keys:
        view.keys.update(f.epoch_keys)
    return view


NOW = Arrival()  # no read completed before: nothing refused for arriving late


def items(*posts: object) -> list[sync.Served]:
    return [(p.post_id, str(i), p.envelope.encode(), NOW)  # type: ignore[attr-defined]
            for i, p in enumerate(posts)]


def test_log_rollback_fork_and_broken_chain() -> None:
    f = LogFactory("engine-log")
    f.add_members(2)
    old = verify_log(f.group_id, f.raw)
    f.rotate()
    served = f.raw[old.seq:]
    new = sync.apply_log(old, served, f.state.seq, f.now_ms)
    assert new.seq == f.state.seq
    with pytest.raises(RollbackError):
        sync.apply_log(old, [], old.seq - 1, f.now_ms)
    other = LogFactory("engine-log")  # same start, another history from the fork point
    other.add_members(1)
    other.add_member(Role.MODERATOR)  # entry 2 differs from the one "old" verified
    with pytest.raises(ForkError):
        sync.apply_log(old, other.raw[old.seq:], other.state.seq, other.now_ms)
    with pytest.raises(ChainBrokenError):
        sync.apply_log(old, [served[0], served[0]], old.seq + 1, f.now_ms)


def test_gaps_equivocation_and_bad_posts_are_warnings() -> None:
    group = Group()
    view = view_of(group, group.alice)
    one = group.post(group.bob, text="one")
    group.body(group.bob)  # burns bob's seq 2: the relay "withholds" it
    three = group.post(group.bob, text="three")
    result = sync.ingest(view, items(one, three))
    assert [p.post_id for p, _, _ in result.stored] == [one.post_id, three.post_id]
    assert [e.kind for e in result.events if isinstance(e, ev.NewPost)] == ["post", "post"]
    (gap,) = sync.gap_warnings(view, result.gaps)
    assert isinstance(gap, ev.PostsWithheld) and gap.missing == ((2, 2),) and gap.count == 1

    twin = group.post(group.bob, text="same number, other words", author_seq=3)
    tampered = group.post(group.alice, text="x")
    raw = bytearray(tampered.envelope.encode())
    raw[-1] ^= 1
    result = sync.ingest(view, [(twin.post_id, "9", twin.envelope.encode(), NOW),
                                (tampered.post_id, "10", bytes(raw), NOW),
                                (b"\x01" * 16, "11", b"junk", NOW)])
    kinds = [type(w) for w in result.warnings]
    assert kinds == [ev.Equivocation, ev.InvalidPost, ev.InvalidPost]
    assert {pid for pid, _ in result.rejected} == {twin.post_id, tampered.post_id, b"\x01" * 16}
    # A repeat of a post already held is silently a duplicate.
    assert not sync.ingest(view, items(one)).stored


def test_missing_key_and_unknown_head_are_held() -> None:
    group = Group()
    view = view_of(group, group.alice, keys=False)
    post = group.post(group.bob)
    result = sync.ingest(view, items(post))
    assert result.held and not result.stored and not result.warnings
    view.keys.update(group.f.epoch_keys)
    # A post written against a log this view does not have (another entry at its seq).
    body = group.body(group.bob, log_head=b"\x07" * 32)
    env = group.seal(group.bob, body)
    result = sync.ingest(view, [(env.post_id, "1", env.encode(), NOW)])
    assert result.held and result.unknown_heads and not result.stored


def test_admin_duties() -> None:
    group = Group()
    f = group.f
    view = view_of(group, group.owner)
    ticket = f.invite(requires_approval=False)
    joiner = f.join(ticket)
    view.state, view.entries = f.state, f.raw
    assert sync.needs_rotation(view)  # policy "none": a self-join starts a new epoch
    view.local_policy = "current"  # (no HISTORY entry in this log: the device's own)
    assert not sync.needs_rotation(view)
    owed = sync.owed_grants(view)
    assert joiner.public in owed[view.state.epoch]
    f.leave(group.bob)
    view.state, view.entries = f.state, f.raw
    assert sync.needs_rotation(view)  # someone left: rotation_pending
    member_view = view_of(group, group.alice)
    assert not sync.needs_rotation(member_view) and sync.owed_grants(member_view) == {}


def test_opening_on_every_core_decides_exactly_as_opening_one_by_one(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync opens a page's posts on every core first (``map_batches``); what ingesting
    decides must not change by a bit: the same posts stored in the same order, the same
    warnings, rejections and held posts, whatever each batch held."""
    monkeypatch.setattr(posts_module, "OPEN_BATCH", 3)  # many batches from a small page
    group = Group()
    page: list[sync.Served] = []

    def serve(post_id: bytes, raw: bytes) -> None:
        page.append((post_id, str(len(page) + 1), raw, NOW))

    good = [group.post(group.bob if i % 2 else group.mod, text=f"post {i}") for i in range(9)]
    for post in good[:5]:
        serve(post.post_id, post.envelope.encode())
    twin = group.post(group.bob, text="same number, other words", author_seq=1)
    serve(twin.post_id, twin.envelope.encode())  # equivocation
    tampered = bytearray(group.post(group.mod, text="x").envelope.encode())
    tampered[-1] ^= 1
    serve(b"\x05" * 16, b"junk")  # cannot be decoded
    outsider = group.seal(group.outsider, group.body(group.outsider))
    serve(outsider.post_id, outsider.encode())  # not a member
    serve(good[5].post_id, good[6].envelope.encode())  # under another post's id
    unknown = group.seal(group.bob, group.body(group.bob, log_head=b"\x07" * 32))
    serve(unknown.post_id, unknown.encode())  # a log head this view lacks: held
    serve(good[0].post_id, good[0].envelope.encode())  # served twice in one page
    for post in good[5:]:
        serve(post.post_id, post.envelope.encode())
    tampered_id = bytes(tampered[2 + 32 + 8:2 + 32 + 8 + 16])
    serve(tampered_id, bytes(tampered))  # fails to decrypt
    altered = bytearray(good[2].envelope.encode())
    altered[-1] ^= 1
    serve(good[2].post_id, bytes(altered))  # a post served before, now other bytes
    group.f.rotate()
    later = group.post(group.bob, text="in an epoch this device has no key for yet")
    serve(later.post_id, later.envelope.encode())  # held: no key

    batches: list[int] = []

    def on_threads(fn: Any, items: Any) -> Any:
        batches.extend(len(batch) for batch in items)
        with ThreadPoolExecutor(2) as pool:
            return list(pool.map(fn, items))

    one_by_one = view_of(group, group.alice)
    ahead = view_of(group, group.alice)
    for view in (one_by_one, ahead):
        del view.keys[group.state.epoch]
    expected = sync.ingest(one_by_one, page)
    got = sync.ingest(ahead, page, map_batches=on_threads)
    assert len(batches) > 3 and sum(batches) >= len(good) + 4  # opened ahead, in batches
    assert [(p.post_id, c) for p, c, _ in got.stored] == \
        [(p.post_id, c) for p, c, _ in expected.stored]
    assert len(got.stored) == len(good)
    assert got.events == expected.events
    assert got.warnings == expected.warnings and len(got.warnings) == 6
    assert got.rejected == expected.rejected
    assert [pid for pid, _ in got.held] == [pid for pid, _ in expected.held] == \
        [unknown.post_id, later.post_id]
    assert got.unknown_heads == expected.unknown_heads
    assert [p.post_id for p in ahead.timeline.ordered()] == \
        [p.post_id for p in one_by_one.timeline.ordered()]


def test_events_of_a_few_entries_are_those_of_comparing_every_member(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A device that takes one entry in a big group lists what changed from the members the
    entries name (``_touched``), not by comparing every member: the events must be exactly
    those of the whole comparison, in the same order, for every kind of entry and for runs
    of several entries at once."""
    f = LogFactory("engine-events")
    people = f.add_members(40)
    states = [f.state]
    seqs = [f.state.seq]

    def step() -> None:
        states.append(f.state)
        seqs.append(f.state.seq)

    ticket = f.invite(requires_approval=False)
    f.join(ticket)
    step()
    f.set_role(people[0], Role.MODERATOR)
    step()
    f.set_role(people[1], Role.ADMIN)
    step()
    f.set_metadata(by=people[2], profile=True)
    f.set_metadata()
    step()
    f.remove(people[3])
    f.leave(people[4])
    step()
    f.add_member()
    f.rotate()
    f.set_role(people[0], Role.MEMBER)
    step()
    f.add_rotating()
    f.remove(people[5], by=people[1])
    step()
    view = GroupView(f.group_id, "https://relay.example", "member", people[6], f.state,
                     f.raw, "none")
    whole: dict[tuple[int, int], list[ev.Event]] = {}
    monkeypatch.setattr(sync, "_touched", lambda _v, _o, _n: None)
    for i, old in enumerate(states):
        for new in states[i + 1:]:
            whole[(old.seq, new.seq)] = sync.log_events(view, old, new)
    monkeypatch.undo()
    monkeypatch.setattr(sync, "MEMBERS_PER_ENTRY", 4)  # the short way for up to ~10 entries
    named = 0
    for i, old in enumerate(states):
        for new in states[i + 1:]:
            if sync._touched(view, old, new) is not None:
                named += 1
            assert sync.log_events(view, old, new) == whole[(old.seq, new.seq)], (old.seq,
                                                                                   new.seq)
    assert named >= len(states) - 1  # at least every single step took the short way
    kinds = {type(e) for events in whole.values() for e in events}
    assert {ev.MemberJoined, ev.RoleChanged, ev.MemberLeft, ev.ProfileUpdated,
            ev.GroupUpdated, ev.EpochStarted} <= kinds
