"""Backups through the SDK against a real relay process: Ann backs up her device (two
groups), loses it, and restores the backup onto a new one with her twelve words: she is the
same member in both groups, reads what she had, posts with no equivocation warning for
anyone, and a second restore of the same file changes nothing. Words that are not the
phrase change nothing either."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_client import Equivocation
from vault_client.errors import KeystoreLockedError, RecoveryPhraseError

from tests.client.conftest import RelayProcess
from tests.client.test_journey import open_client


def test_a_backup_restores_every_group_onto_a_new_device(tmp_path: Path,
                                                          relay: RelayProcess) -> None:
    ann, ben = open_client(tmp_path, "ann", relay), open_client(tmp_path, "ben", relay)
    try:
        circle = ann.create_group("Thursday circle")
        ben.join(ann.create_invite(circle, require_approval=False).uri)
        ann.sync(circle)  # (Ann's device grants Ben the key)
        ben.sync(circle)
        walk = ann.create_group("Walking group")
        ann.post(circle, "before the backup")
        assert ben.post(circle, "Ben, before the backup").delivered
        ann.post(walk, "a walk on Sunday")
        assert ann.last_backup() is None
        assert {g.group_id for g in ann.not_backed_up()} == {circle.group_id, walk.group_id}
        made = ann.backup()
        assert made.groups == 2 and len(made.recovery_phrase.split()) == 12
        assert set(made.group_ids) == {circle.group_id, walk.group_id}
        assert made.recovery_phrase not in repr(made)
        assert ann.last_backup() is None and len(ann.not_backed_up()) == 2  # not saved yet
        ann.backup_saved(made)
        assert ann.not_backed_up() == []
        assert ann.last_backup() is not None
        ann.post(circle, "after the backup, from the old phone")  # numbered past the backup
        later = ann.create_group("Joined after the backup")
        ann.sync(later)
        assert [g.group_id for g in ann.not_backed_up()] == [later.group_id]
        ann.close()

        with open_client(tmp_path, "ann-new-phone", relay) as phone:
            with pytest.raises(RecoveryPhraseError):
                phone.restore(made.data, "these are not twelve words")
            with pytest.raises(RecoveryPhraseError, match="mistyped"):
                phone.restore(made.data, one_word_wrong(made.recovery_phrase))
            with pytest.raises(KeystoreLockedError):
                phone.restore(made.data, _another_phrase(made.recovery_phrase))
            assert phone.groups() == []

            typed = "  " + made.recovery_phrase.upper().replace(" ", "\n", 3) + " "
            results = phone.restore(made.data, typed)
            assert {(r.group_id, r.outcome) for r in results} == {
                (circle.group_id, "restored"), (walk.group_id, "restored")}
            assert phone.not_backed_up() == []  # (they are in the backup just restored)
            by_id = {r.group_id: r for r in results}
            assert by_id[circle.group_id].group is not None
            assert by_id[circle.group_id].group.my_member_id == circle.my_member_id
            assert [p.text for p in phone.posts(circle)] == [
                "before the backup", "Ben, before the backup",
                "after the backup, from the old phone"]
            assert [p.text for p in phone.posts(walk)] == ["a walk on Sunday"]
            posted = phone.post(circle, "from the new phone")
            assert posted.delivered
            (report,) = ben.sync(circle)
            assert not [w for w in report.warnings if isinstance(w, Equivocation)]
            assert [p.text for p in ben.posts(circle)][-1] == "from the new phone"
            again = phone.restore(made.data, made.recovery_phrase)
            assert {r.outcome for r in again} == {"already_here"}
            assert [p.text for p in phone.posts(circle)][-1] == "from the new phone"
    finally:
        ben.close()


def test_a_group_left_after_the_backup_is_not_restored(tmp_path: Path,
                                                       relay: RelayProcess) -> None:
    ann, ben = open_client(tmp_path, "ann", relay), open_client(tmp_path, "ben", relay)
    try:
        group = ann.create_group("Small circle")
        ben.join(ann.create_invite(group, require_approval=False).uri)
        ann.sync(group)
        ben.sync(group)
        made = ben.backup()
        assert made.groups == 1
        ann.remove(group, ben.me(group).member_id)
        with open_client(tmp_path, "ben-laptop", relay) as laptop:
            (result,) = laptop.restore(made.data, made.recovery_phrase)
            assert result.outcome == "not_a_member" and result.group is None
            assert laptop.groups() == []
    finally:
        ann.close()
        ben.close()


def one_word_wrong(phrase: str) -> str:
    """*phrase* with its last word changed into another word of the list that the checksum
    refuses (the SDK says a word is mistyped)."""
    from mnemonic import Mnemonic

    words = Mnemonic("english")
    *first, last = phrase.split()
    return next(candidate for w in words.wordlist if w != last
                if not words.check(candidate := " ".join([*first, w])))


def _another_phrase(phrase: str) -> str:
    """A valid twelve-word phrase other than *phrase*."""
    from vault.crypto.backup import new_recovery_phrase

    while (other := new_recovery_phrase()) == phrase:
        pass
    return other


def test_a_join_still_waiting_is_left_out_and_said(tmp_path: Path, relay: RelayProcess) -> None:
    ann, ben = open_client(tmp_path, "ann", relay), open_client(tmp_path, "ben", relay)
    try:
        mine = ben.create_group("Ben's own")
        waiting = ann.create_group("Waiting room")
        ben.join(ann.create_invite(waiting).uri)  # an admin must let him in: pending
        made = ben.backup()
        assert (made.groups, made.left_out) == (1, 1)
        with open_client(tmp_path, "ben-laptop", relay) as laptop:
            results = laptop.restore(made.data, made.recovery_phrase)
            assert [(r.group_id, r.outcome) for r in results] == [(mine.group_id, "restored")]
    finally:
        ann.close()
        ben.close()
