"""The timeline: dedupe, equivocation, gaps, unknown heads, causal order, thread view."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import LogFactory
from tests.crypto.postkit import Group
from vault.crypto.encoding import U64_MAX
from vault.crypto.errors import DecryptionError, EquivocationError, VaultError
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.log_entries import Role
from vault.crypto.post_body import PostKind
from vault.crypto.posts import OpenedPost, open_post
from vault.crypto.timeline import (
    MAX_SEQ_JUMP,
    DuplicateIgnored,
    GapDetected,
    GapFilled,
    MissingReferences,
    NewPost,
    SequenceJump,
    Timeline,
    UnknownHead,
    VisiblePost,
    thread_view,
)

ID_A, ID_B, ID_C = b"\xaa" * 16, b"\xbb" * 16, b"\xcc" * 16


def test_new_post_and_exact_duplicates() -> None:
    g = Group()
    timeline = Timeline()
    body = g.body(g.alice)
    first = open_post(g.seal(g.alice, body), g.key, g.state)
    assert timeline.add(first) == [NewPost(first)]
    assert timeline.add(first) == [DuplicateIgnored(body.post_id)]
    resealed = open_post(g.seal(g.alice, body), g.key, g.state)  # another nonce, same body
    assert resealed.envelope != first.envelope
    assert timeline.add(resealed) == [DuplicateIgnored(body.post_id)]
    assert len(timeline) == 1 and body.post_id in timeline
    assert timeline.get(body.post_id) is first


def test_same_post_id_different_content_is_equivocation() -> None:
    g = Group()
    timeline = Timeline()
    body = g.body(g.alice, post_id=ID_A)
    timeline.add(open_post(g.seal(g.alice, body), g.key, g.state))
    other = replace(body, text="something else")
    with pytest.raises(EquivocationError, match="two different posts under one post id"):
        timeline.add(open_post(g.seal(g.alice, other), g.key, g.state))
    copied = g.body(g.bob, post_id=ID_A)
    with pytest.raises(EquivocationError, match="two different authors"):
        timeline.add(open_post(g.seal(g.bob, copied), g.key, g.state))


def test_same_author_seq_different_post_id_is_equivocation() -> None:
    g = Group()
    timeline = Timeline()
    timeline.add(g.post(g.alice, author_seq=3))
    with pytest.raises(EquivocationError, match="post number 3") as info:
        timeline.add(g.post(g.alice, author_seq=3))
    assert info.value.code == "post_equivocation"
    timeline.add(g.post(g.bob, author_seq=3))  # another author's 3 is fine


def test_gaps_are_detected_and_filled() -> None:
    g = Group()
    timeline = Timeline()
    a = g.alice.sign_pk
    assert timeline.add(g.post(g.alice, author_seq=1))[1:] == []
    events = timeline.add(g.post(g.alice, author_seq=4))
    assert events[1:] == [GapDetected(a, 2, 3)] and events[1].count == 2  # type: ignore[union-attr]
    assert timeline.gaps() == {a: ((2, 3),)}
    events = timeline.add(g.post(g.bob, author_seq=2))
    assert events[1:] == [GapDetected(g.bob.sign_pk, 1, 1)]
    assert timeline.gaps() == {a: ((2, 3),), g.bob.sign_pk: ((1, 1),)}
    assert timeline.add(g.post(g.alice, author_seq=3))[1:] == [GapFilled(a, 3)]
    assert timeline.add(g.post(g.alice, author_seq=9))[1:] == [GapDetected(a, 5, 8)]
    assert timeline.gaps()[a] == ((2, 2), (5, 8))
    assert timeline.add(g.post(g.alice, author_seq=6))[1:] == [GapFilled(a, 6)]
    assert timeline.gaps()[a] == ((2, 2), (5, 5), (7, 8))  # a range split in two
    for seq in (2, 5, 8, 7):
        assert timeline.add(g.post(g.alice, author_seq=seq))[1:] == [GapFilled(a, seq)]
    timeline.add(g.post(g.bob, author_seq=1))
    assert timeline.gaps() == {}


def test_a_huge_sequence_number_is_a_jump_not_a_gap() -> None:
    """The audit's PoC: one post numbered 2**64 - 1 used to materialise every missing number."""
    g = Group()
    timeline = Timeline()
    a = g.alice.sign_pk
    timeline.add(g.post(g.alice, author_seq=1))
    envelope = g.seal(g.alice, g.body(g.alice, author_seq=U64_MAX))
    events = timeline.add_envelope(envelope, g.key, g.state)
    assert events[1:] == [SequenceJump(envelope.post_id, a, U64_MAX, 1)]
    assert timeline.gaps() == {} and envelope.post_id in timeline
    # Later posts below it neither fill nor open gaps; the next number is refused by the body.
    assert timeline.add(g.post(g.alice, author_seq=U64_MAX - 1))[1:] == []
    assert timeline.add(g.post(g.alice, author_seq=5))[1:] == []
    assert timeline.gaps() == {}
    with pytest.raises(ValueError, match="out of range"):
        g.body(g.alice, author_seq=U64_MAX + 1)


def test_the_jump_bound() -> None:
    g = Group()
    timeline = Timeline()
    a, b = g.alice.sign_pk, g.bob.sign_pk
    # From nothing seen: up to MAX_SEQ_JUMP is one gap range to wait for (not 99,999 numbers).
    events = timeline.add(g.post(g.alice, author_seq=MAX_SEQ_JUMP))
    assert events[1:] == [GapDetected(a, 1, MAX_SEQ_JUMP - 1)]
    assert timeline.gaps() == {a: ((1, MAX_SEQ_JUMP - 1),)}
    # One more is misbehaviour: reported, post kept, nothing to wait for.
    bob = g.post(g.bob, author_seq=MAX_SEQ_JUMP + 1)
    assert timeline.add(bob)[1:] == [SequenceJump(bob.post_id, b, MAX_SEQ_JUMP + 1, 0)]
    assert b not in timeline.gaps() and bob.post_id in timeline
    # Measured from the author's highest number seen, and the author goes on normally.
    top = MAX_SEQ_JUMP + 1 + MAX_SEQ_JUMP
    assert timeline.add(g.post(g.bob, author_seq=top))[1:] == [
        GapDetected(b, MAX_SEQ_JUMP + 2, top - 1)]
    assert timeline.add(g.post(g.bob, author_seq=top + 2))[1:] == [GapDetected(b, top + 1, top + 1)]


_AUTHORS_G = Group(LogFactory("huge seqs"))
_AUTHORS = [_AUTHORS_G.alice, _AUTHORS_G.bob, _AUTHORS_G.mod]
_SEQS = st.one_of(
    st.integers(1, 40),
    st.integers(MAX_SEQ_JUMP - 3, MAX_SEQ_JUMP + 3),
    st.integers(1, U64_MAX),
    st.integers(U64_MAX - 5, U64_MAX),
)


def _expected_gaps(arrivals: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """Reference model, by interval arithmetic: [1, highest] minus what arrived, minus the
    numbers skipped by jumps (never materialised either)."""
    highest = 0
    covered = [(seq, seq) for seq in arrivals]
    for seq in arrivals:
        if seq > highest + MAX_SEQ_JUMP:
            covered.append((highest + 1, seq - 1))
        highest = max(highest, seq)
    gaps, next_free = [], 1
    for low, high in sorted(covered):
        if low > next_free:
            gaps.append((next_free, low - 1))
        next_free = max(next_free, high + 1)
    return tuple(gaps)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.integers(0, 2), _SEQS), max_size=25,
                unique_by=lambda pair: pair))  # type: ignore[arg-type]
def test_any_sequence_numbers_keep_the_timeline_bounded(posts: list[tuple[int, int]]) -> None:
    """Whatever u64 numbers authors pick: no exception but VaultError, gaps exactly as the
    model says, and the bookkeeping bounded by the number of posts (at most one missing
    range per post), never by the numbers themselves."""
    g = _AUTHORS_G
    timeline = Timeline()
    arrivals: dict[bytes, list[int]] = {}
    for who, seq in posts:
        author = _AUTHORS[who]
        events = timeline.add(g.post(author, author_seq=seq))  # any other exception fails
        arrivals.setdefault(author.sign_pk, []).append(seq)
        for event in events:
            if isinstance(event, GapDetected):
                assert 1 <= event.first <= event.last < seq
                assert event.count <= MAX_SEQ_JUMP
            elif isinstance(event, SequenceJump):
                assert seq - event.previous > MAX_SEQ_JUMP
    gaps = timeline.gaps()
    for author, seqs in arrivals.items():
        expected = _expected_gaps(seqs)
        assert gaps.get(author, ()) == expected
        assert len(expected) <= len(seqs)
    assert set(gaps) <= set(arrivals)
    assert len(timeline) == len(posts)
    for who, seq in posts[:1]:  # reusing an (author, seq) is a VaultError, nothing else
        with pytest.raises(EquivocationError):
            timeline.add(g.post(_AUTHORS[who], author_seq=seq))


def test_missing_references_are_reported() -> None:
    g = Group()
    timeline = Timeline()
    reply = g.post(g.bob, PostKind.REPLY, refs=(ID_A,))
    events = timeline.add(reply)
    assert MissingReferences(reply.post_id, (ID_A,)) in events


def test_unknown_heads_are_kept_pending_until_the_log_catches_up() -> None:
    g = Group(LogFactory("timeline-heads"))
    behind = g.state
    g.f.add_member()
    envelope = g.seal(g.alice, g.body(g.alice))
    timeline = Timeline()
    events = timeline.add_envelope(envelope, g.key, behind)
    assert len(events) == 1 and isinstance(events[0], UnknownHead)
    assert events[0].post_id == envelope.post_id and events[0].log_seq == g.state.seq
    assert "has not seen" in events[0].reason
    assert timeline.pending() == (envelope,) and len(timeline) == 0
    events = timeline.add_envelope(envelope, g.key, g.state)
    assert isinstance(events[0], NewPost) and timeline.pending() == ()
    with pytest.raises(DecryptionError):  # other failures propagate
        timeline.add_envelope(envelope, bytes(32), g.state)


def test_order_is_causal_then_by_time_and_id() -> None:
    g = Group()
    timeline = Timeline()
    root = g.post(g.alice, timestamp_ms=5_000)
    # a reply whose author's clock runs behind still comes after what it answers
    reply = g.post(g.bob, PostKind.REPLY, refs=(root.post_id,), timestamp_ms=1_000)
    unrelated_early = g.post(g.mod, timestamp_ms=2_000)
    tie_low = g.post(g.owner, timestamp_ms=9_000, post_id=b"\x01" * 16)
    tie_high = g.post(g.owner, timestamp_ms=9_000, post_id=b"\x02" * 16)
    for post in (tie_high, reply, tie_low, unrelated_early, root):
        timeline.add(post)
    order = [post.post_id for post in timeline.ordered()]
    assert order.index(root.post_id) < order.index(reply.post_id)
    assert order[0] == unrelated_early.post_id
    assert order.index(tie_low.post_id) + 1 == order.index(tie_high.post_id)
    assert [post.post_id for post in timeline] == order


def test_each_authors_posts_follow_their_sequence() -> None:
    g = Group()
    timeline = Timeline()
    second = g.post(g.alice, author_seq=2, timestamp_ms=1_000)
    first = g.post(g.alice, author_seq=1, timestamp_ms=8_000)
    timeline.add(second)
    timeline.add(first)
    assert [p.post_id for p in timeline.ordered()] == [first.post_id, second.post_id]


def test_reference_cycles_do_not_hang() -> None:
    g = Group()
    timeline = Timeline()
    a = g.post(g.alice, post_id=ID_A, refs=(ID_B,), timestamp_ms=2_000)
    b = g.post(g.bob, post_id=ID_B, refs=(ID_A,), timestamp_ms=3_000)
    c = g.post(g.mod, post_id=ID_C, refs=(ID_B,), timestamp_ms=1_000)
    for post in (c, b, a):
        timeline.add(post)
    assert [p.post_id for p in timeline.ordered()] == [ID_A, ID_B, ID_C]


_G = Group(LogFactory("permutations"))
_POSTS = [
    _G.post(_G.alice, post_id=ID_A, timestamp_ms=3_000),
    _G.post(_G.bob, PostKind.REPLY, refs=(ID_A,), timestamp_ms=1_000),
    _G.post(_G.alice, PostKind.REACTION, refs=(ID_A,), text="\U0001f49c", timestamp_ms=4_000),
    _G.post(_G.mod, timestamp_ms=2_000),
    _G.post(_G.owner, refs=(ID_A, b"\x09" * 16), timestamp_ms=500),
    _G.post(_G.bob, author_seq=5, timestamp_ms=100),
]


@settings(max_examples=60)
@given(st.permutations(_POSTS), st.integers(0, 5))
def test_order_and_gaps_do_not_depend_on_arrival(posts: list, repeat: int) -> None:  # type: ignore[type-arg]
    reference = Timeline()
    for post in _POSTS:
        reference.add(post)
    timeline = Timeline()
    for post in [*posts, posts[repeat]]:
        timeline.add(post)
    assert timeline.ordered() == reference.ordered()
    assert timeline.gaps() == reference.gaps() == {_G.bob.sign_pk: ((2, 4),)}


_ARRIVING = st.lists(
    st.tuples(st.integers(0, 2), st.integers(1, 6), st.integers(0, 4),
              st.lists(st.integers(0, 13), max_size=3, unique=True)),
    min_size=1, max_size=12, unique_by=lambda post: (post[0], post[1]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_ARRIVING, st.randoms(use_true_random=False), st.booleans())
def test_an_order_kept_between_arrivals_is_the_order_sorted_afresh(
        specs: list[tuple[int, int, int, list[int]]], rng: Any, by_clock: bool) -> None:
    """The order is kept between arrivals and extended when a post simply goes last; read
    after every arrival, it is always the order a timeline holding the same posts sorts
    afresh: with clock ties, references to posts not received yet (or never), posts that
    arrive before the posts they follow, and reference cycles."""
    g = _AUTHORS_G
    posts = [g.post(_AUTHORS[who], author_seq=seq, timestamp_ms=1_000 + tick,
                    post_id=bytes([i + 1]) * 16,
                    refs=tuple(bytes([r + 1]) * 16 for r in refs if r != i))
             for i, (who, seq, tick, refs) in enumerate(specs)]
    rng.shuffle(posts)
    if by_clock:  # as they mostly come: newest last (so the kept order is often extended)
        posts.sort(key=lambda post: (post.body.timestamp_ms, post.post_id))
    timeline = Timeline()
    for arrived, post in enumerate(posts, 1):
        timeline.add(post)
        afresh = Timeline()
        for earlier in posts[:arrived]:
            afresh.add(earlier)
        assert timeline.ordered() == afresh.ordered()


# --- thread view --------------------------------------------------------------------------


def test_edits_only_by_the_author_latest_wins() -> None:
    g = Group()
    timeline = Timeline()
    root = g.post(g.alice, text="first draft")
    timeline.add(root)
    timeline.add(g.post(g.alice, PostKind.EDIT, refs=(root.post_id,), text="second"))
    last = g.post(g.alice, PostKind.EDIT, refs=(root.post_id,), text="final")
    timeline.add(last)
    foreign = g.post(g.bob, PostKind.EDIT, refs=(root.post_id,), text="hijacked")
    timeline.add(foreign)
    view = thread_view(timeline, g.state)
    (post,) = view.posts
    assert post.text == "final" and post.edited_at_ms == last.body.timestamp_ms
    assert not post.deleted
    assert [i.post_id for i in view.ignored] == [foreign.post_id]
    assert "only the author can edit" in view.ignored[0].reason


def test_deletes_by_author_or_moderator() -> None:
    g = Group()
    timeline = Timeline()
    mine = g.post(g.alice, text="mine")
    theirs = g.post(g.bob, text="theirs")
    modded = g.post(g.bob, text="against the rules")
    for post in (mine, theirs, modded):
        timeline.add(post)
    timeline.add(g.post(g.alice, PostKind.DELETE, refs=(mine.post_id,), text=""))
    by_member = g.post(g.alice, PostKind.DELETE, refs=(theirs.post_id,), text="")
    timeline.add(by_member)
    timeline.add(g.post(g.mod, PostKind.DELETE, refs=(modded.post_id,), text=""))
    view = thread_view(timeline, g.state)
    shown = {post.post_id: post for post in view.posts}
    assert shown[mine.post_id].deleted and shown[mine.post_id].text == ""
    assert shown[mine.post_id].deleted_by == g.alice.sign_pk
    assert not shown[theirs.post_id].deleted and shown[theirs.post_id].text == "theirs"
    assert shown[modded.post_id].deleted and shown[modded.post_id].deleted_by == g.mod.sign_pk
    assert [i.post_id for i in view.ignored] == [by_member.post_id]
    assert "moderator" in view.ignored[0].reason


def test_reactions_aggregate_and_can_be_withdrawn() -> None:
    g = Group()
    timeline = Timeline()
    root = g.post(g.alice, text="one year sober today")
    timeline.add(root)
    heart = "\U0001f49c"
    timeline.add(g.post(g.bob, PostKind.REACTION, refs=(root.post_id,), text=heart))
    timeline.add(g.post(g.mod, PostKind.REACTION, refs=(root.post_id,), text=heart))
    timeline.add(g.post(g.mod, PostKind.REACTION, refs=(root.post_id,), text=heart))
    oops = g.post(g.owner, PostKind.REACTION, refs=(root.post_id,), text="+1")
    timeline.add(oops)
    timeline.add(g.post(g.owner, PostKind.DELETE, refs=(oops.post_id,), text=""))
    (post,) = thread_view(timeline, g.state).posts
    assert post.reactions == ((heart, (g.bob.sign_pk, g.mod.sign_pk)),)


def test_replies_and_missing_targets() -> None:
    g = Group()
    timeline = Timeline()
    root = g.post(g.alice)
    reply = g.post(g.bob, PostKind.REPLY, refs=(root.post_id,), text="me too")
    orphan_edit = g.post(g.bob, PostKind.EDIT, refs=(ID_C,), text="?")
    orphan_reaction = g.post(g.bob, PostKind.REACTION, refs=(ID_C,), text="?")
    edit_reaction = g.post(g.bob, PostKind.REACTION, refs=(reply.post_id,), text="x")
    for post in (root, reply, orphan_edit, orphan_reaction, edit_reaction):
        timeline.add(post)
    bad_edit = g.post(g.bob, PostKind.EDIT, refs=(edit_reaction.post_id,), text="y")
    undelete = g.post(g.bob, PostKind.DELETE, refs=(bad_edit.post_id,), text="")
    timeline.add(bad_edit)
    timeline.add(undelete)
    view = thread_view(timeline, g.state)
    assert [p.post_id for p in view.posts] == [root.post_id, reply.post_id]
    assert view.posts[1].reply_to == root.post_id and view.posts[0].reply_to is None
    reasons = {i.post_id: i.reason for i in view.ignored}
    assert "not been received" in reasons[orphan_edit.post_id]
    assert "not been received" in reasons[orphan_reaction.post_id]
    assert "only posts and replies can be edited" in reasons[bad_edit.post_id]
    assert "cannot be deleted" in reasons[undelete.post_id]


def test_deleted_post_hides_edits_and_reactions() -> None:
    g = Group()
    timeline = Timeline()
    root = g.post(g.alice, text="x", content_warning="cw")
    timeline.add(root)
    timeline.add(g.post(g.alice, PostKind.EDIT, refs=(root.post_id,), text="y"))
    timeline.add(g.post(g.bob, PostKind.REACTION, refs=(root.post_id,), text="+1"))
    timeline.add(g.post(g.alice, PostKind.DELETE, refs=(root.post_id,), text=""))
    (post,) = thread_view(timeline, g.state).posts
    assert post.deleted and post.text == "" and post.content_warning is None
    assert post.reactions == () and post.attachments == ()


def test_a_thread_view_of_some_posts_is_the_whole_view_narrowed() -> None:
    """``thread_view(..., only=ids)`` (what a sync draws for its new posts) shows those
    posts exactly as the whole view does, edits, deletes and reactions from anywhere in the
    timeline applied, and lists every ignored action all the same."""
    g = Group()
    timeline = Timeline()
    kept = g.post(g.alice, text="kept", timestamp_ms=1_000)
    edited = g.post(g.bob, text="first", timestamp_ms=1_100)
    gone = g.post(g.alice, text="gone", timestamp_ms=1_200)
    reply = g.post(g.bob, PostKind.REPLY, refs=(kept.post_id,), text="re", timestamp_ms=1_300)
    for post in (kept, edited, gone, reply,
                 g.post(g.bob, PostKind.EDIT, refs=(edited.post_id,), text="second"),
                 g.post(g.mod, PostKind.DELETE, refs=(gone.post_id,), text=""),
                 g.post(g.alice, PostKind.REACTION, refs=(reply.post_id,), text="+1"),
                 g.post(g.bob, PostKind.REACTION, refs=(kept.post_id,), text="<3",
                        content_warning="soft"),
                 g.post(g.mod, PostKind.EDIT, refs=(kept.post_id,), text="not theirs"),
                 g.post(g.bob, PostKind.REACTION, refs=(ID_A,), text="?")):
        timeline.add(post)
    # Two deletes of one post (its author's first, then a moderator's): the first names the
    # deleter. Reactions by two members with one text, listed in the order they came; one
    # withdrawn by its author, one a stranger's delete cannot withdraw, one whose delete is
    # backdated (written at an older log position than the reaction).
    twice = g.post(g.bob, text="twice deleted", timestamp_ms=1_400)
    hugged = g.post(g.alice, text="hugged", timestamp_ms=1_500)
    late = g.post(g.bob, PostKind.REACTION, refs=(hugged.post_id,), text="hug")
    early = g.post(g.alice, PostKind.REACTION, refs=(hugged.post_id,), text="hug")
    withdrawn = g.post(g.mod, PostKind.REACTION, refs=(hugged.post_id,), text="sorry")
    kept_reaction = g.post(g.owner, PostKind.REACTION, refs=(hugged.post_id,), text="<3")
    g.f.add_member()  # the log moves on: entry 4
    newer = g.post(g.bob, PostKind.REACTION, refs=(hugged.post_id,), text="late")
    for post in (twice, hugged, early, late, withdrawn, kept_reaction, newer,
                 g.post(g.bob, PostKind.DELETE, refs=(twice.post_id,), text=""),
                 g.post(g.mod, PostKind.DELETE, refs=(twice.post_id,), text=""),
                 g.post(g.mod, PostKind.DELETE, refs=(withdrawn.post_id,), text=""),
                 g.post(g.alice, PostKind.DELETE, refs=(kept_reaction.post_id,), text=""),
                 g.post(g.bob, PostKind.DELETE, refs=(newer.post_id,), text="", log_seq=3,
                        log_head=g.state.hash_at(3))):
        timeline.add(post)
    whole = thread_view(timeline, g.state)
    assert len(whole.posts) == 6 and len(whole.ignored) == 4
    shown = {p.text: p for p in whole.posts}
    assert shown[""].deleted and shown[""].deleted_by == g.bob.sign_pk
    assert shown["hugged"].reactions == (
        ("<3", (g.owner.sign_pk,)), ("hug", (g.bob.sign_pk, g.alice.sign_pk)),
        ("late", (g.bob.sign_pk,)))
    ids = [p.post_id for p in whole.posts]
    for only in ([], [ids[1]], [ids[2], ids[3]], ids, [ID_A, ids[0]], [ids[4], ids[5]]):
        narrowed = thread_view(timeline, g.state, set(only))
        assert narrowed.posts == tuple(p for p in whole.posts if p.post_id in only)
        assert narrowed.ignored == ()  # (read from the actions on those posts alone)


_KINDS = (PostKind.POST, PostKind.REPLY, PostKind.EDIT, PostKind.DELETE, PostKind.REACTION)
_STEP = st.tuples(st.integers(0, 4), st.integers(0, 3), st.integers(-1, 1),
                  st.integers(0, 7), st.integers(0, 3))
"""(kind, author, target: one of the latest two posts or replies (a delete with text
choice 0 or 1: of the latest reactions), -1 for one never received, log position (4, the
newest, from 4 up), text)."""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=st.lists(_STEP, min_size=12, max_size=50), data=st.data())
def test_a_view_of_a_few_posts_read_from_their_actions_is_the_whole_view_narrowed(
        steps: list[tuple[int, int, int, int, int]], data: st.DataObject) -> None:
    """Posts, replies, edits, deletes and reactions from four members (a moderator, one
    made moderator later), acting on posts held, not held, or written at a later log
    position (backdated), deleting reactions, arriving in any order: after every arrival,
    a view of any few posts (``only``) shows each exactly as the whole view does."""
    g = Group()
    g.f.set_role(g.bob, Role.MODERATOR)  # bob deletes others' posts from entry 4 on
    people = (g.owner, g.alice, g.bob, g.mod)
    since = (0, 1, 2, 3)
    made: list[OpenedPost] = []
    contents: list[bytes] = []
    reactions: list[bytes] = []
    for kind_index, who, target, log_choice, text_choice in steps:
        kind = _KINDS[kind_index]
        log_seq = max(since[who], min(log_choice, 4))
        refs: tuple[bytes, ...] = ()
        if kind is not PostKind.POST:
            pool = reactions if kind is PostKind.DELETE and text_choice < 2 and reactions \
                else contents
            refs = (pool[-1 - target % len(pool)] if pool and target >= 0 else ID_A,)
        text = "" if kind is PostKind.DELETE else \
            ("+1", "<3", "+1", "<3")[text_choice] if kind is PostKind.REACTION else "words"
        try:
            post = g.post(people[who], kind, refs=refs, text=text,
                          content_warning="soft" if text_choice == 3 and kind is not
                          PostKind.DELETE else None,
                          log_seq=log_seq, log_head=g.state.hash_at(log_seq))
        except (ValueError, VaultError):
            continue  # a body the protocol refuses: not part of this timeline
        made.append(post)
        if kind in (PostKind.POST, PostKind.REPLY):
            contents.append(post.post_id)
        elif kind is PostKind.REACTION:
            reactions.append(post.post_id)
    arrival = data.draw(st.permutations(made))
    timeline = Timeline()
    ids = [*contents, ID_A, *reactions[:1]]  # what a view is asked for: mostly posts
    for post in arrival:
        timeline.add(post)
        whole = thread_view(timeline, g.state)
        only = data.draw(st.sets(st.sampled_from(ids), max_size=6))
        narrowed = thread_view(timeline, g.state, only)
        assert narrowed.posts == tuple(p for p in whole.posts if p.post_id in only)


def test_visible_post_repr_never_shows_what_members_wrote() -> None:
    post = VisiblePost(b"\0" * 16, b"\1" * 32, PostKind.POST, None, 0, "my abuser is ...",
                       "cw: violence", (), reactions=(("hugs for you", (b"\2" * 32,)),))
    for secret in ("abuser", "violence", "hugs"):
        assert secret not in repr(post) and secret not in str(post)
    g = Group()
    timeline = Timeline()
    root = g.post(g.alice, text="only for the group", content_warning="grief")
    timeline.add(root)
    timeline.add(g.post(g.bob, PostKind.REACTION, refs=(root.post_id,), text="with you"))
    view = thread_view(timeline, g.state)
    for secret in ("only for the group", "grief", "with you"):
        assert secret not in repr(view)


# --- rights judged at the action's own log position ---------------------------------------


def _acting(g: Group, author: Identity, kind: PostKind, state: GroupState, epoch_key: bytes,
            **changes: Any) -> OpenedPost:
    """A post written against an *older* view of the log (and that epoch's key), opened
    against the current log: what a removed member still holding an old key can write."""
    body = g.body(author, kind, state=state, **changes)
    return open_post(g.seal(author, body, key=epoch_key), epoch_key, g.state)


def test_removed_moderators_backdated_delete_of_a_later_post_is_ignored() -> None:
    """The audit's PoC: a moderator is removed, a member posts in the new epoch, and the
    removed moderator signs a DELETE dated at a log position where they were still one."""
    g = Group(LogFactory("removed moderator"))
    while_moderator, key0 = g.state, g.key
    g.f.remove(g.mod)  # epoch 1; the moderator keeps epoch 0's key
    written_after = g.post(g.alice, text="something written after the removal")
    reply_after = g.post(g.bob, PostKind.REPLY, refs=(written_after.post_id,), text="yes")
    timeline = Timeline()
    timeline.add(written_after)
    timeline.add(reply_after)
    forged = [
        _acting(g, g.mod, PostKind.DELETE, while_moderator, key0, refs=(written_after.post_id,),
                text=""),
        _acting(g, g.mod, PostKind.REPLY, while_moderator, key0, refs=(written_after.post_id,),
                text="a reply from before this post existed"),
        _acting(g, g.mod, PostKind.REACTION, while_moderator, key0,
                refs=(reply_after.post_id,), text="+1"),
        _acting(g, g.mod, PostKind.DELETE, while_moderator, key0, refs=(reply_after.post_id,),
                text=""),
    ]
    for post in forged:  # every one opens: the author was a member at that log position
        assert isinstance(timeline.add(post)[0], NewPost)
    view = thread_view(timeline, g.state)
    assert [p.post_id for p in view.posts] == [written_after.post_id, reply_after.post_id]
    assert not any(p.deleted for p in view.posts)
    assert view.posts[1].reactions == ()
    assert {i.post_id for i in view.ignored} == {p.post_id for p in forged}
    assert all("older membership log entry" in i.reason for i in view.ignored)


def test_a_delete_written_while_moderator_stays_valid_after_removal() -> None:
    g = Group(LogFactory("moderator then removed"))
    timeline = Timeline()
    target = g.post(g.alice, text="against the rules")
    timeline.add(target)
    timeline.add(g.post(g.mod, PostKind.DELETE, refs=(target.post_id,), text=""))
    g.f.remove(g.mod)
    (shown,) = thread_view(timeline, g.state).posts
    assert shown.deleted and shown.deleted_by == g.mod.sign_pk


def test_a_delete_made_before_promotion_does_not_apply_after_it() -> None:
    """The audit's PoC: a plain member's DELETE must not start to count once promoted."""
    g = Group(LogFactory("promotion"))
    timeline = Timeline()
    target = g.post(g.alice, text="A's post")
    early = g.post(g.bob, PostKind.DELETE, refs=(target.post_id,), text="")
    timeline.add(target)
    timeline.add(early)
    assert not thread_view(timeline, g.state).posts[0].deleted
    g.f.set_role(g.bob, Role.MODERATOR)
    view = thread_view(timeline, g.state)
    assert not view.posts[0].deleted
    assert [i.post_id for i in view.ignored] == [early.post_id]
    assert "moderator at the time" in view.ignored[0].reason
    # A delete written after the promotion (at a log position that has it) applies.
    timeline.add(g.post(g.bob, PostKind.DELETE, refs=(target.post_id,), text=""))
    (shown,) = thread_view(timeline, g.state).posts
    assert shown.deleted and shown.deleted_by == g.bob.sign_pk


def test_a_delete_made_after_demotion_does_not_apply() -> None:
    g = Group(LogFactory("demotion"))
    timeline = Timeline()
    kept = g.post(g.alice, text="kept")
    gone = g.post(g.alice, text="gone")
    timeline.add(kept)
    timeline.add(gone)
    timeline.add(g.post(g.mod, PostKind.DELETE, refs=(gone.post_id,), text=""))
    g.f.set_role(g.mod, Role.MEMBER)
    late = g.post(g.mod, PostKind.DELETE, refs=(kept.post_id,), text="")
    timeline.add(late)
    view = thread_view(timeline, g.state)
    shown = {p.post_id: p.deleted for p in view.posts}
    assert shown == {kept.post_id: False, gone.post_id: True}
    assert [i.post_id for i in view.ignored] == [late.post_id]


def test_honest_moderator_and_author_actions_at_the_same_log_position_apply() -> None:
    """Acting at the very log position the target was written at is not backdating."""
    g = Group(LogFactory("same position"))
    timeline = Timeline()
    target = g.post(g.bob, text="x")
    edited = g.post(g.alice, text="draft")
    for post in (target, edited,
                 g.post(g.mod, PostKind.DELETE, refs=(target.post_id,), text=""),
                 g.post(g.alice, PostKind.EDIT, refs=(edited.post_id,), text="final")):
        timeline.add(post)
    assert target.body.log_seq == edited.body.log_seq == g.state.seq
    view = thread_view(timeline, g.state)
    assert view.ignored == ()
    assert view.posts[0].deleted and view.posts[1].text == "final"


def test_backdated_edit_by_the_author_is_ignored() -> None:
    g = Group(LogFactory("backdated edit"))
    before, key = g.state, g.key
    g.f.add_member()
    post = g.post(g.alice, text="original")
    backdated = _acting(g, g.alice, PostKind.EDIT, before, key, refs=(post.post_id,),
                        text="rewritten history")
    timeline = Timeline()
    timeline.add(post)
    timeline.add(backdated)
    view = thread_view(timeline, g.state)
    assert view.posts[0].text == "original"
    assert [i.post_id for i in view.ignored] == [backdated.post_id]


def test_a_poll_counts_each_members_latest_vote_and_nothing_late() -> None:
    """TV-5: one vote per member (the latest counts), an option the poll has, before it
    closes; the narrowed view (a sync's new posts) tallies exactly as the whole view."""
    g = Group()
    timeline = Timeline()
    poll = g.post(g.alice, PostKind.POLL, text="When?", poll_options=("Tue", "Thu"),
                  poll_closes_at_ms=5_000, timestamp_ms=1_000)
    plain = g.post(g.bob, text="not a poll", timestamp_ms=1_001)

    def vote(who: Any, choice: int, at: int, target: bytes = poll.post_id) -> Any:
        return g.post(who, PostKind.VOTE, refs=(target,), text="", vote_choice=choice,
                      timestamp_ms=at)

    first = vote(g.bob, 0, 2_000)
    changed = vote(g.bob, 1, 3_000)
    by_mod = vote(g.mod, 0, 3_100)
    too_late = vote(g.owner, 0, 5_000)
    no_option = vote(g.owner, 2, 3_200)
    on_plain = vote(g.owner, 0, 3_300, plain.post_id)
    undeletable = g.post(g.bob, PostKind.DELETE, refs=(changed.post_id,), text="")
    not_editable = g.post(g.alice, PostKind.EDIT, refs=(poll.post_id,), text="Where?")
    for post in (poll, plain, changed, by_mod, too_late, no_option, on_plain, first,
                 undeletable, not_editable):
        timeline.add(post)
    whole = thread_view(timeline, g.state)
    shown = {p.post_id: p for p in whole.posts}
    tally = shown[poll.post_id].poll
    assert tally is not None and shown[plain.post_id].poll is None
    assert tally.options == ("Tue", "Thu") and tally.closes_at_ms == 5_000
    assert tally.votes == ((g.mod.sign_pk,), (g.bob.sign_pk,))
    assert shown[poll.post_id].text == "When?" and shown[poll.post_id].edited_at_ms is None
    assert {(i.post_id, i.cause) for i in whole.ignored} == {
        (too_late.post_id, "poll_closed"), (no_option.post_id, "no_such_option"),
        (on_plain.post_id, "wrong_kind"), (undeletable.post_id, "wrong_kind"),
        (not_editable.post_id, "wrong_kind")}
    narrowed = thread_view(timeline, g.state, {poll.post_id})
    assert narrowed.posts == (shown[poll.post_id],)
    gone = g.post(g.mod, PostKind.DELETE, refs=(poll.post_id,), text="")
    timeline.add(gone)
    deleted = thread_view(timeline, g.state, {poll.post_id}).posts[0]
    assert deleted.deleted and deleted.poll is None and deleted.text == ""


def test_pins_by_moderators_at_their_log_position_and_unpinning() -> None:
    """TV-6: a moderator's pin marks the post; a member's is ignored; deleting the pin
    (by a moderator) unpins; a deleted post is never shown pinned; the narrowed view agrees."""
    g = Group()
    timeline = Timeline()
    kept = g.post(g.alice, text="Agreements", timestamp_ms=1_000)
    other = g.post(g.bob, text="Numbers", timestamp_ms=1_001)

    def pin(who: Any, target: bytes) -> Any:
        return g.post(who, PostKind.PIN, refs=(target,), text="")

    by_mod = pin(g.mod, kept.post_id)
    by_member = pin(g.bob, other.post_id)
    for post in (kept, other, by_mod, by_member):
        timeline.add(post)
    whole = thread_view(timeline, g.state)
    shown = {p.post_id: p for p in whole.posts}
    assert shown[kept.post_id].pinned_by == g.mod.sign_pk
    assert shown[other.post_id].pinned_by is None
    assert [(i.post_id, i.cause) for i in whole.ignored] == [(by_member.post_id,
                                                             "not_permitted")]
    assert thread_view(timeline, g.state, {kept.post_id}).posts == (shown[kept.post_id],)
    timeline.add(g.post(g.owner, PostKind.DELETE, refs=(by_mod.post_id,), text=""))
    for view in (thread_view(timeline, g.state), thread_view(timeline, g.state,
                                                               {kept.post_id})):
        assert next(p for p in view.posts if p.post_id == kept.post_id).pinned_by is None
    timeline.add(pin(g.owner, other.post_id))
    timeline.add(g.post(g.bob, PostKind.DELETE, refs=(other.post_id,), text=""))
    gone = thread_view(timeline, g.state, {other.post_id}).posts[0]
    assert gone.deleted and gone.pinned_by is None
