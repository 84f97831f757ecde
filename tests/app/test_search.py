"""What the app does on this computer only, against a real relay process: searching a group
(the words go by POST and never into an address or the page's title, results are read-only
and keep their content warnings, each links to its conversation, member text stays inert),
saving one's own posts (Settings), muting a member (their posts folded here only), and
notifications (the group's name only; off for a group on request)."""

from __future__ import annotations

import json
import re
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_app.views.live import new_from_others
from vault_client import Client

from tests.app.conftest import PASSPHRASE, Browser
from tests.app.test_feed import ann as ann  # (the fixtures, used by their names)
from tests.app.test_feed import group_id, page
from tests.app.test_feed import mallory as mallory
from tests.app.test_feed_more import PNG


@pytest.fixture
def posted(ann: Browser) -> Iterator[Browser]:
    client = ann.device_client()
    gid = group_id(ann)
    first = client.post(gid, "See you at the Tuesday circle").post_id
    client.reply(gid, first, "Bring the café vouchers, Tuesday")
    client.post(gid, "Tuesday was hard, after the funeral", content_warning="grief")
    client.post(gid, 'tuesday <script>alert("x")</script>')
    client.post(gid, "Nothing to do with the day")
    yield ann


def searched(browser: Browser, query: str) -> str:
    """Search as the form does: POST, then the address it is sent on to."""
    page(browser, f"/groups/{group_id(browser)}/search")  # (the form's CSRF token)
    response = browser.post(f"/groups/{group_id(browser)}/search", {"q": query})
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(response.headers["Location"])


def search(browser: Browser, query: str, expect: int = 200) -> str:
    if expect != 200:  # refused: the form again, at once
        page(browser, f"/groups/{group_id(browser)}/search")
        response = browser.post(f"/groups/{group_id(browser)}/search", {"q": query})
        assert response.status_code == expect, response.get_data(as_text=True)
        return response.get_data(as_text=True)
    return page(browser, searched(browser, query))


def test_the_group_page_has_a_search_box_that_posts(posted: Browser) -> None:
    html = page(posted, posted.group_url)  # type: ignore[attr-defined]
    form = re.search(r'<form method="post" action="([^"]+)" role="search"', html)
    assert form and form.group(1) == f"/groups/{group_id(posted)}/search"
    assert re.search(r'<input id="search-q" name="q" type="search"[^>]*autocomplete="off"',
                     html)


def test_results_newest_first_with_warnings_kept_and_links(posted: Browser) -> None:
    html = search(posted, "TUESDAY")
    assert "4 posts found" in html
    results = html.split('class="search-results"', 1)[1]
    order = [results.index(s) for s in (
        "&lt;script&gt;", "Content warning:", "Bring the café vouchers",
        "See you at the Tuesday circle")]
    assert order == sorted(order)
    assert "<script>alert" not in html  # member text is escaped
    assert "Nothing to do with the day" not in results
    # The post behind its warning stays closed (a <details> not open), as in the feed.
    assert re.search(r'<details class="content-warning" id="cw-[^"]+">', results)
    assert "A reply" in results
    # Read-only: no reply, reaction, edit, delete or "always show" form among the results.
    for action in ("Send reply", "/react", "/edit", "/delete", "/warnings"):
        assert action not in results, action
    links = re.findall(r'<a href="(/groups/[^"]+#post-[^"]+)">Show it in its conversation', html)
    assert len(links) == 4
    # The words are in the page that answers, and nowhere an address or title keeps them.
    assert "<title>Search" in html and "TUESDAY" not in html.split("</title>")[0]
    assert not any("uesday" in link.lower() for link in links)
    assert 'value="TUESDAY"' in html  # the box keeps what was typed


def test_the_results_address_holds_a_token_for_this_browser_until_a_lock(
        posted: Browser) -> None:
    address = searched(posted, "funeral")
    assert re.fullmatch(rf"/groups/{group_id(posted)}/search\?r=[A-Za-z0-9_-]{{22}}", address)
    assert "1 post found" in page(posted, address)  # again, as Back shows it
    # Another browser session (a new cookie) does not get it: the empty form.
    stranger = Browser(posted.app, posted.app.test_client(), posted.settings)
    stranger.client.get(f"/open?key={posted.settings.launch_token}")
    assert "post found" not in page(stranger, address)
    assert "1 post found" in page(posted, address)  # (the first one still has it)
    # Nor does another group's address with this token.
    other = posted.device_client().create_group("Other", display_name="Ann").group_id
    assert "post found" not in page(posted, address.replace(group_id(posted), other))
    # A lock forgets every search: after unlocking, the address shows the empty form.
    posted.app.extensions["vault_device"].lock()
    posted.app.extensions["vault_device"].unlock(PASSPHRASE)
    html = page(posted, address)
    assert "post found" not in html and 'value=""' in html


def test_phrases_accents_and_nothing_found(posted: Browser) -> None:
    assert "1 post found" in search(posted, '"tuesday circle"')
    assert "Bring the café vouchers" in search(posted, "cafe")
    nothing = search(posted, "tuesday wednesday")
    assert "0 posts found" in nothing and "No post on this computer holds" in nothing


def test_a_conversation_link_opens_far_enough_back(posted: Browser) -> None:
    client = posted.device_client()
    gid = group_id(posted)
    for n in range(55):  # newer conversations push the searched one off the first page
        client.post(gid, f"filler {n}")
    html = search(posted, '"tuesday circle"')
    (link,) = re.findall(r'<a href="([^"]+)">Show it in its conversation', html)
    address, target = link.replace("&amp;", "&").split("#", 1)
    for n in range(3):  # and more arrive before the link is followed
        client.post(gid, f"later {n}")
    shown = page(posted, address)
    assert f'id="{target}"' in shown and 'data-show="100"' in shown


@pytest.mark.parametrize(("query", "says"), [
    ("", "Type at least one word"), ('  ""  ', "Type at least one word"),
    ("x" * 201, "at most 200 characters"),
])
def test_a_query_the_device_refuses_says_what_to_do(posted: Browser, query: str,
                                                    says: str) -> None:
    assert says in search(posted, query, expect=422)


def test_a_search_without_the_form_token_is_refused(posted: Browser) -> None:
    response = posted.post(f"/groups/{group_id(posted)}/search", {"q": "tuesday"}, csrf=False)
    assert response.status_code == 403
    assert "search-results" not in response.get_data(as_text=True)


def test_an_unknown_group_is_not_found(posted: Browser) -> None:
    page(posted, posted.group_url)  # type: ignore[attr-defined]
    response = posted.post("/groups/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/search",
                           {"q": "tuesday"})
    assert response.status_code == 404


# --- saving one's own posts (Settings) ---------------------------------------------------------


def test_settings_save_my_posts_as_a_download(posted: Browser) -> None:
    settings = page(posted, "/settings")
    assert 'action="/settings/my-posts"' in settings and "not locked" in settings
    response = posted.post("/settings/my-posts", {"format": "text"})
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    disposition = response.headers["Content-Disposition"]
    assert re.fullmatch(r'attachment; filename="vault-my-posts-\d{4}-\d{2}-\d{2}\.txt"',
                        disposition)
    assert response.headers["Cache-Control"] == "no-store"
    text = response.get_data(as_text=True)
    assert text.startswith("Your posts in Vault (5)")
    assert "== Tuesday circle ==" in text and "Content warning: grief" in text
    as_json = posted.post("/settings/my-posts", {"format": "json"})
    assert as_json.headers["Content-Type"] == "application/json"  # (UTF-8 by definition)
    assert as_json.headers["Content-Disposition"].endswith('.json"')
    assert as_json.get_json()["format"] == "vault-own-posts"
    refused = posted.post("/settings/my-posts", {"format": "text"}, csrf=False)
    assert refused.status_code == 403 and "Your posts in Vault" not in refused.get_data(
        as_text=True)


# --- muting a member on this computer ------------------------------------------------------------


def test_muting_a_member_folds_their_posts_on_this_computer(ann: Browser,
                                                            mallory: Client) -> None:
    gid = group_id(ann)
    mallory.post(gid, "Something hurtful")
    mallory.post(gid, "A picture", content_warning="loss",
                 attachments=[(PNG, "image/png")])
    mal_id = mallory.me(gid).member_id
    members = page(ann, f"/groups/{gid}/members")
    assert f'action="/groups/{gid}/members/{mal_id}/mute"' in members
    done = ann.post(f"/groups/{gid}/members/{mal_id}/mute", {"mute": "1"})
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"#member-{mal_id}")
    members = page(ann, f"/groups/{gid}/members")
    assert "muted on this computer" in members and ">Unmute<" in members
    assert "is muted on this computer" in members  # the notice
    feed = page(ann, ann.group_url)  # type: ignore[attr-defined]
    folded = re.findall(r'<details class="muted-post" id="muted-[^"]+">(.*?)</details>', feed,
                        re.S)
    assert len(folded) == 2  # both of Mallory's posts
    assert any("Something hurtful" in f for f in folded)  # there, but folded
    assert all("From someone you muted on this computer." in f for f in folded)
    # A warning inside a fold stays a closed warning of its own; no picture is loaded
    # before both are opened (a placeholder, not an <img>).
    warned = re.search(r'<details class="muted-post" id="muted-[^"]+">\s*<summary>.*?</summary>'
                       r'\s*<details class="content-warning" id="cw-[^"]+">(.*?)</details>',
                       feed, re.S)
    assert warned and "A picture" in warned.group(1) and "data-src=" in warned.group(1)
    assert "<img" not in warned.group(1)
    assert mallory.posts(gid)[-1].muted is False  # nothing changed for anyone else
    # The moderation page folds them the same way (a moderator opens one to act on it).
    moderate = page(ann, f"/groups/{gid}/moderate")
    mod_folded = re.findall(r'<details class="muted-post">(.*?)</details>\s*<a href', moderate,
                            re.S)
    assert len(mod_folded) == 2 and any("Something hurtful" in f for f in mod_folded)
    ann.post(f"/groups/{gid}/members/{mal_id}/mute", {"mute": "0"})
    feed = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert 'class="muted-post"' not in feed and "Something hurtful" in feed
    # A muted member who left is listed apart, and can still be unmuted.
    ann.device_client().mute(gid, mal_id)
    ann.device_client().remove(gid, mal_id)
    members = page(ann, f"/groups/{gid}/members")
    assert "Former members you muted" in members and mal_id[:8] in members
    ann.post(f"/groups/{gid}/members/{mal_id}/mute", {"mute": "0"})
    assert ann.device_client().muted(gid) == []
    assert ann.post(f"/groups/{gid}/members/{'A' * 43}/mute", {"mute": "1"}).status_code == 404
    refused = ann.post(f"/groups/{gid}/members/{mal_id}/mute", {"mute": "1"}, csrf=False)
    assert refused.status_code == 403 and ann.device_client().muted(gid) == []


# --- notifications -----------------------------------------------------------------------------


def test_notifications_name_the_group_only_and_can_be_turned_off(ann: Browser,
                                                                 mallory: Client) -> None:
    gid = group_id(ann)
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert 'data-notify="1"' in html and 'data-notify-text="New post in Tuesday circle"' in html
    off = ann.post(f"/groups/{gid}/notify", {"on": "0"})
    assert off.status_code == 303
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert 'data-notify="0"' in html and "No more notifications from this group" in html
    saved = Path(ann.settings.home) / "app-notify.json"
    assert json.loads(saved.read_text())["groups"] == {gid: ["off"]}
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert ann.post(f"/groups/{gid}/notify", {"on": "1"}, csrf=False).status_code == 403
    ann.post(f"/groups/{gid}/notify", {"on": "1"})
    assert 'data-notify="1"' in page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert json.loads(saved.read_text())["groups"] == {}

    # What a notification counts: others' posts and replies this device does not mute.
    client = ann.device_client()
    mine = client.post(gid, "mine")
    mallory.sync(gid)
    mallory.post(gid, "from Mallory")
    mallory.react(gid, mine.post_id, "+1")
    (report,) = client.sync(gid)
    assert new_from_others(report) == 1
    client.mute(gid, mallory.me(gid).member_id)
    mallory.post(gid, "muted now")
    (report,) = client.sync(gid)
    assert report.new_posts == 1 and new_from_others(report) == 0
