"""Three people use Vault the way members do (issue 11, "Evidence"): real Chromium, three
browser contexts, each with their own ``vault app`` process and home, one real relay process
(SQLite) on 127.0.0.1.

Alice creates her Vault and a group and makes an invite; the QR code is read back from her
screen with zxing-cpp. Bob joins by uploading that screen capture, Carol by pasting the link
(with the keyboard alone); Alice compares safety numbers and lets each in. Alice posts with a
content warning and a picture, which arrive on Bob's open page without a reload, hidden
until he shows them; Bob replies, Carol reacts. Alice removes Carol, whose page then says so
and shows nothing new. Alice locks and unlocks. Bob erases everything. A browser without the
session cookie is refused, and the invite's secret is in none of the relay's output.

Every screen is checked on the way (tests/app/screens.py: axe-core, 200% zoom, console), and
photographed into docs/screenshots/ with VAULT_SCREENSHOTS=1.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from vault_client import has_keystore

from tests.app.appproc import AppProcess
from tests.app.screens import WIDE, Screens
from tests.relayproc import RelayProcess
from vault.crypto.encoding import b64encode
from vault.crypto.invites import parse_invite_uri

PASSPHRASES = {
    "alice": "lantern orchard violet meadow ninety",
    "bob": "copper kettle whistles under snowfall",
    "carol": "quiet harbour gulls at seven bells",
}
TIMEOUT_MS = 20_000
LIVE_MS = 10_000
"""A post reaches another member's open page in well under a second (the relay is polled
every 100 ms here); 10 s is plenty on a loaded machine."""
NO_LONGER = "You are no longer a member of this group"
SAFETY_NUMBER = re.compile(r"^\d{5}( \d{5})+$")
# (QR codes only: a scan for every format once "found" an ITF code in a QR code's rows)
QR_ONLY = zxingcpp.BarcodeFormats(zxingcpp.BarcodeFormat.QRCode)


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    """SQLite, one process; INFO, so the access log would show a request carrying the secret."""
    process = RelayProcess(tmp_path_factory.mktemp("relay") / "data", log_level="INFO")
    yield process
    process.stop()


@dataclass
class Member:
    name: str
    app: AppProcess
    context: BrowserContext
    page: Page


def open_member(name: str, browser: Browser, relay: RelayProcess, tmp_path: Path,
                screens: Screens) -> Member:
    app = AppProcess(tmp_path / name, relay.url)
    open_url = app.start()
    context = browser.new_context(viewport=WIDE, accept_downloads=True, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = screens.watch(context.new_page(), name)
    page.goto(open_url)
    return Member(name, app, context, page)


def first_run(member: Member, screens: Screens | None = None) -> None:
    """Create this computer's Vault under a strong passphrase (the strength is shown)."""
    page = member.page
    expect(page.get_by_role("heading", name="Welcome to Vault")).to_be_visible()
    passphrase = PASSPHRASES[member.name]
    page.get_by_label("New passphrase").fill(passphrase)
    expect(page.get_by_text("Strong enough.")).to_be_visible()
    page.get_by_label("The same passphrase again").fill(passphrase)
    if screens is not None:
        screens.check(page, "welcome")
    page.get_by_role("button", name="Create my Vault").click()
    expect(page.get_by_role("heading", name="Your groups")).to_be_visible()


def digits(locator: Locator) -> str:
    """A safety number as shown (groups of five digits, one per list item)."""
    text = " ".join(locator.inner_text().split())
    assert SAFETY_NUMBER.match(text), text
    return text


def read_qr(path: Path) -> str:
    found = zxingcpp.read_barcodes(Image.open(path), formats=QR_ONLY)
    assert len(found) == 1, f"{path}: {len(found)} codes read"
    return found[0].text


def post_article(page: Page, words: str) -> Locator:
    """The post (an <article>) whose shown text contains *words* (the text behind a closed
    content warning does not count: only the warning does)."""
    return page.get_by_role("article").filter(has_text=words)


def arrives_live(screens: Screens, page: Page, locator: Locator, what: str) -> None:
    """*locator* appears on the open *page* without a reload. If it does not, that is
    recorded (the test fails at the end) and the page is reloaded, so the rest of the
    journey still runs and is checked."""
    try:
        expect(locator).to_be_visible(timeout=LIVE_MS)
    except AssertionError:
        screens.problems.append(f"live: {what} did not appear on the open page within "
                                f"{LIVE_MS // 1000} s (it took a reload)")
        page.reload()
        expect(locator).to_be_visible()


NOTIFICATION_STUB = """
(() => {
  window.__vaultNotes = [];
  let permission = "default";
  class FakeNotification {
    constructor(title, options) {
      window.__vaultNotes.push({title: title, body: (options && options.body) || "",
                                tag: (options && options.tag) || ""});
    }
    static get permission() { return permission; }
    static requestPermission() { permission = "granted"; return Promise.resolve(permission); }
  }
  window.Notification = FakeNotification;
  Object.defineProperty(Document.prototype, "visibilityState",
                        {get() { return "hidden"; }, configurable: true});
})();
"""


def focused(page: Page) -> str:
    return str(page.evaluate("document.activeElement && document.activeElement.id"))


@pytest.mark.slow
def test_three_members_journey(chrome: Browser, relay: RelayProcess, tmp_path: Path) -> None:
    screens = Screens()
    members: list[Member] = []
    try:
        alice = open_member("alice", chrome, relay, tmp_path, screens)
        bob = open_member("bob", chrome, relay, tmp_path, screens)
        carol = open_member("carol", chrome, relay, tmp_path, screens)
        members = [alice, bob, carol]
        journey(alice, bob, carol, relay, tmp_path, screens)
    except Exception:
        for member in members:  # what each person saw when it went wrong
            member.page.screenshot(path=str(tmp_path / f"failed-{member.name}.png"))
            print(f"{member.name}: {member.page.url}\n{tmp_path}/failed-{member.name}.png")
        raise
    finally:
        for member in members:
            member.context.close()
            member.app.stop()
    screens.assert_clean()


def journey(alice: Member, bob: Member, carol: Member, relay: RelayProcess, tmp_path: Path,
            screens: Screens) -> None:
    # --- Alice: first run, a group, an invite for two people -----------------------------
    first_run(alice, screens)
    a = alice.page
    screens.check(a, "groups-empty")
    a.get_by_role("link", name="Create a group").click()
    a.get_by_label("Group name").fill("Tuesday circle")
    a.get_by_label("Description (optional)").fill("A quiet place to talk about loss.")
    a.get_by_label("Rules (optional)").fill("Be kind. What is said here stays here.")
    a.get_by_label("Your name in this group").fill("Alice")
    expect(a.get_by_label("Vault server address")).to_have_value(relay.url)
    screens.check(a, "group-new")
    a.get_by_role("button", name="Create the group").click()
    expect(a.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()
    expect(a.get_by_text("Nothing has been posted here yet.")).to_be_visible()
    group_url = a.url.split("#")[0]
    screens.check(a, "feed-empty")

    a.get_by_role("link", name="Invite people").click()
    expect(a.get_by_role("heading", name="Invite people", level=1)).to_be_visible()
    a.get_by_label("How many people can use it").fill("2")
    screens.check(a, "invite-options")
    a.get_by_role("button", name="Make the invite").click()
    expect(a.get_by_role("heading", name="Your new invite")).to_be_visible()
    link = a.get_by_label("Invite link").input_value()
    assert link.startswith(f"{relay.url}/join#"), link
    qr = a.get_by_role("img", name="QR code of the invite")
    expect(qr).to_be_visible()
    expect(qr).to_have_js_property("complete", True)  # (wait_for_function needs eval: CSP)
    assert qr.evaluate("img => img.naturalWidth") > 0
    capture = tmp_path / "qr-from-alices-screen.png"
    qr.screenshot(path=str(capture))
    assert read_qr(capture) == link  # what the screen shows is the invite
    with a.expect_download() as download:
        a.get_by_role("link", name="Download PNG").click()
    png = tmp_path / "vault-invite.png"
    download.value.save_as(png)
    assert download.value.suggested_filename == "vault-invite.png"
    assert read_qr(png) == link
    screens.check(a, "invite-qr")

    # --- Bob: first run, joins by uploading the picture of Alice's screen ----------------
    first_run(bob)
    b = bob.page
    b.get_by_role("link", name="Join a group").click()
    expect(b.get_by_role("heading", name="Join a group")).to_be_visible()
    screens.check(b, "join")
    b.get_by_label("Picture of the QR code").set_input_files(capture)
    b.get_by_label("The name the group will see").fill("Bob")
    b.get_by_role("button", name="Ask to join").click()
    # What the invite shows of the group, checked by Bob's device: he accepts the rules.
    expect(b.get_by_role("heading", name=re.compile("Before you join"))).to_be_visible()
    expect(b.get_by_text("Be kind. What is said here stays here.")).to_be_visible()
    screens.check(b, "join-rules")
    b.get_by_role("button", name="Ask to join").click()  # not ticked: the browser asks first
    expect(b.get_by_role("heading", name=re.compile("Before you join"))).to_be_visible()
    b.get_by_label("I have read the group\u2019s rules and I accept them.").check()
    b.get_by_role("button", name="Ask to join").click()
    expect(b.get_by_role("heading", name="Your request was sent")).to_be_visible()
    # (Bob cannot read the group's names yet: the number is "with the person who made the
    # invite")
    bobs_number = digits(b.get_by_role("list", name=re.compile(
        r"Your safety number with the person who made the invite")))
    screens.check(b, "join-waiting")

    # --- Alice: the request, the same number, "Do the numbers match?" -> yes --------------
    a.get_by_role("link", name="Requests to join").click()
    expect(a.get_by_text("Do the numbers match?")).to_be_visible()
    expect(a.get_by_text("They read the group\u2019s rules and accepted them.")).to_be_visible()
    assert digits(a.get_by_role("list", name="Their number should be:")) == bobs_number
    screens.check(a, "requests")
    a.get_by_role("button", name="Yes, let them in").click()
    expect(a.get_by_text("They are in, as member.")).to_be_visible()
    expect(a.get_by_text("Nobody is waiting to join.")).to_be_visible()

    b.get_by_role("link", name="Go to the group and wait for an answer").click()
    expect(b.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()
    expect(b.get_by_label("Your post")).to_be_visible()  # a member: he can write

    # --- Carol: joins by pasting the link, with the keyboard alone -----------------------
    first_run(carol)
    c = carol.page
    c.goto(carol.app.base_url + "/join")
    expect(c.get_by_role("heading", name="Join a group")).to_be_visible()
    c.keyboard.press("Tab")
    expect(c.get_by_role("link", name="Skip to the content")).to_be_focused()
    c.keyboard.press("Enter")
    assert focused(c) == "main"
    c.keyboard.press("Tab")
    expect(c.get_by_label("Invite link")).to_be_focused()
    c.keyboard.insert_text(link)  # as a paste does
    c.keyboard.press("Tab")
    expect(c.get_by_label("Picture of the QR code")).to_be_focused()
    c.keyboard.press("Tab")
    camera = c.get_by_role("button", name="Start the camera")
    if camera.is_visible():  # shown where this browser can use a camera
        expect(camera).to_be_focused()
        c.keyboard.press("Tab")
    expect(c.get_by_label("The name the group will see")).to_be_focused()
    c.keyboard.type("Carol")
    c.keyboard.press("Tab")
    expect(c.get_by_role("button", name="Ask to join")).to_be_focused()
    c.keyboard.press("Enter")
    expect(c.get_by_role("heading", name=re.compile("Before you join"))).to_be_visible()
    c.keyboard.press("Tab")
    c.keyboard.press("Enter")  # (the skip link)
    c.keyboard.press("Tab")
    expect(c.get_by_label("I have read the group\u2019s rules and I accept them.")).to_be_focused()
    c.keyboard.press("Space")
    c.keyboard.press("Tab")
    expect(c.get_by_role("button", name="Ask to join")).to_be_focused()
    c.keyboard.press("Enter")
    expect(c.get_by_role("heading", name="Your request was sent")).to_be_visible()
    carols_number = digits(c.get_by_role("list", name=re.compile(r"Your safety number with")))

    a.reload()
    assert digits(a.get_by_role("list", name="Their number should be:")) == carols_number
    a.get_by_role("button", name="Yes, let them in").click()
    expect(a.get_by_text("They are in, as member.")).to_be_visible()
    c.get_by_role("link", name="Go to the group and wait for an answer").click()
    expect(c.get_by_label("Your post")).to_be_visible()

    # --- Alice posts with a warning; Bob's open page shows it live, hidden ---------------
    b.goto(group_url.replace(alice.app.base_url, bob.app.base_url))
    expect(b.get_by_text("Nothing has been posted here yet.")).to_be_visible()
    a.goto(group_url)
    a.get_by_label("Your post").fill("It has been a hard week. I miss her every morning.")
    a.get_by_label("Content warning (optional)").fill("loss")
    picture = tmp_path / "candle.png"
    Image.new("RGB", (160, 120), (250, 200, 90)).save(picture)
    a.get_by_label("Attach pictures or files (optional)").set_input_files(picture)
    screens.check(a, "compose")
    a.get_by_role("button", name="Send").click()
    expect(post_article(a, "Content warning: loss")).to_be_visible()

    hard_week = post_article(b, "Content warning: loss")
    # It arrives without a reload (the live stream), hidden behind its warning.
    arrives_live(screens, b, hard_week, "Alice's post with a warning, on Bob's page")
    expect(hard_week.get_by_text("Content warning: loss")).to_be_visible()
    expect(hard_week.get_by_text("I miss her every morning.")).to_be_hidden()
    expect(hard_week.get_by_role("img")).to_have_count(0)  # a closed warning loads no picture
    screens.check(b, "feed-warning-hidden")
    hard_week.get_by_text("Content warning: loss").click()
    expect(hard_week.get_by_text("I miss her every morning.")).to_be_visible()
    image = hard_week.get_by_role("img", name="Picture: candle.png")
    expect(image).to_be_visible()
    expect(image).to_have_js_property("complete", True)
    assert image.evaluate("img => img.naturalWidth") == 160
    screens.check(b, "feed-warning-shown")

    # Bob replies (the reply box under the post); Carol reacts.
    hard_week.locator("summary", has_text="Reply").click()
    hard_week.get_by_label("Your reply").fill("Thinking of you, Alice.")
    hard_week.get_by_role("button", name="Send reply").click()
    expect(b.get_by_text("Thinking of you, Alice.")).to_be_visible()

    c.reload()
    c_week = post_article(c, "Content warning: loss").first
    c_week.get_by_role("button", name="React with 💜").click()
    expect(post_article(c, "Content warning: loss").first.get_by_role("list", name="Reactions")
           ).to_contain_text("💜 1")

    a.reload()
    a_week = post_article(a, "Content warning: loss").first
    a_week.get_by_text("Content warning: loss").click()
    expect(a.get_by_text("Thinking of you, Alice.")).to_be_visible()
    expect(a_week.get_by_role("list", name="Reactions")).to_contain_text("💜 1")
    screens.check(a, "feed")

    # --- Alice searches the group on her computer: found behind its warning, then shown
    # in its conversation; the words never reach the address bar ---------------------------
    a.get_by_label("Search this group").fill("MISS her")
    a.get_by_role("button", name="Search", exact=True).click()
    expect(a.get_by_role("heading", name="1 post found")).to_be_visible()
    found = post_article(a, "Content warning: loss").first
    expect(found.get_by_text("I miss her every morning.")).to_be_hidden()
    found.get_by_text("Content warning: loss").click()
    expect(found.get_by_text("I miss her every morning.")).to_be_visible()
    assert "miss" not in a.url.lower() and "miss" not in a.title().lower()
    screens.check(a, "search")
    a.get_by_role("link", name="Show it in its conversation").click()
    expect(a.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()
    assert re.search(r"#post-[A-Za-z0-9_-]+$", a.url), a.url
    expect(a.get_by_text("Thinking of you, Alice.")).to_be_visible()

    # --- notifications: Alice allows them; Bob's post arrives while she looks elsewhere.
    # The browser's Notification and the tab's visibility are stubbed in the page (a
    # headless browser shows no notification and is always "visible").
    a.add_init_script(NOTIFICATION_STUB)
    a.goto(group_url)
    a.get_by_role("button", name="Notify me of new posts while this page is open").click()
    expect(a.locator("#notify-ask")).to_be_hidden()
    b.reload()  # (Bob's own app, on the group's page)
    b.get_by_label("Your post").fill("Is anyone around tonight?")
    b.get_by_role("button", name="Send").click()
    a.wait_for_function("window.__vaultNotes.length > 0", timeout=20_000)
    assert a.evaluate("window.__vaultNotes") == [
        {"title": "New post in Tuesday circle", "body": "", "tag": "vault-new-posts"}]

    # --- a poll with three voters: Alice asks it through the form; all three vote, Bob
    # changes his mind; every page counts the same ------------------------------------------
    a.goto(group_url)
    a.get_by_role("link", name="Ask the group a question with options to vote on").click()
    expect(a.get_by_role("heading", name="Ask the group", level=1)).to_be_visible()
    a.get_by_label("Your question").fill("Shall we meet on Thursdays too?")
    for number, option in enumerate(("Yes", "No", "Every other week"), 1):
        a.get_by_label(f"Option {number}", exact=True).fill(option)
    a.get_by_label("Voting closes").select_option("week")
    screens.check(a, "poll-new")
    a.get_by_role("button", name="Ask", exact=True).click()
    asked = post_article(a, "Shall we meet on Thursdays too?").first
    expect(asked).to_be_visible()
    asked.get_by_label("Yes", exact=True).check()
    asked.get_by_role("button", name="Vote").click()
    for voter, choices in ((b, ("No", "Every other week")), (c, ("Yes",))):
        voter.reload()
        for choice in choices:
            poll = post_article(voter, "Shall we meet on Thursdays too?").first
            poll.get_by_label(choice, exact=True).check()
            poll.get_by_role("button", name=re.compile("Vote|Change my vote")).click()
            expect(post_article(voter, "Shall we meet on Thursdays too?").first.locator(
                ".poll-options li", has_text=choice)).to_contain_text("your vote")
    a.reload()
    asked = post_article(a, "Shall we meet on Thursdays too?").first
    for option, count in (("Yes", "2 votes"), ("No", "0 votes"), ("Every other week", "1 vote")):
        expect(asked.locator(".poll-options li", has_text=option)).to_contain_text(count)
    asked.get_by_text("Who voted").click()
    expect(asked.locator(".poll-voters")).to_contain_text("Bob")
    asked.get_by_role("button", name="Pin for everyone").click()  # (Alice owns the group)
    expect(a.get_by_role("region", name="Pinned")).to_contain_text(
        "Shall we meet on Thursdays too?")
    post_article(a, "Shall we meet on Thursdays too?").first.get_by_text("Who voted").click()
    screens.check(a, "poll")
    c.reload()  # Carol, a member: the poll is listed first for her too, with no pin button
    expect(c.get_by_role("region", name="Pinned")).to_contain_text(
        "Shall we meet on Thursdays too?")
    expect(c.get_by_role("button", name="Pin for everyone")).to_have_count(0)

    # --- channels: Alice adds an announcements channel and posts in it; Bob, a member, reads
    # it there and is offered no form to write in it ----------------------------------------
    a.get_by_role("link", name="Channels").first.click()
    expect(a.get_by_role("heading", name="Channels", level=1)).to_be_visible()
    a.get_by_label("Name", exact=True).fill("Announcements")
    a.get_by_label("Announcements", exact=True).check()
    screens.check(a, "channels")
    a.get_by_role("button", name="Add for every member").click()
    channels = a.get_by_role("navigation", name="Channels")
    expect(channels.get_by_role("link", name=re.compile("^Announcements"))).to_have_attribute(
        "aria-current", "page")
    a.get_by_label("Your post").fill("Next week we meet in room 4.")
    a.get_by_role("button", name="Send").click()
    expect(post_article(a, "Next week we meet in room 4.").first).to_be_visible()
    a.get_by_role("navigation", name="Channels").get_by_role("link", name="General").click()
    expect(a.get_by_text("Next week we meet in room 4.")).to_have_count(0)
    b.reload()  # (Bob's own app, on the group's page)
    b.get_by_role("navigation", name="Channels").get_by_role(
        "link", name=re.compile("^Announcements")).click()
    expect(post_article(b, "Next week we meet in room 4.").first).to_be_visible()
    expect(b.get_by_text("Only moderators and admins post in this channel.")).to_be_visible()
    expect(b.get_by_label("Your post")).to_have_count(0)
    screens.check(b, "channel-announcements")
    a.goto(group_url)

    # --- the moderators' inbox: Carol reports Bob's post; it reaches Alice (the group's
    # moderator) and only her: Bob's inbox is empty --------------------------------------------
    c.reload()
    reported = post_article(c, "Is anyone around tonight?").first
    reported.get_by_text("Report to the moderators").click()
    reported.get_by_label(re.compile("^Why\\?")).fill("This keeps pulling people away from the "
                                                       "circle")
    reported.get_by_role("button", name="Send the report").click()
    expect(c.get_by_text("The post was reported to the moderators.")).to_be_visible()
    a.get_by_role("link", name="Moderators\u2019 inbox").first.click()
    expect(a.get_by_role("heading", name="Moderators\u2019 inbox", level=1)).to_be_visible()
    thread = a.locator("article.inbox-thread").first
    expect(thread).to_contain_text("Report by Carol")
    expect(thread).to_contain_text("This keeps pulling people away from the circle")
    screens.check(a, "inbox")
    thread.get_by_text("Answer privately").click()
    thread.get_by_label(re.compile("^Your answer")).fill("Thank you, Carol. I will talk to him.")
    thread.get_by_role("button", name="Send the answer").click()
    expect(a.get_by_text("Your answer was sent, privately.")).to_be_visible()
    b.reload()
    b.get_by_role("link", name="Ask the moderators").first.click()
    expect(b.get_by_role("heading", name="Ask the moderators", level=1)).to_be_visible()
    expect(b.get_by_text("Nothing here yet.")).to_be_visible()
    b.go_back()
    a.goto(group_url)

    # --- the members' screens -------------------------------------------------------------
    a.get_by_role("link", name="Members").first.click()
    expect(a.get_by_role("heading", name="Members", level=1)).to_be_visible()
    expect(a.get_by_text("3 members.")).to_be_visible()
    screens.check(a, "members")
    a.locator("li", has_text="Bob").get_by_role("link", name="Check safety number").click()
    expect(a.get_by_role("heading", name=re.compile("Check your safety number with"))
           ).to_be_visible()
    assert digits(a.get_by_role("list", name="Your safety number")) == bobs_number
    screens.check(a, "safety-number")
    a.get_by_role("link", name="Group settings").click()
    expect(a.get_by_role("heading", name="Group settings", level=1)).to_be_visible()
    screens.check(a, "group-settings")

    # --- Alice removes Carol: Carol's page says so and shows nothing new -----------------
    a.get_by_role("link", name="Members").first.click()
    a.locator("li", has_text="Carol").get_by_role("link", name="Remove from the group").click()
    expect(a.get_by_role("heading", name=re.compile(r"Remove .*Carol"))).to_be_visible()
    screens.check(a, "remove-confirm")
    a.get_by_role("button", name="Yes, remove them").click()
    expect(a.get_by_text("Carol was removed from the group.")).to_be_visible()
    expect(a.get_by_text("2 members.")).to_be_visible()

    c.reload()
    # (a status, not an alarm: it is what happened, nothing is wrong with the group)
    expect(c.get_by_role("status").filter(has_text=NO_LONGER)).to_be_visible()
    if c.get_by_label("Your post").count():
        screens.problems.append("removed: Carol's page still offers the form to write to the "
                                "group she was removed from")
    screens.check(c, "feed-removed")

    a.goto(group_url)
    a.get_by_label("Your post").fill("Welcome to the two new faces of this week.")
    a.get_by_role("button", name="Send").click()
    arrives_live(screens, b, b.get_by_text("Welcome to the two new faces"),
                 "Alice's post after Carol's removal, on Bob's page")
    c.reload()
    # (a status, not an alarm: it is what happened, nothing is wrong with the group)
    expect(c.get_by_role("status").filter(has_text=NO_LONGER)).to_be_visible()
    expect(post_article(c, "Content warning: loss").first).to_be_visible()  # what she had stays
    expect(c.get_by_text("Welcome to the two new faces")).to_have_count(0)

    # --- Alice locks and unlocks --------------------------------------------------------
    a.get_by_role("button", name="Lock now").click()
    expect(a.get_by_role("heading", name="Vault is locked")).to_be_visible()
    screens.check(a, "unlock")
    a.get_by_label("Your passphrase").fill(PASSPHRASES["alice"])
    a.get_by_role("button", name="Unlock").click()
    expect(a.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()  # back
    a.get_by_role("navigation", name="Main").get_by_role("link", name="Your groups").click()
    expect(a.get_by_role("heading", name="Your groups")).to_be_visible()
    expect(a.get_by_role("link", name="Tuesday circle")).to_be_visible()
    screens.check(a, "groups")

    # --- Bob erases everything (confirmed once) ------------------------------------------
    b.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    expect(b.get_by_role("heading", name="Settings", level=1)).to_be_visible()
    screens.check(b, "settings")
    with b.expect_download() as download:  # Bob keeps what he wrote, before erasing it all
        b.get_by_role("button", name="Save my posts").click()
    saved = Path(download.value.path()).read_text(encoding="utf-8")
    assert download.value.suggested_filename.startswith("vault-my-posts-")
    assert "Thinking of you, Alice." in saved and "not encrypted" in saved
    assert "I miss her every morning" not in saved  # Alice's words are not Bob's to keep

    # --- Alice deletes the group: Bob's open page says so, and his copy goes -------------
    b.goto(group_url.replace(alice.app.base_url, bob.app.base_url))
    expect(b.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()
    a.goto(group_url + "/settings")
    a.get_by_role("link", name="Delete this group").click()
    expect(a.get_by_role("heading", name=re.compile("Delete .*Tuesday circle.* for everyone"))
           ).to_be_visible()
    screens.check(a, "delete-group-confirm")
    a.get_by_label(re.compile("I understand that the group")).check()
    a.get_by_role("button", name="Yes, delete the group for everyone").click()
    expect(a.get_by_text("You deleted the group")).to_be_visible()
    arrives_live(screens, b, b.get_by_text("was deleted by its owner"),
                 "the deletion, on Bob's open page of the group")
    expect(b.get_by_role("status").filter(has_text="Tuesday circle")).to_contain_text("Alice")
    screens.check(b, "groups-deleted")
    b.get_by_role("button", name="OK").click()
    expect(b.get_by_text("was deleted by its owner")).to_have_count(0)
    expect(b.get_by_text("You are not in any group yet.")).to_be_visible()

    b.get_by_role("navigation", name="Main").get_by_role("link", name="Settings").click()
    b.get_by_role("link", name="Erase everything on this computer").click()
    expect(b.get_by_role("heading", name="Erase everything on this computer?")).to_be_visible()
    screens.check(b, "wipe-confirm")
    b.get_by_role("button", name="Yes, erase everything now").click()
    expect(b.get_by_role("heading", name="Everything on this device is gone")).to_be_visible()
    screens.check(b, "wiped")
    assert not has_keystore(bob.app.home)
    assert not bob.app.home.exists() or not any(bob.app.home.iterdir()), \
        list(bob.app.home.iterdir())

    # --- no session cookie: refused ------------------------------------------------------
    stranger = a.context.browser.new_context(viewport=WIDE)  # type: ignore[union-attr]
    try:
        page = screens.watch(stranger.new_page(), "stranger")
        seen: list[int] = []
        page.on("response", lambda r: seen.append(r.status) if r.url.startswith(
            alice.app.base_url + "/") and r.request.resource_type == "document" else None)
        page.goto(alice.app.base_url + "/")
        expect(page.get_by_role("heading", name="This page cannot be opened this way")
               ).to_be_visible()
        expect(page.get_by_text("Tuesday circle")).to_have_count(0)
        assert seen and all(status >= 400 for status in seen), seen
        page.goto(group_url)
        expect(page.get_by_role("heading", name="This page cannot be opened this way")
               ).to_be_visible()
        expect(page.get_by_text("hard week")).to_have_count(0)
        screens.console = [line for line in screens.console  # the refusal's own status line
                           if not line.startswith("stranger ")
                           or "Failed to load resource" not in line]
        screens.check(page, "refused")
    finally:
        stranger.close()

    # --- the invite's secret reached none of the relay's output, nor the apps' -----------
    secret = b64encode(parse_invite_uri(link).secret)
    fragment = link.split("#", 1)[1]
    relay.stop()  # everything it wrote is on disk
    relay.start()
    output = relay.output().decode(errors="replace")
    assert '"path":' in output  # the access log was on
    assert secret not in output and fragment not in output
    for path in relay.logs.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path
    for member in (alice, bob, carol):
        assert secret not in member.app.output(), member.name


def test_screenshots_are_only_written_when_asked() -> None:
    """CI runs without VAULT_SCREENSHOTS: the journey then writes nothing into the tree."""
    from tests.app import screens as module

    saved = os.environ.pop("VAULT_SCREENSHOTS", None)
    try:
        assert not module.screenshots_wanted()
    finally:
        if saved is not None:
            os.environ["VAULT_SCREENSHOTS"] = saved
