"""The moderators' inbox through the SDK against a real relay process: a member reports a
post and asks for support; the moderators, and only they, read it (never the reported
author, never another member); a moderator replies privately and resolves, deleting the post
or removing its author; a moderator who is demoted reads no new report; what is refused
changes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_client import Client, InvalidInboxItem, Posted, Role
from vault_client.errors import (
    InvalidArgumentError,
    NotPermittedError,
    RelayUnreachableError,
    UnknownReferenceError,
)

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import circle, open_client
from vault.crypto.encoding import b64decode


@pytest.fixture
def group(tmp_path: Path, relay_up: RelayProcess) -> Iterator[tuple[list[Client], str]]:
    """Ann (owner), Ben and Dan (members), Cat (moderator)."""
    people = [open_client(tmp_path, name, relay_up) for name in ("ann", "ben", "cat", "dan")]
    try:
        gid = circle(*people)
        people[0].set_role(gid, people[2].me(gid).member_id, Role.MODERATOR)
        for person in people:
            person.sync(gid)
        yield people, gid
    finally:
        for person in people:
            person.close()


def test_a_report_reaches_the_moderators_and_only_them(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat, dan), gid = group
    unkind = dan.post(gid, "Nobody here understands anything").post_id
    ben.sync(gid)
    thread = ben.report(gid, unkind, "This hurt me and others")
    for moderator in (ann, cat):
        [seen] = moderator.inbox(gid)
        assert (seen.thread_id, seen.kind, seen.post_id) == (thread, "report", unkind)
        assert seen.started_by == ben.me(gid).member_id and seen.started_by_name == "Ben"
        assert seen.subject == dan.me(gid).member_id and seen.subject_name == "Dan"
        assert [i.text for i in seen.items] == ["This hurt me and others"]
        assert not seen.resolved
    assert dan.inbox(gid) == []  # the reported author never learns of it
    assert [t.thread_id for t in ben.inbox(gid)] == [thread]  # the reporter sees their own
    # A moderator answers Ben privately, then resolves by deleting the post.
    cat.reply_in_inbox(gid, thread, "Thank you for telling us. We are looking at it.")
    [mine] = ben.inbox(gid)
    assert [i.kind for i in mine.items] == ["report", "reply"]
    assert mine.items[1].sender_name == "Cat"
    ann.resolve(gid, thread, "post_deleted", note="Deleted; spoke with Dan")
    for person in (ann, ben, cat, dan):
        person.sync(gid)
        assert all(p.deleted for p in person.posts(gid) if p.post_id == unkind)
        assert "Nobody here understands anything" not in [p.text for p in person.posts(gid)]
    [closed] = cat.inbox(gid)
    assert closed.resolved and closed.outcome == "post_deleted"
    assert [i.kind for i in closed.items] == ["report", "reply", "resolution"]
    assert closed.items[-1].text == "Deleted; spoke with Dan"
    assert [i.kind for i in ben.inbox(gid)[0].items] == ["report", "reply"]  # mods only
    assert dan.inbox(gid) == []
    for person in (ann, ben, cat, dan):
        assert person.warnings() == []


def test_support_requests_are_private_and_what_is_refused_changes_nothing(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat, dan), gid = group
    asked = dan.ask_moderators(gid, "I am having a hard week, can someone call me?")
    dan.ask_moderators(gid, "Evenings are best", thread=asked)
    assert [i.text for i in cat.inbox(gid)[0].items] == [
        "I am having a hard week, can someone call me?", "Evenings are best"]
    assert ben.inbox(gid) == []
    with pytest.raises(NotPermittedError, match="only moderators and admins"):
        ben.reply_in_inbox(gid, asked, "I can")
    with pytest.raises(NotPermittedError, match="only moderators and admins"):
        ben.resolve(gid, asked, "dismissed")
    with pytest.raises(UnknownReferenceError, match="no such thread"):  # not sealed to Ben
        ben.ask_moderators(gid, "me too", thread=asked)
    with pytest.raises(NotPermittedError, match="a thread you began"):
        cat.ask_moderators(gid, "me too", thread=asked)
    mine = ben.post(gid, "My own words").post_id
    with pytest.raises(InvalidArgumentError, match="your own post"):
        ben.report(gid, mine, "oops")
    with pytest.raises(InvalidArgumentError, match="say why"):
        dan.report(gid, mine, "  ")
    with pytest.raises(InvalidArgumentError, match="an outcome is one of"):
        cat.resolve(gid, asked, "ignored")  # type: ignore[arg-type]
    assert [len(t.items) for t in cat.inbox(gid)] == [2]
    # Resolved with a member's removal: the member it is about is removed first.
    report = ben.report(gid, dan.post(gid, "Spam spam spam").post_id, "Spam")
    cat.sync(gid)
    with pytest.raises(NotPermittedError):  # a moderator cannot remove: nothing recorded
        cat.resolve(gid, report, "member_removed")
    ann.resolve(gid, report, "member_removed")
    assert dan.me(gid).member_id not in {m.member_id for m in ann.members(gid)}
    assert [t.outcome for t in cat.inbox(gid)] == [None, "member_removed"]


def test_a_demoted_moderator_reads_no_new_report(group: tuple[list[Client], str]) -> None:
    (ann, ben, cat, dan), gid = group
    early = ben.report(gid, dan.post(gid, "First").post_id, "First report")
    ann.set_role(gid, cat.me(gid).member_id, Role.MEMBER)
    ben.sync(gid)
    late = ben.report(gid, dan.post(gid, "Second").post_id, "Second report")
    assert [t.thread_id for t in cat.inbox(gid)] == [early]
    assert [t.thread_id for t in ann.inbox(gid)] == [early, late]
    assert cat.warnings() == []


def test_nothing_is_sent_or_kept_while_the_relay_is_away(
        group: tuple[list[Client], str], relay_up: RelayProcess) -> None:
    (ann, ben, _cat, dan), gid = group
    post = dan.post(gid, "Something").post_id
    ben.sync(gid)
    relay_up.stop()
    try:
        with pytest.raises(RelayUnreachableError):
            ben.report(gid, post, "Unkind")
    finally:
        relay_up.start()
    assert ann.inbox(gid) == [] and ben.inbox(gid) == []


# --- after helper-50's review ---------------------------------------------------------------


def test_a_report_naming_another_member_than_the_posts_author_is_refused(
        group: tuple[list[Client], str]) -> None:
    """Ben reports Dan's post but names Cat (a moderator) as its author: Cat would be left
    out of the report and could be removed for Dan's words. Every moderator holding the post
    refuses it, warned; and resolving by removal removes the post's author, never the
    report's word alone."""
    (ann, ben, cat, dan), gid = group
    post = dan.post(gid, "Words by Dan").post_id
    ben.sync(gid)
    from vault_client._internal import inbox as module

    from vault.crypto.inbox import InboxKind

    view = ben._device.member_view(gid)
    forged = module.send(ben._device, view, InboxKind.REPORT, "Cat wrote this",
                         post=b64decode(post), subject=b64decode(cat.me(gid).member_id))
    assert ann.inbox(gid) == []
    [warning] = [w for w in ann.warnings() if isinstance(w, InvalidInboxItem)]
    assert warning.item_id == forged and "another member than the post's author" in \
        warning.message
    honest = ben.report(gid, post, "Unkind")
    ann.inbox(gid)
    ann.resolve(gid, honest, "member_removed")
    members = {m.member_id for m in ann.members(gid)}
    assert dan.me(gid).member_id not in members and cat.me(gid).member_id in members


def test_a_queued_deletion_records_no_resolution(group: tuple[list[Client], str],
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    (ann, ben, _cat, dan), gid = group
    post = dan.post(gid, "Words").post_id
    thread = ben.report(gid, post, "Unkind")
    ann.inbox(gid)

    def queued(group_ref: object, post_ref: object) -> Posted:
        return Posted(gid, post, False, "queued", "the relay cannot be reached")

    monkeypatch.setattr(ann, "delete", queued)
    with pytest.raises(RelayUnreachableError, match="nothing was recorded"):
        ann.resolve(gid, thread, "post_deleted")
    [open_thread] = ann.inbox(gid)
    assert not open_thread.resolved and len(open_thread.items) == 1


def test_an_item_ahead_of_this_devices_log_is_held_and_read_later(
        group: tuple[list[Client], str], monkeypatch: pytest.MonkeyPatch) -> None:
    (ann, ben, cat, dan), gid = group
    cat.inbox(gid)
    ann.set_role(gid, ben.me(gid).member_id, Role.MODERATOR)  # the log moves on
    dan.sync(gid)
    asked = dan.ask_moderators(gid, "help")  # sealed at the new head
    from vault_client._internal import inbox as module
    from vault_client._internal import sync_io

    real_log, real_sync = module.sync_log, sync_io.sync_group
    monkeypatch.setattr(module, "sync_log", lambda *args: None)  # Cat's log read lags
    monkeypatch.setattr(sync_io, "sync_group", lambda *args: None)
    assert cat.inbox(gid) == [] and not [w for w in cat.warnings()
                                        if isinstance(w, InvalidInboxItem)]
    monkeypatch.setattr(module, "sync_log", real_log)
    monkeypatch.setattr(sync_io, "sync_group", real_sync)
    assert [t.thread_id for t in cat.inbox(gid)] == [asked]


def test_a_moderator_promoted_later_sees_the_rest_of_a_thread_marked_incomplete(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat, dan), gid = group
    asked = dan.ask_moderators(gid, "Before Ben was a moderator")
    ann.set_role(gid, ben.me(gid).member_id, Role.MODERATOR)
    cat.sync(gid)
    cat.reply_in_inbox(gid, asked, "We are here")
    [partial] = ben.inbox(gid)
    assert not partial.complete and partial.thread_id == asked
    assert partial.started_by == dan.me(gid).member_id
    assert [i.text for i in partial.items] == ["We are here"]
    assert [t.complete for t in ann.inbox(gid)] == [True]


def test_a_follow_up_by_someone_else_is_not_taken_into_a_thread(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, _cat, dan), gid = group
    post = dan.post(gid, "Words").post_id
    thread = ben.report(gid, post, "mean")
    from vault_client._internal import inbox as module

    from vault.crypto.inbox import InboxKind

    view = dan._device.member_view(gid)
    intruder = module.send(dan._device, view, InboxKind.SUPPORT, "I am Ben, ignore my report",
                           thread=b64decode(thread))
    [seen] = ann.inbox(gid)
    assert [i.text for i in seen.items] == ["mean"]
    assert [w.item_id for w in ann.warnings() if isinstance(w, InvalidInboxItem)] == [intruder]
