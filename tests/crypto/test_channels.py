"""Channels in the core: ids and kinds, the list in the group metadata (CHAN-1 to CHAN-3),
the channel a post names (PB-3, POST-9) and who may write in an announcements channel
(TV-7), the same on the whole thread view and on a narrowed one."""

from __future__ import annotations

import struct

import pytest

from tests.crypto.logfactory import LogFactory, seeded_random
from tests.crypto.postkit import Group
from vault.crypto.channels import (
    CHANNEL_ID_SIZE,
    ChannelKind,
    channel_kind,
    may_write_in,
    new_channel_id,
)
from vault.crypto.errors import MalformedError, MetadataError, PostError, TooLargeError
from vault.crypto.limits import MAX_CHANNELS, MAX_DESCRIPTION, MAX_GROUP_NAME, MAX_RULES
from vault.crypto.log_entries import Role
from vault.crypto.metadata import Channel, GroupMetadata, open_metadata, seal_metadata
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.timeline import NOT_PERMITTED, WRONG_CHANNEL, Timeline, thread_view

NEWS = bytes([ChannelKind.ANNOUNCEMENTS]) + b"\x11" * 15
TALK = bytes([ChannelKind.DISCUSSION]) + b"\x22" * 15


def test_a_channel_id_is_its_kind_then_fifteen_random_bytes() -> None:
    channel_id = new_channel_id(ChannelKind.ANNOUNCEMENTS, random=seeded_random("channel"))
    assert len(channel_id) == CHANNEL_ID_SIZE
    assert channel_id[0] == 2
    assert channel_id[1:] == seeded_random("channel")(15)
    assert channel_kind(channel_id) is ChannelKind.ANNOUNCEMENTS
    assert channel_kind(None) is ChannelKind.DISCUSSION  # the main channel


def test_metadata_without_channels_keeps_the_bytes_of_earlier_versions() -> None:
    plain = GroupMetadata("Tuesday circle", "d", "r")
    assert plain.encode() == bytes.fromhex("0701") + b"".join(
        struct.pack(">I", len(t)) + t for t in (b"Tuesday circle", b"d", b"r"))


def test_metadata_lists_channels_in_order_and_reads_them_back() -> None:
    metadata = GroupMetadata("g", "", "", (Channel(NEWS, "Announcements"), Channel(TALK, "Talk")))
    raw = metadata.encode()
    assert raw == (GroupMetadata("g").encode() + struct.pack(">I", 2)
                   + NEWS + struct.pack(">I", 13) + b"Announcements"
                   + TALK + struct.pack(">I", 4) + b"Talk")
    back = GroupMetadata.decode(raw)
    assert back == metadata
    assert [c.name for c in back.channels] == ["Announcements", "Talk"]
    assert back.channels[0].kind is ChannelKind.ANNOUNCEMENTS
    assert back.channel(TALK) == Channel(TALK, "Talk") and back.channel(bytes(16)) is None


@pytest.mark.parametrize(("tail", "message"), [
    (struct.pack(">I", 0), "0 channels"),  # an empty list is a second encoding of none
    (struct.pack(">I", MAX_CHANNELS + 1), "33 channels"),
    (struct.pack(">I", 1) + bytes([3]) + b"\x00" * 15 + struct.pack(">I", 1) + b"x",
     "channel kind 3"),
    (struct.pack(">I", 1) + bytes(16) + struct.pack(">I", 1) + b"x", "channel kind 0"),
    (struct.pack(">I", 1) + NEWS + struct.pack(">I", 3) + b"e\xcc\x81", "not in Unicode"),
    (struct.pack(">I", 1) + NEWS, "truncated"),
    (b"\x00", "truncated"),
])
def test_malformed_channel_lists_are_refused(tail: bytes, message: str) -> None:
    with pytest.raises(MalformedError, match=message):
        GroupMetadata.decode(GroupMetadata("g").encode() + tail)


def test_channel_lists_break_no_rule() -> None:
    with pytest.raises(MetadataError, match="listed twice"):
        GroupMetadata("g", channels=(Channel(NEWS, "a"), Channel(NEWS, "b")))
    with pytest.raises(MetadataError, match="same name"):
        GroupMetadata("g", channels=(Channel(NEWS, "a"), Channel(TALK, "a")))
    with pytest.raises(MetadataError, match="needs a name"):
        Channel(TALK, " ")
    with pytest.raises(MetadataError, match="single line"):
        Channel(TALK, "two\nlines")
    with pytest.raises(TooLargeError):
        Channel(TALK, "x" * 65)
    with pytest.raises(TooLargeError):
        GroupMetadata("g", channels=tuple(
            Channel(bytes([1, i]) + bytes(14), f"c{i}") for i in range(MAX_CHANNELS + 1)))
    with pytest.raises(ValueError, match="kind 7"):
        Channel(bytes([7]) + bytes(15), "x")


def test_the_largest_metadata_still_fits_a_log_entry() -> None:
    biggest = GroupMetadata("n" * MAX_GROUP_NAME, "d" * MAX_DESCRIPTION, "r" * MAX_RULES, tuple(
        Channel(bytes([1, i]) + bytes(14), f"{i:02d}" + "c" * 62) for i in range(MAX_CHANNELS)))
    key = bytes(32)
    envelope = seal_metadata(key, b"\x01" * 32, 0, None, biggest, random=seeded_random("m"))
    assert open_metadata(envelope, key, b"\x01" * 32, 0, None) == biggest


# --- a post's channel: PB-3, POST-9 ------------------------------------------------------


def test_a_post_or_poll_names_its_channel_last() -> None:
    g = Group(LogFactory("channel body"))
    plain = g.body(g.alice)
    in_news = g.body(g.alice, channel=NEWS)
    assert in_news.encode().endswith(NEWS)
    assert len(in_news.encode()) == len(g.body(g.alice, post_id=in_news.post_id,
                                                 author_seq=in_news.author_seq,
                                                 timestamp_ms=in_news.timestamp_ms)
                                        .encode()) + CHANNEL_ID_SIZE
    assert PostBody.decode(in_news.encode()) == in_news
    assert PostBody.decode(plain.encode()).channel is None
    poll = g.body(g.mod, PostKind.POLL, text="Q?", poll_options=("a", "b"),
                  poll_closes_at_ms=2**42, channel=TALK)
    assert PostBody.decode(poll.encode()).channel == TALK
    assert poll.encode() == g.body(g.mod, PostKind.POLL, text="Q?", poll_options=("a", "b"),
                                   poll_closes_at_ms=2**42, post_id=poll.post_id,
                                   author_seq=poll.author_seq,
                                   timestamp_ms=poll.timestamp_ms).encode() + TALK


def test_only_posts_polls_and_replies_name_a_channel() -> None:
    g = Group(LogFactory("channel kinds"))
    reply = g.body(g.alice, PostKind.REPLY, refs=(bytes(16),), channel=TALK)
    assert PostBody.decode(reply.encode()).channel == TALK
    with pytest.raises(PostError, match="names no channel"):
        g.body(g.alice, PostKind.REACTION, refs=(bytes(16),), text="+1", channel=TALK)
    with pytest.raises(ValueError, match="kind 0"):
        g.body(g.alice, channel=bytes(16))
    raw = g.body(g.alice).encode()
    with pytest.raises(MalformedError, match="channel kind 9"):
        PostBody.decode(raw + bytes([9]) + bytes(15))


# --- TV-7: who may write in an announcements channel -------------------------------------


def _ignored_causes(timeline: Timeline, g: Group) -> dict[bytes, str]:
    return {i.post_id: i.cause for i in thread_view(timeline, g.state).ignored}


def test_only_moderators_and_admins_post_in_an_announcements_channel() -> None:
    g = Group(LogFactory("announcements"))
    timeline = Timeline()
    by_mod = g.post(g.mod, text="Meeting moved to Thursday", channel=NEWS)
    by_owner = g.post(g.owner, text="Welcome", channel=NEWS)
    by_member = g.post(g.alice, text="I can post here too", channel=NEWS)
    in_talk = g.post(g.alice, text="hello", channel=TALK)
    for post in (by_mod, by_owner, by_member, in_talk):
        timeline.add(post)
    view = thread_view(timeline, g.state)
    assert [(p.post_id, p.channel) for p in view.posts] == [
        (by_mod.post_id, NEWS), (by_owner.post_id, NEWS), (in_talk.post_id, TALK)]
    (refused,) = view.ignored
    assert (refused.post_id, refused.cause) == (by_member.post_id, NOT_PERMITTED)
    assert "announcements channel" in refused.reason
    assert may_write_in(g.state, g.mod.sign_pk, g.state.seq, NEWS)
    assert not may_write_in(g.state, g.alice.sign_pk, g.state.seq, NEWS)
    assert may_write_in(g.state, g.alice.sign_pk, g.state.seq, None)


def test_members_react_and_vote_in_announcements_but_do_not_reply() -> None:
    g = Group(LogFactory("announcement replies"))
    timeline = Timeline()
    notice = g.post(g.mod, text="Notice", channel=NEWS)
    poll = g.post(g.mod, PostKind.POLL, text="Which day?", poll_options=("Mon", "Tue"),
                  channel=NEWS)
    reply = g.post(g.alice, PostKind.REPLY, refs=(notice.post_id,), text="ok", channel=NEWS)
    nested = g.post(g.owner, PostKind.REPLY, refs=(notice.post_id,), text="see you",
                    channel=NEWS)
    deeper = g.post(g.bob, PostKind.REPLY, refs=(nested.post_id,), text="me too",
                    channel=NEWS)
    elsewhere = g.post(g.bob, PostKind.REPLY, refs=(notice.post_id,), text="in main")
    reaction = g.post(g.alice, PostKind.REACTION, refs=(notice.post_id,), text="+1")
    vote = g.post(g.bob, PostKind.VOTE, refs=(poll.post_id,), text="", vote_choice=1)
    for post in (notice, poll, reply, nested, deeper, elsewhere, reaction, vote):
        timeline.add(post)
    view = thread_view(timeline, g.state)
    shown = {p.post_id: p for p in view.posts}
    assert set(shown) == {notice.post_id, poll.post_id, nested.post_id}
    assert shown[nested.post_id].channel == NEWS
    assert shown[notice.post_id].reactions == (("+1", (g.alice.sign_pk,)),)
    assert shown[poll.post_id].poll is not None
    assert shown[poll.post_id].poll.votes == ((), (g.bob.sign_pk,))
    assert _ignored_causes(timeline, g) == {reply.post_id: NOT_PERMITTED,
                                            deeper.post_id: NOT_PERMITTED,
                                            elsewhere.post_id: WRONG_CHANNEL}
    narrowed = thread_view(timeline, g.state, {p.post_id for p in (notice, reply, deeper,
                                                                    nested, elsewhere)})
    assert narrowed.posts == tuple(p for p in view.posts if p.post_id != poll.post_id)


def test_the_role_that_counts_is_the_one_at_the_posts_log_position() -> None:
    g = Group(LogFactory("channel roles"))
    timeline = Timeline()
    before_promotion = g.post(g.bob, text="early", channel=NEWS)
    g.f.set_role(g.bob, Role.MODERATOR)
    after_promotion = g.post(g.bob, text="now a moderator", channel=NEWS)
    while_moderator = g.post(g.mod, text="still a moderator", channel=NEWS)
    g.f.set_role(g.mod, Role.MEMBER)
    after_demotion = g.post(g.mod, text="no longer", channel=NEWS)
    for post in (before_promotion, after_promotion, while_moderator, after_demotion):
        timeline.add(post)
    view = thread_view(timeline, g.state)
    assert [p.post_id for p in view.posts] == [after_promotion.post_id, while_moderator.post_id]
    assert _ignored_causes(timeline, g) == {before_promotion.post_id: NOT_PERMITTED,
                                            after_demotion.post_id: NOT_PERMITTED}


def test_a_reply_says_its_channel_whether_or_not_its_target_is_here() -> None:
    """A reply names its target's channel: refused in announcements before its target
    arrives, and after the target has expired (it is never shown in the main channel)."""
    g = Group(LogFactory("orphan reply"))
    notice = g.post(g.mod, text="Notice", channel=NEWS)
    reply = g.post(g.alice, PostKind.REPLY, refs=(notice.post_id,), text="ok", channel=NEWS)
    timeline = Timeline()
    timeline.add(reply)
    view = thread_view(timeline, g.state)
    assert view.posts == () and _ignored_causes(timeline, g) == {reply.post_id: NOT_PERMITTED}
    timeline.add(notice)
    assert [p.post_id for p in thread_view(timeline, g.state).posts] == [notice.post_id]


def test_a_demoted_moderator_can_no_longer_edit_an_announcement() -> None:
    g = Group(LogFactory("announcement edits"))
    timeline = Timeline()
    notice = g.post(g.mod, text="Meeting Thursday", channel=NEWS)
    early = g.post(g.mod, PostKind.EDIT, refs=(notice.post_id,), text="Meeting Friday")
    g.f.set_role(g.mod, Role.MEMBER)
    late = g.post(g.mod, PostKind.EDIT, refs=(notice.post_id,), text="rewritten after demotion")
    for post in (notice, early, late):
        timeline.add(post)
    (shown,) = thread_view(timeline, g.state).posts
    assert shown.text == "Meeting Friday"
    assert _ignored_causes(timeline, g) == {late.post_id: NOT_PERMITTED}
    (narrowed,) = thread_view(timeline, g.state, {notice.post_id}).posts
    assert narrowed == shown
