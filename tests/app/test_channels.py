"""Channels in the member app, against a real relay process: an admin adds, renames, moves
and removes channels on the Channels page; the group page shows them as a row of links and
each one's conversations only; a post written there lands there; in an announcements channel
a member sees no compose form and no reply box, and a forged request is refused with nothing
sent. Names written by members are escaped."""

from __future__ import annotations

import html as markup
from pathlib import Path

from vault_client import MAIN_CHANNEL, Client

from tests.app.conftest import PASSPHRASE, Browser, make_settings, open_browser
from tests.app.test_feed import ann as ann  # (the fixtures, used by their names)
from tests.app.test_feed import group_id, page, post_block
from tests.app.test_feed import mallory as mallory
from tests.app.test_feed_more import shut


def channel_row(html: str) -> str:
    if 'class="channels"' not in html:
        return ""
    return html.split('class="channels"', 1)[1].split("</nav>", 1)[0]


def test_an_admin_shapes_the_channels_and_posts_land_in_them(ann: Browser,
                                                             mallory: Client) -> None:
    gid = group_id(ann)
    assert channel_row(page(ann, ann.group_url)) == ""  # type: ignore[attr-defined]
    listing = page(ann, f"/groups/{gid}/channels")
    assert "General" in listing and "Add a channel" in listing
    added = ann.post(f"/groups/{gid}/channels", {"name": "News <b>", "announcements": "1"})
    assert added.status_code == 303
    news = next(c for c in ann.device_client().channels(gid) if c.name == "News <b>")
    assert f"channel={news.channel_id}" in added.headers["Location"]
    ann.post(f"/groups/{gid}/channels", {"name": "Off topic"})
    talk = next(c for c in ann.device_client().channels(gid) if c.name == "Off topic")
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    row = channel_row(html)
    assert "News &lt;b&gt;" in row and "<b>" not in row and "(announcements)" in row
    assert row.index("General") < row.index("News") < row.index("Off topic")
    assert 'aria-current="page">General' in " ".join(row.split())

    # A post written on a channel's page lands in that channel, and only there.
    sent = ann.post(f"/groups/{gid}/posts", {"text": "Room 4 this week",
                                            "channel": news.channel_id})
    assert sent.status_code == 303 and "at=" in sent.headers["Location"]
    ann.post(f"/groups/{gid}/posts", {"text": "Hello all"})
    in_news = page(ann, f"/groups/{gid}?channel={news.channel_id}")
    assert "Room 4 this week" in in_news and "Hello all" not in in_news
    main = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert "Hello all" in main and "Room 4 this week" not in main
    at = page(ann, sent.headers["Location"])  # a link to the post opens its channel
    assert "Room 4 this week" in at and "Hello all" not in at
    mallory.sync(gid)
    assert [p.text for p in mallory.posts(gid, channel=news.channel_id)] == ["Room 4 this week"]
    assert [p.text for p in mallory.posts(gid, channel=MAIN_CHANNEL)] == ["Hello all"]

    # Move, rename, remove: every member's list follows.
    for item in ("move", "rename"):
        response = ann.post(f"/groups/{gid}/channels/{talk.channel_id}/{item}",
                            {"direction": "up", "name": "Chat"})
        assert response.status_code == 303
    mallory.sync(gid)
    assert [c.name for c in mallory.channels(gid)] == ["", "Chat", "News <b>"]
    removed = ann.post(f"/groups/{gid}/channels/{news.channel_id}/remove")
    assert removed.status_code == 303
    assert "its posts are now in General" in page(ann, f"/groups/{gid}/channels")
    main = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert "Room 4 this week" in main and "Hello all" in main


def test_a_member_cannot_post_in_announcements(ann: Browser, mallory: Client,
                                              tmp_path: Path) -> None:
    gid = group_id(ann)
    news = ann.device_client().add_channel(gid, "News", announcements=True)
    notice = ann.device_client().post(gid, "Room 4 this week", channel=news.channel_id).post_id
    mallory.close()  # her own app opens her device now
    member = open_browser(make_settings(tmp_path / "mallory", ann.settings.relay_url))
    try:
        member.get("/unlock")
        assert member.post("/unlock", {"passphrase": PASSPHRASE}).status_code == 303
        html = page(member, f"/groups/{gid}?channel={news.channel_id}")
        assert "Only moderators and admins post in this channel." in html
        assert 'id="compose-heading"' not in html
        block = post_block(html, notice)
        assert "Room 4 this week" in block and "Send reply" not in block
        assert "React with" in block  # reactions stay open to everyone
        assert "Add a channel" not in page(member, f"/groups/{gid}/channels")
        # A forged request (the form is not there): refused, said, nothing sent.
        forged = member.post(f"/groups/{gid}/posts", {"text": "Me too",
                                                      "channel": news.channel_id})
        assert forged.status_code == 422
        said = markup.unescape(forged.get_data(as_text=True))
        assert "Only moderators and admins can post in an announcements channel" in said
        assert "Me too" in said  # what was typed is kept
        reply = member.post(f"/groups/{gid}/posts", {"text": "Thanks", "reply_to": notice})
        assert reply.status_code == 422
        client = member.device_client()
        assert client.group(gid).unsent_posts == 0
        assert [p.text for p in client.posts(gid, channel=news.channel_id)] == [
            "Room 4 this week"]
        assert member.post(f"/groups/{gid}/channels", {"name": "Mine"}).status_code == 422
        assert [c.name for c in client.channels(gid)] == ["", "News"]
        # Once the channel is removed, its announcement shows in General: still no reply
        # box (a reply would be refused: the channel's kind is in the post).
        ann.device_client().remove_channel(gid, news.channel_id)
        client.sync(gid)
        general = page(member, f"/groups/{gid}")
        block = post_block(general, notice)
        assert "Room 4 this week" in block and "Send reply" not in block
    finally:
        shut(member)


def test_opening_one_channel_leaves_the_others_new_posts_new(ann: Browser,
                                                            mallory: Client) -> None:
    gid = group_id(ann)
    ann.post(f"/groups/{gid}/channels", {"name": "Off topic"})
    talk = next(c for c in ann.device_client().channels(gid) if c.name == "Off topic")
    mallory.sync(gid)
    mallory.post(gid, "in General")
    mallory.post(gid, "in Off topic", channel=talk.channel_id)
    assert "2 new posts" in page(ann, "/")
    page(ann, ann.group_url)  # type: ignore[attr-defined]  # General only
    assert "1 new post" in page(ann, "/")  # Off topic's post is still new
    page(ann, f"/groups/{gid}?channel={talk.channel_id}")
    assert "new post" not in page(ann, "/")
