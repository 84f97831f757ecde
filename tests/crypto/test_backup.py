"""The backup format (protocol §3.5): the recovery phrase's rules (PHRASE-1 ... PHRASE-3),
the contents' rules (BACKUP-1 ... BACKUP-5) on opened contents (no Argon2id per case), one
sealed round trip, and the check that keeps a key from elsewhere out unless the log
committed to it."""

from __future__ import annotations

from dataclasses import replace

import pytest
from mnemonic import Mnemonic

from tests.crypto.logfactory import LogFactory
from vault.crypto.backup import (
    HEADER_ENTRY,
    KEYS_PER_CHUNK,
    MAX_BACKUP_GROUPS,
    BackedUpGroup,
    Backup,
    backup_contents,
    decode_epoch_keys,
    encode_epoch_keys,
    new_recovery_phrase,
    normal_phrase,
    open_backup,
    read_backup,
    seal_backup,
)
from vault.crypto.encoding import Tag, Writer
from vault.crypto.epochs import key_matches_log, new_epoch_key
from vault.crypto.errors import KeystoreCorruptError, KeystoreLockedError, RecoveryPhraseError
from vault.crypto.identity import Identity
from vault.crypto.identity_export import ExportedIdentity
from vault.crypto.keystore import KeystoreContents

PHRASE = "legal winner thank year wave sausage worth useful legal winner thank yellow"
RELAY = "https://relay.example.org"


def _group(n: int, keys: dict[int, bytes] | None = None) -> BackedUpGroup:
    exported = ExportedIdentity(Identity.generate(), bytes([n]) * 32, RELAY,
                                post_marks={bytes([9]) * 32: 4})
    return BackedUpGroup(exported, keys or {0: bytes([n]) * 32, 3: bytes([n + 1]) * 32})


def _contents_with(contents: KeystoreContents, name: str, secret: bytes | None
                   ) -> KeystoreContents:
    entries = [(n, s) for n, s in contents.entries if n != name]
    if secret is not None:
        entries.append((name, secret))
    return KeystoreContents(tuple(entries))


def test_a_recovery_phrase_is_twelve_words_of_128_random_bits() -> None:
    phrase = new_recovery_phrase(lambda n: bytes(range(n)))
    assert phrase == Mnemonic("english").to_mnemonic(bytes(range(16)))
    assert len(phrase.split()) == 12 and normal_phrase(phrase) == phrase
    assert new_recovery_phrase() != new_recovery_phrase()


def test_a_phrase_is_taken_whatever_its_spacing_and_capitals() -> None:
    typed = "  LEGAL winner\nthank year\twave sausage worth useful legal winner thank Yellow "
    assert normal_phrase(typed) == PHRASE


@pytest.mark.parametrize(("typed", "message"), [
    ("legal winner thank year", "12 words; 4 were given"),  # PHRASE-1
    (PHRASE.replace("sausage", "sausages"), "word 6 "),  # PHRASE-2
    (PHRASE.replace("yellow", "winner"), "mistyped"),  # PHRASE-3 (checksum)
])
def test_words_that_are_no_phrase_are_refused_before_any_costly_work(
        typed: str, message: str) -> None:
    with pytest.raises(RecoveryPhraseError, match=message) as caught:
        open_backup(b"not even a keystore", typed)
    assert caught.value.code == "recovery_phrase_invalid"


def test_a_backup_opens_with_its_phrase_only() -> None:
    backup = Backup(1_700_000_000_000, (_group(1), _group(2)))
    data = seal_backup(backup, PHRASE)
    back = open_backup(data, PHRASE.upper())
    assert back.made_at_ms == backup.made_at_ms
    assert [g.exported.group_id for g in back.groups] == [bytes([1]) * 32, bytes([2]) * 32]
    assert [dict(g.epoch_keys) for g in back.groups] == [
        dict(g.epoch_keys) for g in backup.groups]
    assert back.groups[0].exported.identity.encode_private() == \
        backup.groups[0].exported.identity.encode_private()
    assert dict(back.groups[1].exported.post_marks) == {bytes([9]) * 32: 4}
    with pytest.raises(KeystoreLockedError):
        open_backup(data, "abandon " * 11 + "about")


def test_keys_beyond_one_chunk_come_back_in_order() -> None:
    keys = {epoch: new_epoch_key() for epoch in range(KEYS_PER_CHUNK + 5)}
    contents = backup_contents(Backup(0, (_group(1, keys),)))
    assert contents.get(f"{HEADER_ENTRY}/0/epoch-keys/1") is not None
    assert dict(read_backup(contents).groups[0].epoch_keys) == keys


def test_backup_1_a_keystore_without_the_header_is_not_a_backup() -> None:
    contents = backup_contents(Backup(0, (_group(1),)))
    with pytest.raises(KeystoreCorruptError, match="not a Vault backup"):
        read_backup(_contents_with(contents, HEADER_ENTRY, None))
    with pytest.raises(KeystoreCorruptError, match="damaged"):
        read_backup(_contents_with(contents, HEADER_ENTRY, b"\x1c\x01short"))


def test_backup_2_a_header_listing_too_many_groups_is_refused() -> None:
    contents = backup_contents(Backup(0, ()))
    header = Writer(Tag.BACKUP_HEADER).u64(0).u32(MAX_BACKUP_GROUPS + 1).finish()
    with pytest.raises(KeystoreCorruptError, match="more than"):
        read_backup(_contents_with(contents, HEADER_ENTRY, header))


def test_backup_3_a_group_missing_its_entries_is_refused() -> None:
    contents = backup_contents(Backup(0, (_group(1),)))
    with pytest.raises(KeystoreCorruptError, match="not a Vault backup"):
        read_backup(_contents_with(contents, f"{HEADER_ENTRY}/0/identity", None))


def test_backup_4_epoch_keys_out_of_order_or_too_many_are_refused() -> None:
    contents = backup_contents(Backup(0, (_group(1),)))
    name = f"{HEADER_ENTRY}/0/epoch-keys/0"
    backwards = Writer(Tag.EPOCH_KEYS).u32(2).u64(3).fixed(bytes(32), 32).u64(1) \
        .fixed(bytes(32), 32).finish()
    with pytest.raises(KeystoreCorruptError, match="out of order"):
        read_backup(_contents_with(contents, name, backwards))
    too_many = Writer(Tag.EPOCH_KEYS).u32(KEYS_PER_CHUNK + 1).finish()
    with pytest.raises(KeystoreCorruptError, match="damaged"):
        read_backup(_contents_with(contents, name, too_many))


def test_backup_5_a_group_listed_twice_is_refused() -> None:
    first, second = _group(1), _group(2)
    second = replace(second, exported=replace(second.exported, group_id=bytes([1]) * 32))
    with pytest.raises(ValueError, match="twice"):
        backup_contents(Backup(0, (first, second)))
    contents = backup_contents(Backup(0, (first, _group(2))))
    clash = _contents_with(contents, f"{HEADER_ENTRY}/1/group", bytes([1]) * 32)
    with pytest.raises(KeystoreCorruptError, match="twice"):
        read_backup(clash)


def test_epoch_keys_encoding() -> None:
    keys = [(0, bytes(32)), (7, bytes(range(32)))]
    data = encode_epoch_keys(keys)
    assert data[:2] == bytes((Tag.EPOCH_KEYS, 1)) and len(data) == 2 + 4 + 2 * 40
    assert decode_epoch_keys(data) == keys


def test_a_key_is_believed_only_where_the_log_committed_to_it() -> None:
    f = LogFactory()  # the owner and the genesis entry: epoch 0 (a zero group id, §5.1)
    state, key = f.state, f.epoch_keys[0]
    assert key_matches_log(state, 0, key)
    assert not key_matches_log(state, 0, new_epoch_key())
    assert not key_matches_log(state, 1, key)
    assert not key_matches_log(state, 0, key[:31])
