"""Polls through the SDK against a real relay process, on SQLite and PostgreSQL: a question,
three voters (one changes their vote), the same tally on every device. (What ``vote``
refuses, and votes that wait: ``test_polls_refusals.py``, on one backend.)"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from vault_client import Client, PollInfo

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import circle, open_client
from tests.conftest import BACKENDS


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
