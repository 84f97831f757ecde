"""Inviting, joining and the admin screens (views/invites.py, views/admin.py), through the
app's pages under Flask's test client, several members each on their own device, against a
real relay process (tests/client/conftest.py).

Each person is a separate app (their own home and keystore) and browser session; setting
things up goes through the pages too, except where noted (white box)."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from tests.app.conftest import PASSPHRASE, Browser, make_settings, open_browser
from tests.relayproc import RelayProcess

Person = Callable[[str], Browser]

_LINK = re.compile(r'id="invite-link"[^>]*value="([^"]+)"')
_NUMBER = re.compile(r'<ol class="safety-number"[^>]*>(.*?)</ol>', re.S)
_DIGITS = re.compile(r"<li>(\d{5})</li>")
_EXCEPTION_NAME = re.compile(r"\b[A-Z][a-zA-Z]+Error\b")


@pytest.fixture
def person(relay: RelayProcess, tmp_path: Path) -> Iterator[Person]:
    """Makes a person: a new device (keystore created through the welcome page), unlocked,
    with the test relay as the one new groups go to."""
    made: list[Browser] = []

    def make(name: str) -> Browser:
        browser = open_browser(make_settings(tmp_path / name, relay.url))
        made.append(browser)
        browser.get("/welcome")
        response = browser.post("/welcome", {"passphrase": PASSPHRASE, "confirm": PASSPHRASE})
        assert response.status_code == 303, response.get_data(as_text=True)
        browser.get("/")
        return browser

    yield make
    for browser in made:
        browser.app.extensions["vault_device"].shutdown()


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


def plain(page: str) -> None:
    """No exception's name reaches a page."""
    assert not _EXCEPTION_NAME.search(page), _EXCEPTION_NAME.search(page)


def numbers(page: str) -> list[list[str]]:
    """The safety numbers on a page, each as its groups of five digits."""
    return [_DIGITS.findall(block) for block in _NUMBER.findall(page)]


def create_group(owner: Browser, name: str = "Tuesday circle") -> str:
    response = owner.post("/groups/new", {"name": name, "display_name": "Ann",
                                          "relay": owner.settings.relay_url or ""})
    assert response.status_code == 303, text(response)
    return response.headers["Location"].rstrip("/").rsplit("/", 1)[-1]


def make_invite(admin: Browser, group_id: str, **options: str) -> tuple[str, str]:
    """Through the invite form; returns (invite page path, invite link)."""
    form = {"max_uses": "3", "expires": "7d", "approval": "on", "history": "current",
            **options}
    if not form["approval"]:
        del form["approval"]
    response = admin.post(f"/groups/{group_id}/invites", form)
    assert response.status_code == 303, text(response)
    location = response.headers["Location"]
    page = text(admin.get(location))
    found = _LINK.search(page)
    assert found, page
    return location, html.unescape(found.group(1))


def join_with_link(joiner: Browser, link: str, name: str) -> str:
    """Paste the link, read what the invite shows, accept the rules if any, ask to join."""
    response = joiner.post("/join", {"link": link, "display_name": name})
    assert response.status_code == 200, text(response)
    return ask_from_preview(joiner, text(response))


def ask_from_preview(joiner: Browser, page: str, *, accept: bool = True) -> str:
    """Press "Ask to join" on the page "Before you join" (its hidden fields as sent)."""
    assert "Before you join" in page, page
    form = {name: html.unescape(value) for name, value in
            re.findall(r'<input type="hidden" name="(link|display_name|rules_id)" '
                       r'value="([^"]*)">', page)}
    if accept and "rules_id" in form:
        form["accept"] = "yes"
    response = joiner.post("/join/ask", form)
    assert response.status_code == 303, text(response)
    return response.headers["Location"]


def member_id(browser: Browser, group_id: str, label: str) -> str:
    """White box: a member's id, as the admin's device knows them."""
    members = browser.device_client().members(group_id)
    return next(m.member_id for m in members if m.label == label)


def post(browser: Browser, group_id: str, words: str) -> None:
    response = browser.post(f"/groups/{group_id}/posts", {"text": words})
    assert response.status_code == 303, text(response)


def admitted(admin: Browser, joiner: Browser, group_id: str, name: str) -> None:
    """joiner asks with a fresh invite; admin lets them in (through the pages)."""
    _, link = make_invite(admin, group_id)
    join_with_link(joiner, link, name)
    page = text(admin.get(f"/groups/{group_id}/requests"))
    joiner_id = re.search(rf"/groups/{group_id}/requests/([\w-]+)/approve", page)
    assert joiner_id, page
    response = admin.post(f"/groups/{group_id}/requests/{joiner_id.group(1)}/approve",
                          {"role": "member"})
    assert response.status_code == 303
    assert "They are in" in text(admin.get(f"/groups/{group_id}/requests"))
    assert "You are in" in text(joiner.get(f"/join/{group_id}"))
    joiner.get(f"/groups/{group_id}")  # its sync sets the name they chose...
    admin.get(f"/groups/{group_id}")   # ...which the admin's sync then reads


# --- the invite -------------------------------------------------------------------------------


def test_invite_qr_decodes_to_the_link_and_a_photo_of_it_joins_after_approval(
        person: Person) -> None:
    ann, ben = person("ann"), person("ben")
    gid = create_group(ann)
    post(ann, gid, "Welcome, everyone. Tea at eight.")
    location, link = make_invite(ann, gid)

    page = text(ann.get(location))
    assert "Anyone who has this link or a picture of this QR code can ask to join" in page
    assert 'readonly' in page and 'data-copy="invite-link"' in page
    assert "<script>" not in page  # static JS only (the CSP forbids inline script)

    svg = ann.get(f"{location}/qr.svg")
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    assert b"<svg" in svg.get_data() and b"<script" not in svg.get_data()
    png = ann.client.get(f"{location}/qr.png")  # binary: not through Browser.get
    assert png.status_code == 200 and png.mimetype == "image/png"
    assert png.headers["Content-Disposition"].startswith("attachment")
    decoded = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.get_data())).convert("RGB"),
                                     formats=zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode))
    assert [code.text for code in decoded] == [link]

    # Ben uploads the PNG (as a photo or screenshot would be) and picks his name.
    response = ben.post("/join", {"display_name": "Ben",
                                  "image": (io.BytesIO(png.get_data()), "photo.png")},
                        content_type="multipart/form-data")
    assert response.status_code == 200, text(response)
    assert "Tuesday circle" in text(response)  # the invite's card, read from the picture
    assert ask_from_preview(ben, text(response)) == f"/join/{gid}"
    waiting = text(ben.get(f"/join/{gid}"))
    plain(waiting)
    assert "Your request was sent" in waiting and "read this safety number" in waiting
    ben_numbers = numbers(waiting)
    assert ben_numbers and len(ben_numbers[0]) == 12

    # Ann sees the request with the same number, and the plain question beside it.
    requests_page = text(ann.get(f"/groups/{gid}/requests"))
    assert "Do the numbers match?" in requests_page
    assert "Yes, let them in" in requests_page and "No — turn them away" in requests_page
    assert numbers(requests_page) == [ben_numbers[0]]
    joiner = re.search(rf"/groups/{gid}/requests/([\w-]+)/approve", requests_page)
    assert joiner
    response = ann.post(f"/groups/{gid}/requests/{joiner.group(1)}/approve", {"role": "member"})
    assert response.status_code == 303
    after = text(ann.get(f"/groups/{gid}/requests"))
    assert "They are in" in after and "Nobody is waiting to join" in after

    assert "You are in" in text(ben.get(f"/join/{gid}"))
    group_page = text(ben.get(f"/groups/{gid}"))
    assert "Welcome, everyone. Tea at eight." in group_page  # "current" history: he reads it
    members_page = text(ann.get(f"/groups/{gid}/members"))
    assert "Ben" in members_page and "Member" in members_page


def test_an_invite_is_shown_only_to_the_session_that_made_it(person: Person) -> None:
    ann = person("ann")
    gid = create_group(ann)
    location, _link = make_invite(ann, gid)
    other = ann.app.test_client()  # another browser session on Ann's app
    other.get(f"/open?key={ann.settings.launch_token}")
    page = other.get(location).get_data(as_text=True)
    assert "This invite can no longer be shown" in page and "/join#" not in page
    assert other.get(f"{location}/qr.png").status_code == 404  # (a page, not the image)
    assert other.get(f"{location}/qr.svg").status_code == 404


def test_join_by_pasting_the_link_and_being_turned_away(person: Person) -> None:
    ann, cat = person("ann"), person("cat")
    gid = create_group(ann)
    _, link = make_invite(ann, gid)
    assert join_with_link(cat, link, "Cat") == f"/join/{gid}"
    cat_numbers = numbers(text(cat.get(f"/join/{gid}")))

    page = text(ann.get(f"/groups/{gid}/requests"))
    assert numbers(page) == [cat_numbers[0]]
    joiner = re.search(rf"/groups/{gid}/requests/([\w-]+)/deny", page)
    assert joiner
    response = ann.post(f"/groups/{gid}/requests/{joiner.group(1)}/deny")
    assert response.status_code == 303
    assert "The request was turned away" in text(ann.get(f"/groups/{gid}/requests"))

    answer = text(cat.get(f"/join/{gid}"))
    assert "Your request was not accepted" in answer
    plain(answer)


def test_the_join_page_offers_three_ways_and_says_what_is_missing(person: Person) -> None:
    dan = person("dan")
    page = text(dan.get("/join"))
    assert 'enctype="multipart/form-data"' in page
    assert 'name="csrf_token"' in page
    assert 'name="link"' in page and 'type="file"' in page and 'id="camera-start"' in page
    assert "vendor/jsQR-1.4.0.js" in page and "<script>" not in page
    assert "The name the group will see" in page
    # Nothing given: said plainly, nothing done.
    response = dan.post("/join", {"link": "", "display_name": "Dan"})
    assert response.status_code == 422
    assert "There is no invite to use yet" in text(response)
    # Not a QR code at all.
    response = dan.post("/join", {"display_name": "Dan",
                                  "image": (io.BytesIO(b"not a picture"), "x.png")},
                        content_type="multipart/form-data")
    assert response.status_code == 422
    assert "could not be read as an image" in text(response)
    plain(text(response))
    # A photo bigger than the app takes.
    big = io.BytesIO(b"\xff" * (dan.app.config["MAX_CONTENT_LENGTH"] + 1))
    response = dan.post("/join", {"display_name": "Dan", "image": (big, "huge.jpg")},
                        content_type="multipart/form-data")
    assert response.status_code == 413
    assert "That picture is too large" in text(response)
    # Not an invite.
    response = dan.post("/join", {"link": "https://example.org/hello", "display_name": "Dan"})
    assert response.status_code == 422
    plain(text(response))
    assert dan.device_client().groups() == []


def test_a_revoked_invite_is_refused_plainly(person: Person) -> None:
    ann, eve = person("ann"), person("eve")
    gid = create_group(ann)
    location, link = make_invite(ann, gid)
    invite_id = location.rstrip("/").rsplit("/", 1)[-1]
    assert f"/invites/{invite_id}/revoke" in text(ann.get(f"/groups/{gid}/invites"))
    response = ann.post(f"/groups/{gid}/invites/{invite_id}/revoke")
    assert response.status_code == 303
    page = text(ann.get(f"/groups/{gid}/invites"))
    assert "The invite was revoked" in page
    assert f"/invites/{invite_id}/revoke" not in page and "revoked" in page

    response = eve.post("/join", {"link": link, "display_name": "Eve"})
    assert response.status_code == 422
    page = text(response)
    assert "This invite was revoked" in page
    assert "Ask the person who invited you for a new invite." in page
    plain(page)
    assert eve.device_client().groups() == []


# --- members and roles ------------------------------------------------------------------------


def test_a_members_approval_is_refused_plainly_and_changes_nothing(person: Person) -> None:
    ann, ben, cat = person("ann"), person("ben"), person("cat")
    gid = create_group(ann)
    admitted(ann, ben, gid, "Ben")
    _, link = make_invite(ann, gid)
    join_with_link(cat, link, "Cat")
    cat_request = re.search(rf"/groups/{gid}/requests/([\w-]+)/approve",
                            text(ann.get(f"/groups/{gid}/requests")))
    assert cat_request

    # Ben is a member: no admin controls on his pages...
    members_page = text(ben.get(f"/groups/{gid}/members"))
    assert "Change role" not in members_page and "Remove from the group" not in members_page
    assert "Requests to join" not in members_page
    # ...and when he sends the approval anyway, the SDK refuses it, in words.
    response = ben.post(f"/groups/{gid}/requests/{cat_request.group(1)}/approve",
                        {"role": "member"})
    assert response.status_code == 303
    page = text(ben.get(response.headers["Location"]))
    assert "Only admins can see and answer requests to join." in page
    assert "Nothing was changed." in page
    plain(page)

    still = text(ann.get(f"/groups/{gid}/requests"))
    assert f"/requests/{cat_request.group(1)}/approve" in still  # Cat still waits
    assert text(cat.get(f"/join/{gid}")).count("Your request was sent") == 1


def test_remove_a_member(person: Person) -> None:
    ann, ben = person("ann"), person("ben")
    gid = create_group(ann)
    admitted(ann, ben, gid, "Ben")
    ben_id = member_id(ann, gid, "Ben")

    confirm = text(ann.get(f"/groups/{gid}/members/{ben_id}/remove"))
    assert "Yes, remove them" in confirm
    response = ann.post(f"/groups/{gid}/members/{ben_id}/remove")
    assert response.status_code == 303
    page = text(ann.get(response.headers["Location"]))
    assert "Ben was removed from the group." in page
    assert f"member-{ben_id}" not in page

    post(ann, gid, "Only for those still here.")
    bens_page = text(ben.get(f"/groups/{gid}"))
    assert "Only for those still here." not in bens_page
    assert "no longer a member" in bens_page


def test_remove_a_member_and_cancel_open_invites(person: Person) -> None:
    ann, ben = person("ann"), person("ben")
    gid = create_group(ann)
    admitted(ann, ben, gid, "Ben")
    ben_id = member_id(ann, gid, "Ben")
    client = ann.device_client()
    client.create_invite(gid, max_uses=3)  # a QR code Ben may have kept
    open_before = [i.invite_id for i in client.invites(gid) if i.usable]
    assert open_before

    confirm = ann.get(f"/groups/{gid}/members/{ben_id}/remove").get_data(as_text=True)
    assert re.search(r'<input type="checkbox" name="revoke_invites" value="1" checked', confirm)
    response = ann.post(f"/groups/{gid}/members/{ben_id}/remove", {"revoke_invites": "1"})
    assert response.status_code == 303
    page = text(ann.get(response.headers["Location"]))
    assert "Ben was removed from the group." in page
    cancelled = len(open_before)
    assert (f"{cancelled} open invite was cancelled." if cancelled == 1
            else f"{cancelled} open invites were cancelled.") in page
    assert not any(i.usable for i in client.invites(gid))


def test_roles_a_moderator_deletes_anothers_post_a_member_cannot(person: Person) -> None:
    ann, ben = person("ann"), person("ben")
    gid = create_group(ann)
    admitted(ann, ben, gid, "Ben")
    post(ann, gid, "A post to moderate.")
    ben.get(f"/groups/{gid}")
    post_id = ann.device_client().posts(gid)[-1].post_id
    ben_id = member_id(ann, gid, "Ben")

    # As a member, Ben is refused (the SDK's words), and the post stays.
    response = ben.post(f"/groups/{gid}/moderate/{post_id}")
    assert response.status_code == 422
    plain(text(response))
    assert "Nothing was changed." in text(response)
    assert "A post to moderate." in text(ann.get(f"/groups/{gid}"))

    # Ann makes him a moderator; now he can.
    response = ann.post(f"/groups/{gid}/members/{ben_id}/role", {"role": "moderator"})
    assert response.status_code == 303
    assert "Ben is now moderator." in text(ann.get(f"/groups/{gid}/members"))
    assert "Moderate posts" in text(ben.get(f"/groups/{gid}/moderate"))
    response = ben.post(f"/groups/{gid}/moderate/{post_id}")
    assert response.status_code == 303, text(response)
    assert "The post was deleted for everyone" in text(ben.get(response.headers["Location"]))
    assert "A post to moderate." not in text(ann.get(f"/groups/{gid}"))


def test_settings_name_history_safety_number_and_leave(person: Person) -> None:
    ann, ben = person("ann"), person("ben")
    gid = create_group(ann)
    admitted(ann, ben, gid, "Ben")

    response = ann.post(f"/groups/{gid}/settings/about",
                        {"name": "Thursday circle", "description": "d", "rules": "Be kind."})
    assert response.status_code == 303
    assert "Thursday circle" in text(ann.get(f"/groups/{gid}/settings"))
    response = ann.post(f"/groups/{gid}/settings/history", {"history": "all"})
    assert response.status_code == 303
    assert ann.device_client().group(gid).history_policy == "all"
    assert "Saved for the group" in text(ann.get(response.headers["Location"]))
    # The group's setting: Ben's device reads it from the log.
    ben.device_client().sync(gid)
    assert ben.device_client().group(gid).history_policy == "all"
    refused = ben.post(f"/groups/{gid}/settings/history", {"history": "none"})
    assert refused.status_code == 422 and "Only admins set what new members may read" in text(
        refused)

    # Ben is not an admin: the SDK refuses, with its reason.
    response = ben.post(f"/groups/{gid}/settings/about", {"name": "Mine now"})
    assert response.status_code == 422
    assert "Only admins can change the group" in text(response)
    plain(text(response))

    response = ben.post(f"/groups/{gid}/settings/name", {"display_name": "Benjamin"})
    assert response.status_code == 303
    ann.get(f"/groups/{gid}")
    ben_id = member_id(ann, gid, "Benjamin")

    # Both see the same safety number for each other.
    anns = numbers(text(ann.get(f"/groups/{gid}/members/{ben_id}/safety-number")))
    ann_id = member_id(ben, gid, "Ann")
    bens = numbers(text(ben.get(f"/groups/{gid}/members/{ann_id}/safety-number")))
    assert anns[0] == bens[0] and len(anns[0]) == 12

    # The only owner cannot just leave: the page asks who takes over.
    assert "only owner" in text(ann.get(f"/groups/{gid}/leave"))
    response = ben.post(f"/groups/{gid}/leave")
    assert response.status_code == 303
    assert "You left the group." in text(ben.get(response.headers["Location"]))
    assert all(g.group_id != gid for g in ben.device_client().groups())


# --- the camera, in real Chromium ------------------------------------------------------------


def y4m_showing(png: bytes, path: Path) -> Path:
    """A short video (Chromium's fake camera reads .y4m) of a white page with the QR code."""
    code = Image.open(io.BytesIO(png)).convert("L").resize((400, 400))
    frame = Image.new("L", (640, 480), 255)
    frame.paste(code, (120, 40))
    y, cb, cr = frame.convert("RGB").convert("YCbCr").split()
    planes = y.tobytes() + cb.resize((320, 240)).tobytes() + cr.resize((320, 240)).tobytes()
    path.write_bytes(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n"
                     + b"".join(b"FRAME\n" + planes for _ in range(5)))
    return path


def test_the_camera_reads_the_qr_code_in_the_page(relay: RelayProcess, tmp_path: Path) -> None:
    """Chromium's fake camera shows the invite's QR code: the page's jsQR reads it into the
    link box (no request carries it until the person presses "Ask to join"), and the join
    goes through."""
    from playwright.sync_api import sync_playwright
    from vault_client import Client

    from tests.app.appproc import AppProcess
    from tests.browser import ARGS, CHROMIUM, MISSING

    if not CHROMIUM.is_file():
        pytest.skip(MISSING)
    with Client(PASSPHRASE, home=tmp_path / "owner", relay_url=relay.url) as owner:
        invite = owner.create_invite(owner.create_group("Camera circle", display_name="Ann"))
        video = y4m_showing(bytes(invite.render_qr("png")), tmp_path / "qr.y4m")
    camera = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
              f"--use-file-for-fake-video-capture={video}"]
    with AppProcess(tmp_path / "ben", relay.url) as app, sync_playwright() as playwright:
        open_url = app.start()
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=ARGS + camera)
        try:
            page = browser.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))
            sent: list[str] = []
            page.on("request", lambda r: sent.append(r.url + (r.post_data or "")))
            page.goto(open_url)
            page.fill("#passphrase", PASSPHRASE)
            page.fill("#confirm", PASSPHRASE)
            page.click("button[type=submit]")
            page.goto(f"{app.base_url}/join")
            assert page.is_visible("#camera-start") and not page.is_visible("#camera-stop")
            page.click("#camera-start")
            page.locator("#camera-status").filter(has_text="The invite was read").wait_for()
            assert page.input_value("#link") == invite.uri
            assert not page.is_visible("#camera-video")  # the camera is off again
            secret = invite.uri.rsplit(".", 1)[-1]
            assert not any(secret in s for s in sent)  # nothing left the page yet
            page.fill("#display_name", "Ben")
            page.click("#join-form button[type=submit]")
            page.get_by_role("heading", name="Before you join").wait_for()  # no rules here
            page.get_by_role("button", name="Ask to join").click()
            page.get_by_role("heading", name="Your request was sent").wait_for()
            assert errors == []
        finally:
            browser.close()
