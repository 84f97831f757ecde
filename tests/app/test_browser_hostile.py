"""Another member's posts are untrusted input (issue 11, "Hostile content"), checked where it
matters, in real Chromium: HTML and script, a markdown link to javascript:, an address, bidi
overrides and zero-width characters, one word as long as the protocol allows, and 500
reactions on one post, all made through the SDK by a hostile member, must be inert, readable
text on Alice's page (her own ``vault app`` process, against a real relay process): no dialog
opens, no element is made from them, nothing sticks out of the page, and the page logs no
script error or Content-Security-Policy violation.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Dialog, Page, expect
from vault_client import Client

from tests.app.appproc import AppProcess
from tests.app.screens import WIDE, ZOOMED, Screens, sideways_overflow
from tests.relayproc import RelayProcess
from vault.crypto.limits import MAX_REACTION, MAX_TEXT

PASSPHRASE = "lantern orchard violet meadow ninety"
REACTIONS = 500
HOSTILE = {
    "script": "<script>alert(1)</script>",
    "img": "<img src=x onerror=alert(1)>",
    "markdown": "[click](javascript:alert(1))",
    "address": "https://example.com/a?b=c",
    "bidi": "invoice \u202egnp.exe\u202c done",
    "zero-width": "zero\u200bwidth\u200cjoiner\u200dmark\ufeffend",
}


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path_factory.mktemp("relay") / "data")
    yield process
    process.stop()


def hostile_group(relay: RelayProcess, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """Alice's group (her home, made with the SDK), and Mallory's posts in it: post ids by
    name."""
    alice = Client(PASSPHRASE, home=tmp_path / "alice", relay_url=relay.url)
    mallory = Client(PASSPHRASE + " mallory", home=tmp_path / "mallory")
    try:
        gid = alice.create_group("Tuesday circle", display_name="Alice").group_id
        invite = alice.create_invite(gid, require_approval=False)
        mallory.join(invite.uri, display_name="<b onmouseover=alert(1)>Mal</b>")
        alice.sync(gid)  # Alice's device hands over the key
        mallory.sync(gid)
        ids = {name: mallory.post(gid, text).post_id for name, text in HOSTILE.items()}
        ids["word"] = mallory.post(gid, "W" * MAX_TEXT).post_id  # the protocol's largest post
        ids["reacted"] = mallory.post(gid, "Five hundred reactions below.").post_id
        for i in range(REACTIONS):
            reaction = f"<i>{i}</i>" if i % 2 else f"\u202e{i}"
            assert len(reaction.encode()) <= MAX_REACTION
            mallory.react(gid, ids["reacted"], reaction)
        alice.sync(gid)
        return gid, ids
    finally:
        mallory.close()
        alice.close()


def no_horizontal_scroll(page: Page) -> None:
    for size in (WIDE, ZOOMED):
        page.set_viewport_size(size)
        assert sideways_overflow(page) <= 1, (size, sideways_overflow(page))
    page.set_viewport_size(WIDE)


@pytest.mark.slow
def test_hostile_posts_are_inert_readable_text(chrome: Browser, relay: RelayProcess,
                                               tmp_path: Path) -> None:
    gid, ids = hostile_group(relay, tmp_path)
    app = AppProcess(tmp_path / "alice", relay.url)
    open_url = app.start()
    context = chrome.new_context(viewport=WIDE)
    context.set_default_timeout(20_000)
    screens = Screens()
    dialogs: list[str] = []
    try:
        page = screens.watch(context.new_page(), "alice")

        def on_dialog(dialog: Dialog) -> None:
            dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.goto(open_url)
        page.get_by_label("Your passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock").click()
        page.goto(f"{app.base_url}/groups/{gid}")
        expect(page.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()
        feed = page.locator("#feed")
        expect(feed.get_by_role("article")).to_have_count(len(ids))

        def body(name: str) -> str:
            return page.locator(f"#post-{ids[name]} .body").inner_text()

        # Shown as typed, as text.
        assert body("script") == HOSTILE["script"]
        assert body("img") == HOSTILE["img"]
        assert body("markdown") == HOSTILE["markdown"]
        assert body("address") == HOSTILE["address"]  # the whole address
        expect(feed.get_by_text("<b onmouseover=alert(1)>Mal</b>").first).to_be_visible()
        # The bidi override is a visible mark, and the text around it reads in order.
        bidi = page.locator(f"#post-{ids['bidi']} .body")
        expect(bidi.locator(".control-char")).to_have_count(2)
        assert "\u202e" not in bidi.inner_text() and "[U+202E]" in bidi.inner_text()
        assert bidi.inner_text().startswith("invoice ") and "gnp.exe" in bidi.inner_text()
        zero = body("zero-width")
        assert zero.replace("\u200b", "").replace("\u200c", "").replace("\u200d", "") \
            .replace("\ufeff", "") == "zerowidthjoinermarkend"

        # No element was made from any of it.
        for selector in ("script", "img", "iframe", "object", "embed", "b", "i",
                         "[onerror]", "[onmouseover]", "[onclick]", "[src='x']"):
            assert feed.locator(selector).count() == 0, selector
        assert feed.locator(".member-text a, .body a").count() == 0
        for link in feed.locator("a[href]").all():  # the app's own links only
            href = link.get_attribute("href") or ""
            assert href.startswith(("/", "#")), href
            assert "javascript" not in href.lower() and "example.com" not in href
        external = page.locator("a[href^='http']")
        for link in external.all():  # were an address ever made a link: never a leak
            rel = (link.get_attribute("rel") or "").split()
            assert {"noopener", "noreferrer"} <= set(rel), link.get_attribute("href")

        # The 32 KiB word wraps inside its post; 500 reactions stay inside theirs.
        word = page.locator(f"#post-{ids['word']}")
        expect(word.locator(".body")).to_have_text("W" * MAX_TEXT)
        for post in (word, word.locator(".body"), page.locator(f"#post-{ids['reacted']}")):
            width = post.evaluate("el => [el.scrollWidth, el.clientWidth]")
            assert width[0] <= width[1] + 1, width
        reactions = page.locator(f"#post-{ids['reacted']}").get_by_role("list", name="Reactions")
        expect(reactions.get_by_role("listitem")).to_have_count(REACTIONS)
        expect(reactions.get_by_text("<i>1</i>", exact=True)).to_be_visible()
        no_horizontal_scroll(page)

        # Opening everything that can be opened still runs nothing.
        for summary in feed.locator("summary").all()[:5]:
            summary.click()
        page.mouse.move(10, 10)
        feed.get_by_text("<b onmouseover=alert(1)>Mal</b>").first.hover()
        screens.check(page, "feed-hostile", full_page=False)
        assert dialogs == []
    finally:
        context.close()
        app.stop()
    screens.assert_clean()  # axe, 200% zoom, and no script error or CSP violation
