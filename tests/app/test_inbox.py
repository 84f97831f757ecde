"""The moderators' inbox in the member app, against a real relay process: a member's report
of a post reaches the moderators' inbox page (and never the reported author); a moderator
answers privately and resolves by deleting the post; the report form is under each post;
a request for support is sent from the page; every name and text is escaped."""

from __future__ import annotations

import html as markup
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_client import Client

from tests.app.conftest import Browser, admitted_client
from tests.app.test_feed import ann as ann  # (the fixtures, used by their names)
from tests.app.test_feed import group_id, page, post_block
from tests.app.test_feed import mallory as mallory


@pytest.fixture
def cat(ann: Browser, tmp_path: Path) -> Iterator[Client]:
    """A third member, who reports."""
    client = admitted_client(ann, group_id(ann), tmp_path / "cat", "Cat <i>")
    yield client
    client.close()


def test_a_report_reaches_the_moderator_who_resolves_it(ann: Browser, mallory: Client,
                                                        cat: Client) -> None:
    gid = group_id(ann)
    unkind = mallory.post(gid, "Unkind words").post_id
    cat.sync(gid)
    thread = cat.report(gid, unkind, "This is <b>unkind</b>")
    html = page(ann, f"/groups/{gid}/inbox")
    assert "Moderators\u2019 inbox" in html
    box = html.split(f'id="thread-{thread}"', 1)[1].split("</article>", 1)[0]
    assert "Report by" in box and "Cat &lt;i&gt;" in box and "<i>" not in box
    assert "This is &lt;b&gt;unkind&lt;/b&gt;" in box and "<b>" not in box
    assert f"at={unkind}" in box
    assert mallory.inbox(gid) == []  # the reported author never sees it
    answered = ann.post(f"/groups/{gid}/inbox/{thread}/answer",
                        {"text": "Thank you, we are on it"})
    assert answered.status_code == 303
    assert [i.text for i in cat.inbox(gid)[0].items][-1] == "Thank you, we are on it"
    resolved = ann.post(f"/groups/{gid}/inbox/{thread}/resolve",
                        {"outcome": "post_deleted", "note": "Deleted"})
    assert resolved.status_code == 303
    assert "Resolved. The other moderators see it." in page(ann, resolved.headers["Location"])
    mallory.sync(gid)
    assert all(p.deleted for p in mallory.posts(gid) if p.post_id == unkind)
    refused = ann.post(f"/groups/{gid}/inbox/{thread}/resolve", {"outcome": "whatever"})
    assert refused.status_code == 422


def test_the_report_form_and_asking_for_support(ann: Browser, mallory: Client,
                                                cat: Client) -> None:
    gid = group_id(ann)
    theirs = mallory.post(gid, "A post").post_id
    mine = ann.device_client().post(gid, "My post").post_id
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert "Report to the moderators" in post_block(html, theirs)
    assert "Report to the moderators" not in post_block(html, mine)
    # Ann is the group's only moderator: her report would reach nobody but herself, so it
    # is refused, and the page says it was not sent.
    sent = ann.post(f"/groups/{gid}/posts/{theirs}/report", {"reason": "Spam"})
    assert sent.status_code == 303
    said = markup.unescape(page(ann, sent.headers["Location"]))
    assert "The report was not sent." in said and "nobody could read it" in said
    asked = ann.post(f"/groups/{gid}/inbox", {"text": "A note to myself"})
    assert asked.status_code == 303
    inbox = page(ann, f"/groups/{gid}/inbox")
    assert "Request for support from" in inbox and "A note to myself" in inbox
    assert re.search(r"Nothing here yet", page(ann, f"/groups/{gid}/inbox")) is None
