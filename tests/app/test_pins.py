"""Pinning in the member app, against a real relay process: a moderator's button pins a post
for everyone (listed first, marked), unpins it again; a member sees no button, and a forged
request is refused with nothing sent; a pinned post behind a content warning is listed by its
warning only."""

from __future__ import annotations

from pathlib import Path

from vault_client import Client, Role

from tests.app.conftest import PASSPHRASE, Browser, make_settings, open_browser
from tests.app.test_feed import ann as ann  # (the fixtures, used by their names)
from tests.app.test_feed import group_id, page, post_block
from tests.app.test_feed import mallory as mallory
from tests.app.test_feed_more import shut


def pinned_list(html: str) -> str:
    if 'class="pinned"' not in html:
        return ""
    return html.split('class="pinned"', 1)[1].split("</section>", 1)[0]


def test_a_moderator_pins_and_unpins(ann: Browser, mallory: Client) -> None:
    gid = group_id(ann)
    client = ann.device_client()
    kept = client.post(gid, "Our agreements <b>matter</b>").post_id
    warned = client.post(gid, "The hard part", content_warning="grief").post_id
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert pinned_list(html) == ""
    assert "Pin for everyone" in post_block(html, kept)
    for post_id in (kept, warned):
        response = ann.post(f"/groups/{gid}/posts/{post_id}/pin", {"pin": "1"})
        assert response.status_code == 303
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    listed = pinned_list(html)
    assert "Our agreements &lt;b&gt;matter&lt;/b&gt;" in listed and "<b>" not in listed
    assert "Content warning:" in listed and "grief" in listed and "The hard part" not in listed
    assert f"at={kept}" in listed
    assert ">pinned<" in post_block(html, kept) and "Unpin" in post_block(html, kept)
    assert "The post is pinned for everyone in the group." in html
    mallory.sync(gid)
    assert [p.post_id for p in mallory.pinned(gid)] == [kept, warned]
    ann.post(f"/groups/{gid}/posts/{kept}/pin", {"pin": "0"})
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert "The post is no longer pinned." in html
    assert "Our agreements" not in pinned_list(html)
    mallory.sync(gid)
    assert [p.post_id for p in mallory.pinned(gid)] == [warned]


def test_a_member_has_no_pin_button_and_a_forged_request_is_refused(
        ann: Browser, mallory: Client, tmp_path: Path) -> None:
    gid = group_id(ann)
    hers = mallory.post(gid, "Words from Mallory").post_id
    mallory.close()  # her own app opens her device now
    member = open_browser(make_settings(tmp_path / "mallory", ann.settings.relay_url))
    try:
        member.get("/unlock")
        assert member.post("/unlock", {"passphrase": PASSPHRASE}).status_code == 303
        html = page(member, f"/groups/{gid}")
        assert "Words from Mallory" in html and "Pin for everyone" not in html
        response = member.post(f"/groups/{gid}/posts/{hers}/pin", {"pin": "1"})
        assert response.status_code == 303
        html = page(member, f"/groups/{gid}")
        assert "Only moderators and admins can pin posts." in html and "Nothing was changed" in html
        assert pinned_list(html) == ""
        client = member.device_client()
        assert client.group(gid).unsent_posts == 0 and client.pinned(gid) == []
    finally:
        shut(member)


def test_a_demoted_moderator_can_still_unpin_their_own_pin(
        ann: Browser, mallory: Client, tmp_path: Path) -> None:
    """TV-3 lets a pin's author delete it after stepping down: the app offers the button on
    their own pin (it used to hide it from anyone below moderator)."""
    gid = group_id(ann)
    owner = ann.device_client()
    owner.set_role(gid, mallory.me(gid).member_id, Role.MODERATOR)
    mallory.sync(gid)
    kept = owner.post(gid, "Our agreements").post_id
    other = owner.post(gid, "Pinned by Ann").post_id
    mallory.sync(gid)
    mallory.pin(gid, kept)
    owner.pin(gid, other)
    owner.set_role(gid, mallory.me(gid).member_id, Role.MEMBER)
    mallory.close()  # her own app opens her device now
    member = open_browser(make_settings(tmp_path / "mallory", ann.settings.relay_url))
    try:
        member.get("/unlock")
        assert member.post("/unlock", {"passphrase": PASSPHRASE}).status_code == 303
        html = page(member, f"/groups/{gid}")
        assert "Unpin" in post_block(html, kept)
        assert "Unpin" not in post_block(html, other) and "Pin for everyone" not in html
        assert member.post(f"/groups/{gid}/posts/{kept}/pin", {"pin": "0"}).status_code == 303
        client = member.device_client()
        assert [p.post_id for p in client.pinned(gid)] == [other]
    finally:
        shut(member)
