"""`vault backup` and `vault restore` through the CLI (CliRunner) against a real relay: the
words are printed once, the file is private, a wrong word is one clear line and changes
nothing, and the restored device reads and posts as the same member."""

from __future__ import annotations

import re
from pathlib import Path

from tests.client.conftest import RelayProcess
from tests.client.test_cli import Person, only_error


def test_backup_then_restore_on_a_new_device(tmp_path: Path, relay: RelayProcess) -> None:
    ann = Person("ann", tmp_path, relay)
    ann("group", "create", "Night owls")
    ann("post", "-g", "1", "written before the backup")
    backup = tmp_path / "ann.vault"
    made = ann("backup", str(backup))
    assert "Backed up 1 group to" in made.output and "Not in it" not in made.output
    assert "not to a screen" in made.stderr  # (CliRunner's output is no terminal)
    words = re.findall(r"^\s+\d+\. (\w+)$", made.output, re.MULTILINE)
    assert len(words) == 12
    assert backup.stat().st_mode & 0o077 == 0
    assert "already exists" in only_error(ann("backup", str(backup), expect=1))

    phone = Person("ann-phone", tmp_path, relay)
    wrong = " ".join([*words[:11], "zzz"])
    assert "word 12" in only_error(phone("restore", str(backup), input=wrong + "\n",
                                         expect=1))
    from vault.crypto.backup import new_recovery_phrase

    other = new_recovery_phrase()
    assert "do not open this backup file" in only_error(
        phone("restore", str(backup), input=other + "\n", expect=1))
    restored = phone("restore", str(backup), input=" ".join(words) + "\n")
    assert "restored: Night owls" in restored.output
    assert "written before the backup" in phone("read", "-g", "1").output
    phone("post", "-g", "1", "from the new phone")
    assert "from the new phone" in ann("read", "-g", "1").output
    again = phone("restore", str(backup),
                  env={"VAULT_RECOVERY_PHRASE": " ".join(words)})
    assert "already on this device" in again.output


def test_nothing_to_back_up(tmp_path: Path, relay: RelayProcess) -> None:
    nobody = Person("nobody", tmp_path, relay)
    nobody("group", "create", "Soon forgotten")
    nobody("forget", "-g", "1", "--yes")
    out = tmp_path / "empty.vault"
    assert "nothing to back up" in only_error(nobody("backup", str(out), expect=1))
    assert not out.exists()
