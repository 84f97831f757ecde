"""Polls through the SDK against a real relay process, on SQLite and PostgreSQL: a question,
three voters (one changes their vote), the same tally on every device; what ``vote`` refuses
changes nothing; a vote written while the relay is down waits and is then counted once."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from vault_client import Client, PollInfo
from vault_client.errors import (
    InvalidArgumentError,
    NotPermittedError,
    UnknownReferenceError,
)

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import circle, open_client
from tests.conftest import BACKENDS
from vault.crypto.primitives import default_clock


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """Both backends here (the module's relay is started on each): the issue asks for polls
    end to end on SQLite and PostgreSQL."""
    return str(request.param)


@pytest.fixture
def group(tmp_path: Path, relay_up: RelayProcess) -> Iterator[tuple[list[Client], str]]:
    people = [open_client(tmp_path, name, relay_up) for name in ("ann", "ben", "cat", "dan")]
    try:
        yield people, circle(*people)
    finally:
        for person in people:
            person.close()


def poll_of(client: Client, gid: str, post_id: str) -> PollInfo:
    poll = client.get_post(gid, post_id).poll
    assert poll is not None
    return poll


def test_a_poll_with_three_voters_counts_the_same_on_every_device(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat, dan), gid = group
    asked = ann.create_poll(gid, "Which evening suits you?", ["Tuesday", "Thursday", "Either"],
                            closes_in=timedelta(hours=1))
    assert asked.delivered
    for voter in (ben, cat, dan):
        report = voter.sync(gid)[0]
        news = [e for e in report.events if getattr(e, "post_id", None) == asked.post_id]
        assert news and news[0].post is not None and news[0].post.kind == "poll"  # type: ignore[attr-defined]
    assert ben.vote(gid, asked.post_id, "Thursday").delivered
    assert cat.vote(gid, asked.post_id, 2).delivered
    assert dan.vote(gid, asked.post_id, "Tuesday").delivered
    assert dan.vote(gid, asked.post_id, "Thursday").delivered  # changes their mind
    ids = {name: c.me(gid).member_id for name, c in
           (("ann", ann), ("ben", ben), ("cat", cat), ("dan", dan))}
    for person in (ann, ben, cat, dan):
        person.sync(gid)
        view = person.get_post(gid, asked.post_id)
        assert view.kind == "poll" and view.text == "Which evening suits you?"
        poll = view.poll
        assert poll is not None
        assert poll.options == ("Tuesday", "Thursday", "Either")
        assert poll.counts == (0, 2, 1) and poll.total == 3
        assert poll.votes == ((), (ids["ben"], ids["dan"]), (ids["cat"],))
        assert not poll.closed and poll.closes_at_ms is not None
        assert not poll.my_vote_unsent
    assert poll_of(ann, gid, asked.post_id).my_choice is None
    assert poll_of(ben, gid, asked.post_id).my_choice == 1
    assert poll_of(cat, gid, asked.post_id).my_choice == 2
    assert poll_of(dan, gid, asked.post_id).my_choice == 1
    # Votes are posts, not shown as posts: the thread holds the poll alone.
    assert [p.kind for p in ben.posts(gid)] == ["poll"]
    # The poll's options are searchable on the device, and it is replied and reacted to.
    assert [p.post_id for p in cat.search("either", gid)] == [asked.post_id]
    ben.reply(gid, asked.post_id, "Thursday works for me")
    ann.sync(gid)
    thread = ann.threads(gid)[0]
    assert thread.root.poll is not None and [r.text for r in thread.replies] == [
        "Thursday works for me"]
    assert ann.warnings() == [] and ben.warnings() == [] and dan.warnings() == []


def test_what_a_vote_or_poll_refuses_changes_nothing(group: tuple[list[Client], str]) -> None:
    (ann, ben, _cat, _dan), gid = group
    plain = ann.post(gid, "Not a poll").post_id
    asked = ann.create_poll(gid, "Tea or coffee?", ["Tea", "Coffee"]).post_id
    ben.sync(gid)
    before = [p.post_id for p in ben.posts(gid)]
    seq_before = ben.group(gid).unsent_posts
    for option, error in ((5, InvalidArgumentError), ("Juice", InvalidArgumentError),
                          (-1, InvalidArgumentError), (True, InvalidArgumentError)):
        with pytest.raises(error):
            ben.vote(gid, asked, option)  # type: ignore[arg-type]
    with pytest.raises(NotPermittedError, match="not a poll"):
        ben.vote(gid, plain, 0)
    for question, options in (("Tea?", ["Tea"]), ("Tea?", ["Tea", "Tea"]),
                              ("", ["Tea", "Coffee"]), ("Tea?", ["Tea", " "]),
                              ("Tea?", [str(i) for i in range(11)]),
                              ("Tea?", ["Tea", "x" * 101])):
        with pytest.raises(InvalidArgumentError):
            ben.create_poll(gid, question, options)
    with pytest.raises(InvalidArgumentError):
        ben.create_poll(gid, "Tea?", ["Tea", "Coffee"], closes_in=0)
    assert [p.post_id for p in ben.posts(gid)] == before
    assert ben.group(gid).unsent_posts == seq_before == 0
    # A vote after a refused one is numbered as if nothing had happened: Ann's device
    # reports no gap in Ben's posts.
    cast = ben.vote(gid, asked, "Tea")
    assert cast.delivered
    ann.sync(gid)
    assert poll_of(ann, gid, asked).counts == (1, 0)
    assert ann.warnings() == []
    # A vote cannot be deleted (voting again changes it); a deleted poll takes no votes.
    with pytest.raises(NotPermittedError, match="cannot be deleted"):
        ben.delete(gid, cast.post_id)
    ann.delete(gid, asked)
    ben.sync(gid)
    assert ben.get_post(gid, asked).deleted and ben.get_post(gid, asked).poll is None
    with pytest.raises(NotPermittedError, match="deleted"):
        ben.vote(gid, asked, "Coffee")


def test_a_closed_poll_takes_no_vote_and_shows_closed(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    ahead = {"ms": 0}

    def clock() -> int:
        return default_clock() + ahead["ms"]

    with open_client(tmp_path, "ann", relay_up, clock=clock) as ann, \
            open_client(tmp_path, "ben", relay_up, clock=clock) as ben:
        gid = circle(ann, ben)
        asked = ann.create_poll(gid, "Meet in person?", ["Yes", "No"],
                                closes_in=timedelta(minutes=10)).post_id
        ben.sync(gid)
        assert ben.vote(gid, asked, "Yes").delivered
        ann.sync(gid)
        assert poll_of(ann, gid, asked).counts == (1, 0)
        ahead["ms"] = 10 * 60 * 1000  # the closing time: the kept drawing is drawn again
        assert poll_of(ann, gid, asked).closed
        with pytest.raises(NotPermittedError, match="closed"):
            ben.vote(gid, asked, "No")
        assert poll_of(ben, gid, asked).my_choice == 0


def test_a_vote_written_while_the_relay_is_down_waits_and_counts_once(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up, retry_for=0.5) as ben:
        gid = circle(ann, ben)
        asked = ann.create_poll(gid, "Walk on Sunday?", ["Yes", "No"]).post_id
        ben.sync(gid)
        relay_up.kill()
        waiting = ben.vote(gid, asked, "No")
        assert not waiting.delivered and waiting.status == "queued"
        poll = poll_of(ben, gid, asked)
        assert poll.my_choice == 1 and poll.my_vote_unsent and poll.counts == (0, 0)
        relay_up.start()
        assert ben.sync(gid)[0].unsent_posts == 0
        poll = poll_of(ben, gid, asked)
        assert poll.my_choice == 1 and not poll.my_vote_unsent and poll.counts == (0, 1)
        ann.sync(gid)
        assert poll_of(ann, gid, asked).votes == ((), (ben.me(gid).member_id,))


def test_a_vote_is_judged_by_the_time_it_is_dated_with(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    """A post is dated no earlier than the log's last entry; a vote is refused when that
    date is past the closing time (not reported delivered and then counted by nobody), and
    a poll that has disappeared takes no vote."""
    ahead = {"ms": 0}

    def anns_clock() -> int:
        return default_clock() + ahead["ms"]

    with open_client(tmp_path, "ann", relay_up, clock=anns_clock) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        asked = ann.create_poll(gid, "Quick?", ["Yes", "No"],
                                closes_in=timedelta(minutes=2)).post_id
        ahead["ms"] = 4 * 60 * 1000  # Ann's clock runs 4 minutes fast (the relay allows 5)
        ann.set_display_name(gid, "Ann B.")  # a log entry dated 4 minutes ahead
        ben.sync(gid)
        with pytest.raises(NotPermittedError, match="closed"):
            ben.vote(gid, asked, "Yes")
        assert ben.group(gid).unsent_posts == 0


def test_a_poll_that_has_disappeared_takes_no_vote(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        gone = ann.create_poll(gid, "Gone soon?", ["Yes", "No"], expires_in=0.2).post_id
        ben.sync(gid)
        time.sleep(0.3)  # (past its expiry; nothing is timed)
        with pytest.raises((NotPermittedError, UnknownReferenceError)):
            ben.vote(gid, gone, "Yes")
        assert ben.group(gid).unsent_posts == 0
