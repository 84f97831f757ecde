"""A backup made and restored the way a member does it, in real Chromium, each computer its
own ``vault app`` process against one real relay process: Alice opens Settings, makes a
backup, reads her twelve words off the page and downloads the file; on a new computer, the
empty groups page leads to "Restore from a backup", where she chooses the file and types the
words, and her group is listed as restored, with a link that opens it.

Every screen is checked (tests/app/screens.py: axe-core, 200% zoom, console) and, with
``VAULT_SCREENSHOTS=1``, photographed into docs/screenshots/ (backup-words.png and the
others named below: new names only, so the journey's own screenshots are left alone).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect
from vault_client import Client

from tests.app.appproc import AppProcess
from tests.app.screens import WIDE, Screens
from tests.relayproc import RelayProcess

PASSPHRASE = "lantern orchard violet meadow ninety"
NEW_PASSPHRASE = "copper kettle whistles under snowfall"
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path_factory.mktemp("relay") / "data")
    yield process
    process.stop()


def open_app(chrome: Browser, app: AppProcess, screens: Screens, who: str) -> Page:
    context = chrome.new_context(viewport=WIDE, accept_downloads=True, locale="en-GB")
    context.set_default_timeout(TIMEOUT_MS)
    page = screens.watch(context.new_page(), who)
    page.goto(app.start())
    return page


def test_a_backup_made_on_one_computer_restores_on_another(
        chrome: Browser, relay: RelayProcess, tmp_path: Path) -> None:
    with Client(PASSPHRASE, home=tmp_path / "alice", relay_url=relay.url) as alice:
        gid = alice.create_group("Tuesday circle", display_name="Alice").group_id
        alice.post(gid, "Made before the backup.")
    screens = Screens()
    old = AppProcess(tmp_path / "alice", relay.url)
    new = AppProcess(tmp_path / "alice-new-computer", relay.url)
    try:
        # --- the old computer: make the backup ----------------------------------------------
        page = open_app(chrome, old, screens, "alice")
        page.get_by_label("Your passphrase").fill(PASSPHRASE)
        page.get_by_role("button", name="Unlock").click()
        page.get_by_role("link", name="Settings").click()
        section = page.get_by_role("region", name="Backup")
        expect(section.get_by_text("Last backup: never")).to_be_visible()
        screens.check(page, "settings-backup")
        section.get_by_role("button", name="Make a backup").click()
        expect(page.get_by_role("heading", name="Write down these twelve words")).to_be_visible()
        expect(page.get_by_text("They are shown only this once.")).to_be_visible()
        words_list = page.get_by_role("list", name="Your twelve words, in order:")
        expect(words_list.get_by_role("listitem")).to_have_count(12)
        words = [w.strip() for w in words_list.locator(".word").all_inner_texts()]
        assert len(words) == 12 and all(w.isalpha() and w.islower() for w in words)
        assert page.url.endswith("/settings/backup")  # the form's address, no query: no word
        screens.check(page, "backup-words")
        with page.expect_download() as info:
            page.get_by_role("button", name="Download the backup file").click()
        download = info.value
        assert download.suggested_filename.startswith("vault-backup-")
        assert download.suggested_filename.endswith(".vault")
        backup_file = tmp_path / download.suggested_filename
        download.save_as(backup_file)
        page.get_by_role("link", name="I have written down the words and saved the file").click()
        expect(page.get_by_text("Last backup: never")).to_have_count(0)
        expect(page.get_by_text("Last backup:")).to_be_visible()
        page.context.close()
        old.stop()

        # --- a new computer: restore it -----------------------------------------------------
        page = open_app(chrome, new, screens, "alice-new")
        page.get_by_label("New passphrase").fill(NEW_PASSPHRASE)
        page.get_by_label("The same passphrase again").fill(NEW_PASSPHRASE)
        page.get_by_role("button", name="Create my Vault").click()
        expect(page.get_by_text("You are not in any group yet.")).to_be_visible()
        page.get_by_role("link", name="Restore your groups from a backup").click()
        expect(page.get_by_role("heading", name="Restore from a backup")).to_be_visible()
        page.get_by_label("The backup file").set_input_files(str(backup_file))
        page.get_by_label("The twelve words").fill("\n".join(words))
        screens.check(page, "restore")
        page.get_by_role("button", name="Restore my groups").click()
        expect(page.get_by_role("heading", name="What the backup brought back")).to_be_visible()
        expect(page.get_by_text("Restored: you are back in this group.")).to_be_visible()
        screens.check(page, "restored")
        page.get_by_role("link", name="Tuesday circle").click()
        expect(page.get_by_role("heading", name="Tuesday circle", level=1)).to_be_visible()
        expect(page.get_by_text("Made before the backup.")).to_be_visible()
        page.context.close()
    finally:
        old.stop()
        new.stop()
    screens.assert_clean()  # axe, 200% zoom, and no script error or CSP violation
