"""The feed's other features, against a real relay process: attachments (pictures shown only
when their bytes are a raster image and their warning is open; everything else downloaded),
disappearing posts, content warnings a member always wants open, moderators deleting
others' posts, and pages that open at once while the relay cannot be reached."""

from __future__ import annotations

import io
import json
import os
import re
import stat
import struct
import time
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_app import files
from vault_app.refresh import Refresher
from vault_app.text import countdown
from vault_client import Client

from tests.app.conftest import PASSPHRASE, Browser, admitted_client, make_settings, open_browser
from tests.app.test_feed import group_id, page, post_block
from tests.relayproc import RelayProcess
from vault.crypto import limits


def png_bytes() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


PNG = png_bytes()
SVG = (b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)">'
       b"<script>alert(2)</script></svg>")
HTML = b"<!doctype html><script>alert(3)</script><p>hi</p>"


def new_member(relay: RelayProcess, home: Path, name: str) -> Browser:
    browser = open_browser(make_settings(home, relay.url))
    browser.get("/welcome")
    assert browser.post("/welcome", {"passphrase": PASSPHRASE,
                                     "confirm": PASSPHRASE}).status_code == 303
    return browser


def create_group(browser: Browser, relay_url: str) -> str:
    browser.get("/groups/new")
    response = browser.post("/groups/new", {"name": "Tuesday circle", "display_name": "Ann",
                                            "relay": relay_url})
    assert response.status_code == 303, response.get_data(as_text=True)
    location: str = response.headers["Location"]
    browser.group_url = location  # type: ignore[attr-defined]
    return location.rsplit("/", 1)[1]


def shut(browser: Browser) -> None:
    browser.app.extensions["vault_device"].shutdown()


@pytest.fixture
def ann(relay: RelayProcess, tmp_path: Path) -> Iterator[Browser]:
    browser = new_member(relay, tmp_path / "ann", "Ann")
    create_group(browser, relay.url)
    yield browser
    shut(browser)


@pytest.fixture
def mallory(ann: Browser, tmp_path: Path) -> Iterator[Client]:
    """Another member (an SDK client), admitted by a pre-authorised invite."""
    client = admitted_client(ann, group_id(ann), tmp_path / "mallory", "Mallory")
    yield client
    client.close()


def send(browser: Browser, gid: str, fields: dict[str, object]) -> object:
    return browser.post(f"/groups/{gid}/posts", fields,  # type: ignore[arg-type]
                        content_type="multipart/form-data")


def posted_id(response: object) -> str:
    location: str = response.headers["Location"]  # type: ignore[attr-defined]
    return location.split("#post-")[1]


def attachment_urls(block: str) -> list[str]:
    return re.findall(r'(/groups/[^"?]+/attachments/[\w-]+)', block)


# --- attachments -------------------------------------------------------------------------------


def test_the_apps_limits_are_the_protocols() -> None:
    assert files.MAX_ATTACHMENTS == limits.MAX_ATTACHMENTS
    assert files.MAX_ATTACHMENT_SIZE == limits.MAX_ATTACHMENT_SIZE
    assert files.MAX_MEDIA_TYPE == limits.MAX_MEDIA_TYPE


def test_only_raster_images_are_served_inline_by_their_bytes(ann: Browser,
                                                             mallory: Client) -> None:
    gid = group_id(ann)
    pid = mallory.post(gid, "files", attachments=[
        (PNG, "image/png", "kitten.png"),
        (SVG, "image/svg+xml", "drawing.svg"),
        (HTML, "text/html", "<b>letter<i>.html"),
        (SVG, "image/png", "not-really.png"),   # declared a PNG, is an SVG
    ]).post_id
    block = post_block(page(ann, ann.group_url), pid)  # type: ignore[attr-defined]
    urls = attachment_urls(block)
    assert len(set(urls)) == 4
    png_url, svg_url, html_url, fake_url = dict.fromkeys(urls)
    # the file name a member chose is their text: escaped
    assert "&lt;b&gt;letter&lt;i&gt;.html" in block and "<b>letter" not in block
    # pictures (by declared type) are <img>; the SVG and HTML only download links
    assert f'<img src="{png_url}"' in block and 'loading="lazy"' in block
    assert f'<img src="{svg_url}"' not in block and f'<img src="{html_url}"' not in block

    response = ann.client.get(png_url)
    assert response.status_code == 200 and response.data == PNG
    assert response.headers["Content-Type"] == "image/png"
    assert response.headers["Content-Disposition"].startswith("inline;")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    download = ann.client.get(png_url + "?download=1")
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert 'filename="kitten.png"' in download.headers["Content-Disposition"]

    for url, data in ((svg_url, SVG), (html_url, HTML), (fake_url, SVG)):
        response = ann.client.get(url)
        assert response.status_code == 200 and response.data == data
        assert response.headers["Content-Type"] == "application/octet-stream"
        assert response.headers["Content-Disposition"].startswith("attachment;")
        assert response.headers["X-Content-Type-Options"] == "nosniff"
    # a file name cannot carry a folder or break the header
    assert "/" not in ann.client.get(html_url).headers["Content-Disposition"].split("filename*")[0]


def test_a_picture_behind_a_warning_is_not_loaded_until_it_is_opened(
        ann: Browser, mallory: Client) -> None:
    gid = group_id(ann)
    pid = mallory.post(gid, "my scar", content_warning="self-harm",
                       attachments=[(PNG, "image/png", "scar.png")]).post_id
    block = post_block(page(ann, ann.group_url), pid)  # type: ignore[attr-defined]
    (url,) = set(attachment_urls(block))
    # inside the closed warning, only a placeholder that static/app.js fills in on opening
    details = block[block.index("<details"):block.index("</details>")]
    assert "open" not in details.split(">")[0]
    assert f'data-src="{url}"' in details
    assert "<img" not in block and f' src="{url}"' not in block
    # once the member always shows this warning, the warning is open and the picture loads
    ann.post(f"/groups/{gid}/warnings", {"post_id": pid})
    block = post_block(page(ann, ann.group_url), pid)  # type: ignore[attr-defined]
    assert f'<img src="{url}"' in block


def test_compose_with_a_picture_and_a_file(ann: Browser) -> None:
    gid = group_id(ann)
    response = send(ann, gid, {"text": "from my walk", "attachments": [
        (io.BytesIO(PNG), "walk.png", "image/png"),
        (io.BytesIO(b"notes"), "notes.txt", "text/plain")]})
    assert response.status_code == 303  # type: ignore[attr-defined]
    pid = posted_id(response)
    post = ann.device_client().get_post(gid, pid)
    assert [(a.file_name, a.media_type, a.size) for a in post.attachments] == [
        ("walk.png", "image/png", len(PNG)), ("notes.txt", "text/plain", 5)]
    block = post_block(page(ann, ann.group_url), pid)  # type: ignore[attr-defined]
    assert "from my walk" in block and "notes.txt" in block and "<img src=" in block


def test_a_file_too_large_is_refused_in_words_and_the_text_is_kept(ann: Browser) -> None:
    gid = group_id(ann)
    big = b"\0" * (files.MAX_ATTACHMENT_SIZE + 1)
    response = send(ann, gid, {"text": "please keep this", "content_warning": "grief",
                               "expires": "day",
                               "attachments": [(io.BytesIO(big), "video.mp4", "video/mp4")]})
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "is too large to send" in html and "10 MB" in html and "choose it again" in html
    assert "please keep this" in html and 'value="grief"' in html
    assert '<option value="day" selected>' in html
    assert ann.device_client().posts(gid) == []


def test_too_many_files_are_refused(ann: Browser) -> None:
    gid = group_id(ann)
    many = [(io.BytesIO(b"x"), f"{n}.txt", "text/plain")
            for n in range(files.MAX_ATTACHMENTS + 1)]
    response = send(ann, gid, {"text": "lots", "attachments": many})
    html = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 422  # type: ignore[attr-defined]
    assert "at most 16 files" in html and "lots" in html


def test_other_forms_keep_the_small_limit(ann: Browser) -> None:
    gid = group_id(ann)
    response = ann.post(f"/groups/{gid}/warnings", {"post_id": "x" * (2 * 1024 * 1024)})
    assert response.status_code == 413


# --- disappearing posts ------------------------------------------------------------------------


def test_countdown_words() -> None:
    now = 1_700_000_000_000
    assert countdown(now + (2 * 3600 + 15 * 60 + 30) * 1000, now) == "disappears in 2 h 15 min"
    assert countdown(now + (26 * 3600) * 1000, now) == "disappears in 1 d 2 h"
    assert countdown(now + 5 * 60 * 1000, now) == "disappears in 5 min"
    assert countdown(now + 20 * 1000, now) == "disappears in less than a minute"


def test_a_disappearing_post_counts_down_and_then_is_gone(ann: Browser) -> None:
    gid = group_id(ann)
    response = send(ann, gid, {"text": "gone in an hour", "expires": "hour"})
    pid = posted_id(response)
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    block = post_block(html, pid)
    expires = ann.device_client().get_post(gid, pid).expires_at_ms
    assert expires is not None
    assert f'data-expires-at="{expires}"' in block
    assert re.search(r"disappears in (59 min|1 h 0 min)", block)
    # the page gives static/app.js the sentences to count down with
    assert 'data-countdown-hours="disappears in {h} h {m} min"' in html
    # an hour later (this device's clock), the SDK no longer shows it, nor its files
    device = ann.device_client()._device
    real_clock = device._clock
    device._clock = lambda: real_clock() + 3600 * 1000 + 1000
    try:
        html = page(ann, ann.group_url)  # type: ignore[attr-defined]
        assert "gone in an hour" not in html and f'id="post-{pid}"' not in html
    finally:
        device._clock = real_clock


def test_expiry_choices_the_sdk_accepts(ann: Browser) -> None:
    gid = group_id(ann)
    for choice, seconds in (("day", 86400), ("week", 7 * 86400), ("never", None)):
        pid = posted_id(send(ann, gid, {"text": choice, "expires": choice}))
        post = ann.device_client().get_post(gid, pid)
        if seconds is None:
            assert post.expires_at_ms is None
        else:
            assert post.expires_at_ms is not None
            assert abs(post.expires_at_ms - post.created_at_ms - seconds * 1000) < 5000


# --- content warnings a member always wants open ----------------------------------------------


def test_always_show_a_warning_in_this_group_and_undo(ann: Browser, mallory: Client,
                                                      tmp_path: Path) -> None:
    gid = group_id(ann)
    first = mallory.post(gid, "missing her", content_warning="grief").post_id
    second = mallory.post(gid, "a year today", content_warning="  Grief ").post_id
    other = mallory.post(gid, "the hospital", content_warning="illness").post_id

    def opened(html: str, pid: str) -> bool:
        tag = post_block(html, pid).split("<details", 1)[1].split(">", 1)[0]
        return " open" in tag

    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert not any(opened(html, p) for p in (first, second, other))
    assert "Always show posts with this warning in this group" in post_block(html, first)

    response = ann.post(f"/groups/{gid}/warnings", {"post_id": first})
    assert response.status_code == 303
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert opened(html, first) and opened(html, second) and not opened(html, other)
    assert "Warnings you always see in this group" in html
    # kept on this device only, in the app's own owner-only file
    saved = tmp_path / "ann" / "app-warnings.json"
    assert json.loads(saved.read_text())["groups"] == {gid: ["grief"]}
    assert stat.S_IMODE(os.stat(saved).st_mode) == 0o600

    # a new launch on the same device remembers it
    again = open_browser(make_settings(tmp_path / "ann", ann.settings.relay_url))
    try:
        assert again.app.extensions["vault_shown_warnings"].for_group(gid) == ["grief"]
    finally:
        shut(again)

    assert ann.post(f"/groups/{gid}/warnings/remove", {"position": "0"}).status_code == 303
    html = page(ann, ann.group_url)  # type: ignore[attr-defined]
    assert not opened(html, first) and "Warnings you always see" not in html


def test_a_warning_cannot_be_saved_from_made_up_text(ann: Browser, mallory: Client) -> None:
    gid = group_id(ann)
    mallory.post(gid, "plain")
    ann.post(f"/groups/{gid}/warnings", {"post_id": "nonsense", "warning": "anything"})
    assert ann.app.extensions["vault_shown_warnings"].for_group(gid) == []


# --- moderators delete others' posts -----------------------------------------------------------


def test_a_moderator_deletes_another_members_post_a_member_cannot(
        relay: RelayProcess, ann: Browser, tmp_path: Path) -> None:
    gid = group_id(ann)
    invite = ann.device_client().create_invite(gid, require_approval=False)
    bob = new_member(relay, tmp_path / "bob", "Bob")
    try:
        bob.device_client().join(invite.uri, display_name="Bob")
        ann.device_client().sync(gid)
        bob.device_client().sync(gid)
        bobs = posted_id(send(bob, gid, {"text": "spam spam"}))
        anns = posted_id(send(ann, gid, {"text": "welcome, everyone"}))

        # Bob, a member: no delete link on Ann's post, and a forged delete is refused
        block = post_block(page(bob, f"/groups/{gid}"), anns)
        assert "/delete" not in block
        response = bob.post(f"/groups/{gid}/posts/{anns}/delete")
        assert response.status_code == 422
        assert "Nothing was changed." in response.get_data(as_text=True)
        assert "welcome, everyone" in page(ann, ann.group_url)  # type: ignore[attr-defined]

        # Ann, the owner (a moderator and more): a delete link, the same confirm page
        block = post_block(page(ann, ann.group_url), bobs)  # type: ignore[attr-defined]
        assert f"/groups/{gid}/posts/{bobs}/delete" in block
        confirm = page(ann, f"/groups/{gid}/posts/{bobs}/delete")
        assert "Delete this post?" in confirm and "Bob" in confirm and "spam spam" in confirm
        assert ann.post(f"/groups/{gid}/posts/{bobs}/delete").status_code == 303
        block = post_block(page(ann, ann.group_url), bobs)  # type: ignore[attr-defined]
        assert "This post was deleted." in block and "spam spam" not in block
    finally:
        shut(bob)


# --- pages open while the relay is down --------------------------------------------------------


@pytest.fixture
def own_relay(tmp_path: Path) -> Iterator[RelayProcess]:
    """A relay of this test's own, to stop and start again."""
    process = RelayProcess(tmp_path / "relay-data")
    yield process
    process.stop()


def test_pages_open_from_this_computer_while_the_relay_is_down(
        own_relay: RelayProcess, tmp_path: Path) -> None:
    # A long retry: if a page waited for the relay, this test would take minutes.
    ann = open_browser(make_settings(tmp_path / "ann", own_relay.url, retry_for=120.0))
    ann.get("/welcome")
    ann.post("/welcome", {"passphrase": PASSPHRASE, "confirm": PASSPHRASE})
    other = None
    try:
        gid = create_group(ann, own_relay.url)
        invite = ann.device_client().create_invite(gid, require_approval=False)
        other = Client(PASSPHRASE, home=tmp_path / "other", retry_for=5)
        other.join(invite.uri, display_name="Other")
        ann.device_client().sync(gid)
        other.sync(gid)
        other.post(gid, "before the outage")
        assert "before the outage" in page(ann, f"/groups/{gid}")
        refresher: Refresher = ann.app.extensions["vault_refresher"]

        own_relay.stop()
        started = time.monotonic()
        html = page(ann, f"/groups/{gid}")
        assert "before the outage" in html
        assert "Showing what is on this computer" in html
        html = page(ann, "/")
        assert "Tuesday circle" in html and "Showing what is on this computer" in html
        fragment = page(ann, "/groups/list")
        assert 'id="group-list"' in fragment and "Showing what is on this computer" in fragment
        assert time.monotonic() - started < 60  # far less than one retry_for

        own_relay.start()
        other.post(gid, "after the outage")
        assert refresher.settle(150)  # the background syncs gave up or got through
        html = page(ann, "/")
        assert "Showing what is on this computer" not in html and "1 new post" in html
        html = page(ann, f"/groups/{gid}")
        assert "after the outage" in html and "Showing what is on this computer" not in html
    finally:
        if other is not None:
            other.close()
        shut(ann)
