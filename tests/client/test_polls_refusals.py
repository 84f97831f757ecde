"""What a poll or a vote refuses changes nothing; a closed or vanished poll takes no vote; a
vote is judged by the time it is dated with; a vote written while the relay is down waits
and is counted once (the SDK against a real relay process, on one backend: a relay is a
relay here; the three-voter test in ``test_polls.py`` runs on both)."""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import pytest
from vault_client import Client
from vault_client.errors import (
    InvalidArgumentError,
    NotPermittedError,
    UnknownReferenceError,
)

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import circle, open_client
from tests.client.test_polls import group as group  # (the fixture, used by its name)
from tests.client.test_polls import poll_of
from vault.crypto.primitives import default_clock


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
