"""Backups in the app, against a real relay process: Ann makes one on the Settings page (her
twelve words shown once, the file downloaded by POST), and it opens with those words on a
new device. The restore page: words with a mistake, the words of another backup, a file
that is not a backup, change nothing and say why with the form again; the right words bring
the group back, listed with a link, and a second restore says it is already here."""

from __future__ import annotations

import html
import io
import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from vault_client import BackupMade, Client

from tests.app.conftest import PASSPHRASE, Browser, make_settings, open_browser
from tests.client.test_backup import one_word_wrong
from tests.relayproc import RelayProcess

WORD = re.compile(r'<span class="word">([a-z]+)</span>')
_TOKEN = re.compile(r'<input type="hidden" name="token" value="([^"]+)">')


def text_of(response) -> str:  # type: ignore[no-untyped-def]
    return html.unescape(response.get_data(as_text=True))


def new_member(tmp_path: Path, name: str, relay: RelayProcess) -> Browser:
    """A new device in the app, its keystore just created."""
    browser = open_browser(make_settings(tmp_path / name, relay.url))
    browser.get("/welcome")
    assert browser.post("/welcome", {"passphrase": PASSPHRASE,
                                     "confirm": PASSPHRASE}).status_code == 303
    browser.get("/")
    return browser


@pytest.fixture
def ann(relay: RelayProcess, tmp_path: Path) -> Iterator[Browser]:
    """Ann, in the app, with a group she created through the form."""
    browser = new_member(tmp_path, "ann", relay)
    browser.get("/groups/new")
    response = browser.post("/groups/new", {
        "name": "Tuesday circle", "description": "", "rules": "", "display_name": "Ann",
        "relay": relay.url})
    assert response.status_code == 303, response.get_data(as_text=True)
    browser.group_id = response.headers["Location"].rsplit("/", 1)[1]  # type: ignore[attr-defined]
    yield browser
    browser.app.extensions["vault_device"].shutdown()


@pytest.fixture
def laptop(relay: RelayProcess, tmp_path: Path) -> Iterator[Browser]:
    """A new computer, in the app: no group yet."""
    browser = new_member(tmp_path, "laptop", relay)
    yield browser
    browser.app.extensions["vault_device"].shutdown()


@pytest.fixture
def made(relay: RelayProcess, tmp_path: Path) -> Iterator[tuple[str, BackupMade]]:
    """Ben's backup, made with the SDK on his old computer: his group's id, and the backup."""
    with Client(PASSPHRASE + " ben", home=tmp_path / "ben", relay_url=relay.url) as ben:
        gid = ben.create_group("Grief circle", display_name="Ben").group_id
        ben.post(gid, "before the backup")
        yield gid, ben.backup()


def restore(browser: Browser, data: bytes, phrase: str):  # type: ignore[no-untyped-def]
    browser.get("/restore")
    form = {"backup": (io.BytesIO(data), "vault-backup-2025-01-01.vault"), "phrase": phrase}
    return browser.post("/restore", form,  # type: ignore[arg-type]
                        content_type="multipart/form-data")


# --- making a backup -----------------------------------------------------------------------


def test_a_backup_made_in_the_app_opens_with_the_words_it_showed(
        ann: Browser, relay: RelayProcess, tmp_path: Path) -> None:
    assert "in no backup" in text_of(ann.get("/"))  # the groups page reminds her
    settings = text_of(ann.get("/settings"))
    assert "Last backup: never" in settings
    assert 'action="/settings/backup"' in settings and 'href="/restore"' in settings

    def addresses(html: str) -> list[str]:
        return re.findall(r'(?:href|action|src)="([^"]*)"', html)

    first = text_of(ann.post("/settings/backup"))  # (replaced by the next one)
    shown = ann.post("/settings/backup")
    assert shown.status_code == 200, shown.get_data(as_text=True)
    assert shown.headers["Cache-Control"] == "no-store"
    assert "Location" not in shown.headers
    page = text_of(shown)
    words = WORD.findall(page)
    assert len(words) == 12 and words != WORD.findall(first)
    assert 'class="recovery-words"' in page and "shown only this once" in page
    assert 'autocomplete="off"' in page
    phrase = " ".join(words)
    # No word is in any address the page names: two backups' pages name the same ones.
    assert addresses(page) == addresses(first)
    assert not any(phrase in a or "+".join(words) in a for a in addresses(page))
    token = _TOKEN.search(page)
    assert token is not None and token.group(1) not in phrase

    # Until the file is downloaded, nothing counts as backed up.
    assert "Last backup: never" in text_of(ann.get("/settings"))
    assert "in no backup" in text_of(ann.get("/"))
    refused = ann.post("/settings/backup/file", {"token": token.group(1)}, csrf=False)
    assert refused.status_code == 403
    download = ann.post("/settings/backup/file", {"token": token.group(1)})
    assert download.status_code == 200
    assert download.headers["Content-Type"] == "application/octet-stream"
    assert download.headers["Content-Disposition"] == \
        f'attachment; filename="vault-backup-{date.today().isoformat()}.vault"'
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["X-Content-Type-Options"] == "nosniff"
    data = download.get_data()
    assert phrase.encode() not in data
    # It can be downloaded again (a second copy) until the app locks.
    assert ann.post("/settings/backup/file", {"token": token.group(1)}).get_data() == data
    assert ann.post("/settings/backup/file", {"token": "another"}).status_code == 410

    settings = text_of(ann.get("/settings"))
    assert "Last backup: never" not in settings and "Last backup:" in settings
    assert "in no backup" not in text_of(ann.get("/"))  # and no longer does

    # On a new computer, the words shown open the file: Ann is back in her group.
    with Client(PASSPHRASE + " new", home=tmp_path / "new-computer",
                relay_url=relay.url) as computer:
        (result,) = computer.restore(data, phrase)
        assert result.outcome == "restored"
        assert result.group is not None and result.group.name == "Tuesday circle"
        assert result.group_id == ann.group_id  # type: ignore[attr-defined]
        assert result.group.my_member_id == \
            ann.device_client().group(ann.group_id).my_member_id  # type: ignore[attr-defined]


def test_the_backup_file_is_forgotten_at_a_lock(ann: Browser) -> None:
    page = text_of(ann.post("/settings/backup"))
    token = _TOKEN.search(page)
    assert token is not None
    device = ann.app.extensions["vault_device"]
    device.lock()
    device.unlock(PASSPHRASE)
    gone = ann.post("/settings/backup/file", {"token": token.group(1)})
    assert gone.status_code == 410
    assert gone.headers["Content-Type"].startswith("text/html")
    assert "no longer here" in text_of(gone)


def test_a_new_backup_replaces_the_file_waiting(ann: Browser) -> None:
    first = _TOKEN.search(text_of(ann.post("/settings/backup")))
    second = _TOKEN.search(text_of(ann.post("/settings/backup")))
    assert first is not None and second is not None
    assert ann.post("/settings/backup/file", {"token": first.group(1)}).status_code == 410
    assert ann.post("/settings/backup/file", {"token": second.group(1)}).status_code == 200


# --- restoring one -------------------------------------------------------------------------


def test_a_new_computer_offers_to_restore(laptop: Browser) -> None:
    groups = text_of(laptop.get("/"))
    assert "You are not in any group yet." in groups and 'href="/restore"' in groups
    form = text_of(laptop.get("/restore"))
    textarea = re.search(r"<textarea[^>]*>", form)
    assert textarea is not None
    for attribute in ('autocomplete="off"', 'spellcheck="false"', 'autocapitalize="off"'):
        assert attribute in textarea.group(0)
    assert 'type="file"' in form and 'enctype="multipart/form-data"' in form


def test_words_with_a_mistake_change_nothing_and_are_kept_to_correct(
        laptop: Browser, made: tuple[str, BackupMade]) -> None:
    _, backup = made
    typo = one_word_wrong(backup.recovery_phrase)
    refused = restore(laptop, backup.data, typo)
    assert refused.status_code == 422
    page = text_of(refused)
    assert "mistyped" in page and 'role="alert"' in page
    assert f">{typo}</textarea>" in page  # kept, so one word can be corrected
    assert refused.headers["Cache-Control"] == "no-store"

    too_few = text_of(restore(laptop, backup.data, "only three words"))
    assert "A backup's words are twelve; you typed 3." in too_few
    words = backup.recovery_phrase.split()
    words[2] = "vaultx"
    unknown = text_of(restore(laptop, backup.data, " ".join(words)))
    assert "Word 3 of the twelve is not one Vault uses." in unknown

    from vault.crypto.backup import new_recovery_phrase
    other = text_of(restore(laptop, backup.data, new_recovery_phrase()))
    assert "These twelve words do not open this backup file." in other

    not_a_backup = text_of(restore(laptop, b"a letter, not a backup", backup.recovery_phrase))
    assert "This file is not a Vault backup, or it is damaged." in not_a_backup

    laptop.get("/restore")
    no_file = laptop.post("/restore", {"phrase": backup.recovery_phrase})
    assert no_file.status_code == 422 and "Choose the backup file first." in text_of(no_file)
    assert laptop.device_client().groups() == []


def test_the_right_words_bring_the_group_back(laptop: Browser,
                                              made: tuple[str, BackupMade]) -> None:
    gid, backup = made
    typed = backup.recovery_phrase.upper().replace(" ", "\n", 4)
    done = restore(laptop, backup.data, typed)
    assert done.status_code == 200, done.get_data(as_text=True)
    page = text_of(done)
    assert "Restored: you are back in this group." in page
    assert f'href="/groups/{gid}"' in page and "Grief circle" in page
    assert [g.group_id for g in laptop.device_client().groups()] == [gid]
    assert [p.text for p in laptop.device_client().posts(gid)] == ["before the backup"]

    again = text_of(restore(laptop, backup.data, backup.recovery_phrase))
    assert "Already on this computer" in again and "Grief circle" in again


def test_the_restore_page_in_italian(laptop: Browser, made: tuple[str, BackupMade]) -> None:
    _, backup = made
    laptop.client.set_cookie("vault_lang", "it", domain="127.0.0.1")
    page = text_of(restore(laptop, backup.data, one_word_wrong(backup.recovery_phrase)))
    assert "Ripristina da un backup" in page and "Confronta ogni parola" in page
    assert "mistyped" not in page  # the SDK's English is not shown
    words = backup.recovery_phrase.split()
    words[4] = "vaultx"
    page = text_of(restore(laptop, backup.data, " ".join(words)))
    assert "La parola 5 delle dodici non è una di quelle che Vault usa." in page
