"""Channels through the SDK against a real relay process: admins add, order, rename and
remove channels and every member sees the same list; posts, polls and replies land in their
channel; in an announcements channel only moderators and admins post (refused before
anything is written, and a post forced in anyway is refused by every other device with a
warning); a waiting post whose author lost the right is not sent."""

from __future__ import annotations

import pytest
from vault_client import MAIN_CHANNEL, Client, NotPermittedInChannel, Role, UndeliverablePost
from vault_client.errors import (
    InvalidArgumentError,
    NotPermittedError,
    UnknownReferenceError,
)

from tests.client.test_pins import group as group  # Ann (owner), Ben, Cat (moderator)
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.post_body import PostKind


def listing(client: Client, gid: str) -> list[tuple[str, str, bool]]:
    client.sync(gid)
    return [(c.name, c.kind, c.can_post) for c in client.channels(gid)]


def texts(client: Client, gid: str, channel: str) -> list[str]:
    client.sync(gid)
    return [p.text for p in client.posts(gid, channel=channel)]


def test_admins_shape_the_channel_list_and_every_member_sees_it(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat), gid = group
    assert listing(ben, gid) == [("", "main", True)]
    news = ann.add_channel(gid, "News", announcements=True)
    talk = ann.add_channel(gid, "Off topic")
    assert (news.kind, talk.kind) == ("announcements", "discussion")
    assert listing(ben, gid) == [("", "main", True), ("News", "announcements", False),
                                 ("Off topic", "discussion", True)]
    assert listing(cat, gid)[1] == ("News", "announcements", True)
    ann.move_channel(gid, talk, 0)
    ann.rename_channel(gid, "News", "Announcements")
    ann.update_group(gid, description="We meet on Tuesdays")  # keeps the channels
    for person in (ann, ben, cat):
        assert [c.name for c in (person.sync(gid), person.channels(gid))[1]] == [
            "", "Off topic", "Announcements"]
        assert [c.channel_id for c in person.channels(gid)] == [
            MAIN_CHANNEL, talk.channel_id, news.channel_id]
    # What is refused changes nothing.
    seq = ann.group(gid).log_seq
    with pytest.raises(NotPermittedError, match="only admins"):
        ben.add_channel(gid, "Mine")
    with pytest.raises(InvalidArgumentError, match="already a channel called"):
        ann.add_channel(gid, "off topic")
    with pytest.raises(InvalidArgumentError, match="main channel cannot be renamed"):
        ann.rename_channel(gid, MAIN_CHANNEL, "General")
    with pytest.raises(InvalidArgumentError, match="a position is 0 to 1"):
        ann.move_channel(gid, talk, 2)
    with pytest.raises(UnknownReferenceError, match="no channel"):
        ann.remove_channel(gid, "Nowhere")
    ann.sync(gid)
    assert ann.group(gid).log_seq == seq
    # The channel list is not rules: nobody is asked to accept anything again.
    assert not ben.group(gid).rules_to_accept


def test_posts_polls_and_replies_land_in_their_channel(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat), gid = group
    news = ann.add_channel(gid, "News", announcements=True).channel_id
    talk = ann.add_channel(gid, "Off topic").channel_id
    for person in (ben, cat):
        person.sync(gid)
    ben.post(gid, "Hello everyone")
    ben.post(gid, "Anyone watching the match?", channel="Off topic")
    notice = cat.post(gid, "Room 4 this week", channel=news).post_id
    poll = ann.create_poll(gid, "Which day next month?", ["Mon", "Tue"], channel=news).post_id
    # A member may react and vote in announcements, not post, ask or reply there.
    before = (ben.group(gid).log_seq, ben.group(gid).unsent_posts)
    with pytest.raises(NotPermittedError, match="only moderators and admins"):
        ben.post(gid, "Me too", channel=news)
    with pytest.raises(NotPermittedError, match="only moderators and admins"):
        ben.create_poll(gid, "Mine?", ["a", "b"], channel=news)
    ben.sync(gid)
    with pytest.raises(NotPermittedError, match="only moderators and admins"):
        ben.reply(gid, notice, "Thanks")
    assert (ben.group(gid).log_seq, ben.group(gid).unsent_posts) == before
    assert ben.react(gid, notice, "\U0001f44d").delivered
    assert ben.vote(gid, poll, "Tue").delivered
    assert ann.reply(gid, notice, "See you there").delivered
    for person in (ann, ben, cat):
        assert texts(person, gid, MAIN_CHANNEL) == ["Hello everyone"]
        assert texts(person, gid, talk) == ["Anyone watching the match?"]
        assert texts(person, gid, news) == ["Room 4 this week", "Which day next month?",
                                            "See you there"]
        shown = person.get_post(gid, notice)
        assert shown.reaction_counts() == {"\U0001f44d": 1}
        assert person.get_post(gid, poll).poll is not None
        assert person.get_post(gid, poll).poll.counts == (0, 1)  # type: ignore[union-attr]
        [thread] = [t for t in person.threads(gid, channel=news) if t.root.post_id == notice]
        assert [r.text for r in thread.replies] == ["See you there"]
    assert ann.warnings() == [] and ben.warnings() == [] and cat.warnings() == []
    # A removed channel's posts are shown in the main channel.
    ann.remove_channel(gid, talk)
    assert texts(ben, gid, MAIN_CHANNEL) == ["Hello everyone", "Anyone watching the match?"]
    with pytest.raises(UnknownReferenceError):
        ben.posts(gid, channel=talk)


def test_a_post_forced_into_announcements_is_refused_by_every_device(
        group: tuple[list[Client], str], monkeypatch: pytest.MonkeyPatch) -> None:
    (ann, ben, cat), gid = group
    news = ann.add_channel(gid, "News", announcements=True).channel_id
    ben.sync(gid)
    # A modified client skips both checks; the relay stores ciphertext and cannot tell.
    from vault_client._internal import posting, rights

    monkeypatch.setattr(rights, "why_refused", lambda view, draft: None)
    view = ben._device.member_view(gid)
    forced = posting.publish(ben._device, view, PostKind.POST, (), "Buy my stuff", None, None,
                             (), channel=b64decode(news))
    assert forced.delivered
    ben_id = ben.me(gid).member_id
    for person in (ann, cat):
        assert texts(person, gid, news) == []
        assert all(p.post_id != forced.post_id for p in person.posts(gid))
        [warning] = [w for w in person.warnings() if isinstance(w, NotPermittedInChannel)]
        assert (warning.author, warning.post_ids, warning.channel_id) == (
            ben_id, (forced.post_id,), news)
        assert "\u201cNews\u201d are not shown" in warning.message


def test_a_waiting_announcement_is_not_sent_once_its_author_is_demoted(
        group: tuple[list[Client], str]) -> None:
    (ann, _ben, cat), gid = group
    news = ann.add_channel(gid, "News", announcements=True).channel_id
    cat.sync(gid)
    # Cat writes while offline (kept on the device, not sealed yet) ...
    from vault_client._internal import outbox

    view = cat._device.member_view(gid)
    waiting = outbox.queue(cat._device, view, PostKind.POST, (), "Written on the train", None,
                           None, (), channel=b64decode(news))
    assert cat.group(gid).unsent_posts == 1
    # ... and is no longer a moderator when the device is back.
    ann.set_role(gid, cat.me(gid).member_id, Role.MEMBER)
    cat.sync(gid)
    assert cat.group(gid).unsent_posts == 0
    [warning] = [w for w in cat.warnings() if isinstance(w, UndeliverablePost)]
    assert warning.code == "not_permitted" and "you are not one (any more)" in warning.message
    assert warning.post_id == b64encode(waiting)
    assert texts(ann, gid, news) == [] and texts(cat, gid, news) == []


def test_a_dropped_posts_warning_is_kept_when_the_sync_then_fails(
        group: tuple[list[Client], str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Review finding: the sync's first flush drops a post its author may no longer send,
    then the sync fails: the warning was only in the sync's list, and was lost with it."""
    (ann, _ben, cat), gid = group
    news = ann.add_channel(gid, "News", announcements=True).channel_id
    cat.sync(gid)
    from vault_client._internal import outbox, sync_io
    from vault_client.errors import RelayUnavailableError

    view = cat._device.member_view(gid)
    outbox.queue(cat._device, view, PostKind.POST, (), "Written on the train", None, None, (),
                 channel=b64decode(news))
    ann.set_role(gid, cat.me(gid).member_id, Role.MEMBER)

    def away(*args: object, **kwargs: object) -> None:
        raise RelayUnavailableError("the relay went away in the middle of the sync")

    monkeypatch.setattr(sync_io, "_sync_posts", away)
    with pytest.raises(RelayUnavailableError):
        cat.sync(gid)
    assert cat.group(gid).unsent_posts == 0
    [warning] = [w for w in cat.warnings() if isinstance(w, UndeliverablePost)]
    assert warning.code == "not_permitted"


def test_an_admin_who_has_not_synced_keeps_the_channels_another_added(
        group: tuple[list[Client], str]) -> None:
    """Review finding: an update made on a device behind the log was sealed from the
    metadata that device had, and wiped a channel another admin had just added."""
    (ann, ben, _cat), gid = group
    ann.set_role(gid, ben.me(gid).member_id, Role.ADMIN)
    ben.sync(gid)
    ann.add_channel(gid, "News", announcements=True)
    ben.update_group(gid, description="We meet on Tuesdays")  # Ben has not synced since
    ben.add_channel(gid, "Off topic")
    for person in (ann, ben):
        person.sync(gid)
        assert [c.name for c in person.channels(gid)] == ["", "News", "Off topic"]
        assert person.group(gid).description == "We meet on Tuesdays"


def test_a_reply_goes_where_its_target_is(group: tuple[list[Client], str]) -> None:
    (ann, ben, cat), gid = group
    talk = ann.add_channel(gid, "Off topic").channel_id
    for person in (ben, cat):
        person.sync(gid)
    asked = ben.post(gid, "Anyone watching the match?", channel=talk).post_id
    cat.sync(gid)
    answered = cat.reply(gid, asked, "Yes!").post_id
    for person in (ann, ben, cat):
        person.sync(gid)
        assert person.get_post(gid, answered).channel_id == talk
        assert [p.text for p in person.posts(gid, channel=talk)] == [
            "Anyone watching the match?", "Yes!"]
    assert ann.warnings() == [] and ben.warnings() == [] and cat.warnings() == []


def test_an_announcement_says_who_may_reply_also_once_its_channel_is_removed(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat), gid = group
    news = ann.add_channel(gid, "News", announcements=True)
    posted = ann.post(gid, "The room changes next week", channel=news.channel_id)
    ann.post(gid, "Hello")
    for person, may in ((ann, True), (ben, False), (cat, True)):
        person.sync(gid)
        by_text = {p.text: p for p in person.posts(gid)}
        assert by_text["The room changes next week"].can_reply is may
        assert by_text["Hello"].can_reply is True
    ann.remove_channel(gid, news.channel_id)
    ben.sync(gid)
    (shown,) = [p for p in ben.posts(gid) if p.post_id == posted.post_id]
    assert shown.channel_id == MAIN_CHANNEL and shown.can_reply is False
    with pytest.raises(NotPermittedError):
        ben.reply(gid, posted.post_id, "me too")
