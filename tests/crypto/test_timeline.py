"""The timeline: dedupe, equivocation, gaps, unknown heads, causal order, thread view."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import LogFactory
from tests.crypto.postkit import Group
from vault.crypto.errors import DecryptionError, EquivocationError
from vault.crypto.posts import PostKind, open_post
from vault.crypto.timeline import (
    DuplicateIgnored,
    GapDetected,
    GapFilled,
    MissingReferences,
    NewPost,
    Timeline,
    UnknownHead,
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
    assert events[1:] == [GapDetected(a, (2, 3))]
    assert timeline.gaps() == {a: (2, 3)}
    events = timeline.add(g.post(g.bob, author_seq=2))
    assert events[1:] == [GapDetected(g.bob.sign_pk, (1,))]
    assert timeline.gaps() == {a: (2, 3), g.bob.sign_pk: (1,)}
    assert timeline.add(g.post(g.alice, author_seq=3))[1:] == [GapFilled(a, 3)]
    assert timeline.add(g.post(g.alice, author_seq=7))[1:] == [GapDetected(a, (5, 6))]
    assert timeline.gaps()[a] == (2, 5, 6)
    for seq in (2, 5, 6):
        timeline.add(g.post(g.alice, author_seq=seq))
    timeline.add(g.post(g.bob, author_seq=1))
    assert timeline.gaps() == {}


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
    assert timeline.gaps() == reference.gaps() == {_G.bob.sign_pk: (2, 3, 4)}


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
