"""Polls in the member app, against a real relay process: asking through the form (what
members' devices would refuse is said, with everything typed kept), voting and changing a
vote from the feed, counts and voters shown, member text escaped, a closed or read-only poll
without a vote form, a poll never offered for editing."""

from __future__ import annotations

import re
import time

from vault_client import Client

from tests.app.conftest import Browser
from tests.app.test_feed import ann as ann  # (the fixtures, used by their names)
from tests.app.test_feed import group_id, page, post_block
from tests.app.test_feed import mallory as mallory


def ask(browser: Browser, question: str, *options: str, **extra: str) -> tuple[int, str, str]:
    """Fill in and send the poll form: (status, location or page, the page's text)."""
    path = f"/groups/{group_id(browser)}/polls/new"
    page(browser, path)  # (the form's CSRF token)
    fields = {"question": question, **{f"option-{i}": o for i, o in enumerate(options)},
              **extra}
    response = browser.post(path, fields)
    return (response.status_code, response.headers.get("Location", ""),
            response.get_data(as_text=True))


def test_asking_voting_and_changing_a_vote(ann: Browser, mallory: Client) -> None:
    gid = group_id(ann)
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert f'href="/groups/{gid}/polls/new"' in html
    status, where, _ = ask(ann, "Which evening suits you?", "Tuesday", "", "Thursday",
                           closes="week")
    assert status == 303, _
    poll_id = where.rsplit("#post-", 1)[1]
    feed = post_block(page(ann, ann.group_url), poll_id)  # type: ignore[attr-defined]
    assert "Which evening suits you?" in feed
    assert re.findall(r'<input type="radio" name="option" value="(\d)"', feed) == ["0", "1"]
    assert "Voting closes" in feed and ">Vote</button>" in feed
    assert "Everyone in the group can see what you choose" in feed
    assert f"/posts/{poll_id}/edit" not in feed  # a poll is never edited
    assert "0 votes" in feed

    # Mallory (her name is hostile markup) votes from her device; Ann votes in the app.
    mallory.sync(gid)
    assert mallory.vote(gid, poll_id, "Thursday").delivered
    page(ann, ann.group_url)  # type: ignore[attr-defined]
    response = ann.post(f"/groups/{gid}/posts/{poll_id}/vote", {"option": "0"})
    assert response.status_code == 303 and response.headers["Location"].endswith(
        f"#post-{poll_id}")
    feed = post_block(page(ann, ann.group_url), poll_id)  # type: ignore[attr-defined]
    assert feed.count("1 vote<") == 2 and "your vote" in feed
    assert re.search(r'value="0" checked', feed) and "Change my vote" in feed
    voters = feed.split('class="poll-voters"', 1)[1]
    assert "Ann" in voters and "&lt;img src=x" in voters and "<img src=x" not in feed
    # Changing it: Ann now chooses Thursday too.
    ann.post(f"/groups/{gid}/posts/{poll_id}/vote", {"option": "1"})
    mallory.sync(gid)
    poll = mallory.get_post(gid, poll_id).poll
    assert poll is not None and poll.counts == (0, 2)
    # No option chosen, or one the poll lacks: said, and nothing is sent.
    page(ann, ann.group_url)  # type: ignore[attr-defined]
    for option in ("", "7", "\u00b2", "9" * 5000):
        ann.post(f"/groups/{gid}/posts/{poll_id}/vote", {"option": option})
        shown = page(ann, ann.group_url)  # type: ignore[attr-defined]
        assert "Choose an option first" in shown or "options 0 to 1" in shown
    mallory.sync(gid)
    poll = mallory.get_post(gid, poll_id).poll
    assert poll is not None and poll.counts == (0, 2)


def test_the_form_says_what_is_wrong_and_keeps_what_was_typed(ann: Browser) -> None:
    for args, said in (
        (("", "Tea", "Coffee"), "The poll needs a question"),
        (("Tea or coffee?", "Tea"), "A poll needs at least two options"),
        (("Tea or coffee?", "Tea", "Tea"), "Two options are the same"),
        (("Tea or coffee?", "Tea", "x" * 101), "too long"),
        (("Tea or coffee?", "Tea", "\u0434" * 60), "is too long"),  # 120 bytes of UTF-8
    ):
        status, _, html = ask(ann, *args, content_warning="caffeine")
        assert status == 422 and said in html, (args, html)
        assert 'value="Tea"' in html and 'value="caffeine"' in html
    client = ann.device_client()
    assert client.posts(group_id(ann)) == []  # nothing was asked


def test_a_closed_poll_has_no_vote_form(ann: Browser) -> None:
    client = ann.device_client()
    gid = group_id(ann)
    asked = client.create_poll(gid, "Quick one?", ["Yes", "No"], closes_in=0.05).post_id
    time.sleep(0.1)  # (the clock passes the closing time: no timing is asserted)
    feed = post_block(page(ann, ann.group_url), asked)  # type: ignore[attr-defined]
    assert "This poll has closed." in feed and 'type="radio"' not in feed
    page(ann, ann.group_url)  # type: ignore[attr-defined]
    ann.post(f"/groups/{gid}/posts/{asked}/vote", {"option": "0"})
    assert "has closed" in page(ann, ann.group_url)  # type: ignore[attr-defined]
    poll = client.get_post(gid, asked).poll
    assert poll is not None and poll.total == 0
