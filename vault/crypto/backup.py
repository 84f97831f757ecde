"""A backup a person keeps offline: every group's identity, what the device had verified,
and the epoch keys it held, sealed under a recovery phrase of twelve words.

The recovery phrase is 16 random bytes written as twelve words of the BIP-39 English list
(its four-bit checksum catches most misspelled or missing words before the costly key
derivation runs; the checksum protects nothing, the 128 random bits do). The backup itself
is a keystore file (:mod:`vault.crypto.keystore`: Argon2id + XChaCha20-Poly1305, the same
format and the same minimum cost) sealed under the phrase's normal form (:func:`normal_phrase`:
NFKD, lower case, words separated by one space), whose contents hold::

    "vault/backup"                        BackupHeader (Tag.BACKUP_HEADER)
    "vault/backup/<i>/..."                group i (0 <= i < count): the entries of an
                                          exported identity (identity_export.py), and
    "vault/backup/<i>/epoch-keys/0", ...  EpochKeys chunks (Tag.EPOCH_KEYS), no holes

BackupHeader: ``made_at_ms u64 || count u32`` (count <= :data:`MAX_BACKUP_GROUPS`).
EpochKeys: ``count u32`` (<= :data:`KEYS_PER_CHUNK`), then count x (epoch u64, key[32]),
epochs strictly increasing across a group's chunks.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from mnemonic import Mnemonic

from vault.crypto.commitments import EPOCH_KEY_SIZE
from vault.crypto.encoding import U64_MAX, Reader, Tag, Writer
from vault.crypto.errors import KeystoreCorruptError, MalformedError, RecoveryPhraseError
from vault.crypto.identity_export import ExportedIdentity, identity_entries, read_exported
from vault.crypto.keystore import KdfParams, KeystoreContents, open_keystore, seal_keystore
from vault.crypto.primitives import RandomSource, default_random, draw

HEADER_ENTRY: Final = "vault/backup"
MAX_BACKUP_GROUPS: Final = 1000
KEYS_PER_CHUNK: Final = 1600
PHRASE_WORDS: Final = 12
PHRASE_ENTROPY: Final = 16  # bytes: 128 bits, twelve words with a 4-bit checksum
_WORDS: Final = Mnemonic("english")
_KNOWN: Final = frozenset(_WORDS.wordlist)
_DEFAULT_PARAMS: Final = KdfParams()
_NO_KEYS: Final[Mapping[int, bytes]] = MappingProxyType({})
_NOT_A_BACKUP: Final = "a Vault backup"
_SPACES: Final = re.compile("[\t\n\v\f\r ]+")  # ASCII white space (after NFKD: U+3000 too)


@dataclass(frozen=True, repr=False)
class BackedUpGroup:
    """One group in a backup: its identity with the device's checkpoint and post marks,
    and the epoch keys the device held."""

    exported: ExportedIdentity
    epoch_keys: Mapping[int, bytes] = field(default_factory=lambda: _NO_KEYS)

    def __repr__(self) -> str:
        return f"BackedUpGroup(group_id={self.exported.group_id.hex()[:16]}..., " \
               f"epochs={sorted(self.epoch_keys)})"


@dataclass(frozen=True)
class Backup:
    made_at_ms: int
    groups: tuple[BackedUpGroup, ...]


def new_recovery_phrase(random: RandomSource = default_random) -> str:
    """Twelve words from 128 random bits: shown once, written on paper by the person."""
    return str(_WORDS.to_mnemonic(draw(random, PHRASE_ENTROPY)))


def normal_phrase(text: str) -> str:
    """The phrase as the key derivation takes it: NFKD, lower case, split on runs of ASCII
    white space, one space between words (whatever spacing, capitals or line breaks it was
    typed with; NFKD makes full-width letters and U+3000 plain). A phrase that is not
    twelve words of the list with a valid checksum: :class:`RecoveryPhraseError`, before
    any costly work, saying which word is unknown where one is."""
    folded = unicodedata.normalize("NFKD", text).lower()
    words = [w for w in _SPACES.split(folded) if w]
    if len(words) != PHRASE_WORDS:
        raise RecoveryPhraseError(
            f"a recovery phrase is {PHRASE_WORDS} words; {len(words)} were given",
            words_given=len(words))
    for index, word in enumerate(words, 1):
        if word not in _KNOWN:
            raise RecoveryPhraseError(
                f"word {index} of the recovery phrase is not one Vault uses; check its "
                "spelling on your paper", unknown_word=index)
    phrase = " ".join(words)
    if not _WORDS.check(phrase):
        raise RecoveryPhraseError(
            "these words are not a recovery phrase: one is mistyped or two are swapped; "
            "check them against your paper")
    return phrase


def encode_epoch_keys(keys: list[tuple[int, bytes]]) -> bytes:
    """One EpochKeys chunk (at most :data:`KEYS_PER_CHUNK` keys, epochs increasing)."""
    if len(keys) > KEYS_PER_CHUNK:
        raise ValueError(f"an epoch-keys chunk holds at most {KEYS_PER_CHUNK} keys")
    writer = Writer(Tag.EPOCH_KEYS).u32(len(keys))
    for epoch, key in keys:
        if not 0 <= epoch <= U64_MAX:
            raise ValueError("an epoch is a u64")
        writer.u64(epoch).fixed(key, EPOCH_KEY_SIZE)
    return writer.finish()


def decode_epoch_keys(data: bytes) -> list[tuple[int, bytes]]:
    reader = Reader(data, "epoch keys", Tag.EPOCH_KEYS)
    count = reader.u32("count")
    if count > KEYS_PER_CHUNK:
        raise MalformedError(f"epoch keys: {count} keys, at most {KEYS_PER_CHUNK}")
    keys = [(reader.u64("epoch"), reader.fixed(EPOCH_KEY_SIZE, "key")) for _ in range(count)]
    reader.done()
    return keys


def seal_backup(backup: Backup, phrase: str, *, params: KdfParams = _DEFAULT_PARAMS,
                random: RandomSource = default_random) -> bytes:
    """The backup file's bytes, sealed under *phrase* (checked and normalised first)."""
    return seal_keystore(backup_contents(backup), normal_phrase(phrase), params=params,
                         random=random)


def open_backup(data: bytes, phrase: str) -> Backup:
    """Open a backup file: :class:`RecoveryPhraseError` for words that are no recovery
    phrase, the keystore's errors (a wrong phrase: ``KeystoreLockedError``), and
    :class:`KeystoreCorruptError` for a keystore that is not a valid backup
    (BACKUP-1 ... BACKUP-5)."""
    return read_backup(open_keystore(data, normal_phrase(phrase)))


def backup_contents(backup: Backup) -> KeystoreContents:
    """The keystore contents a backup is sealed as."""
    if len(backup.groups) > MAX_BACKUP_GROUPS:
        raise ValueError(f"a backup holds at most {MAX_BACKUP_GROUPS} groups")
    if len({g.exported.group_id for g in backup.groups}) != len(backup.groups):
        raise ValueError("a group is in the backup twice")
    header = Writer(Tag.BACKUP_HEADER).u64(backup.made_at_ms).u32(len(backup.groups)).finish()
    entries: list[tuple[str, bytes]] = [(HEADER_ENTRY, header)]
    for index, group in enumerate(backup.groups):
        prefix = f"{HEADER_ENTRY}/{index}/"
        entries.extend(identity_entries(group.exported, prefix))
        keys = sorted(group.epoch_keys.items())
        for chunk, start in enumerate(range(0, len(keys), KEYS_PER_CHUNK)):
            entries.append((f"{prefix}epoch-keys/{chunk}",
                            encode_epoch_keys(keys[start:start + KEYS_PER_CHUNK])))
    return KeystoreContents(tuple(entries))


def read_backup(contents: KeystoreContents) -> Backup:
    """The backup in opened keystore contents (BACKUP-1 ... BACKUP-5)."""
    raw = contents.get(HEADER_ENTRY)
    if raw is None:
        raise KeystoreCorruptError("this file is not a Vault backup")
    try:
        reader = Reader(raw, "backup header", Tag.BACKUP_HEADER)
        made_at_ms, count = reader.u64("made at"), reader.u32("groups")
        reader.done()
    except MalformedError:
        raise KeystoreCorruptError("this file is a Vault backup, but it is damaged") from None
    if count > MAX_BACKUP_GROUPS:
        raise KeystoreCorruptError(
            f"this backup lists {count} groups, more than the {MAX_BACKUP_GROUPS} a backup holds")
    groups: list[BackedUpGroup] = []
    seen: set[bytes] = set()
    for index in range(count):
        prefix = f"{HEADER_ENTRY}/{index}/"
        exported = read_exported(contents, prefix, _NOT_A_BACKUP)
        if exported.group_id in seen:
            raise KeystoreCorruptError("this backup lists a group twice")
        seen.add(exported.group_id)
        groups.append(BackedUpGroup(exported, MappingProxyType(_keys(contents, prefix))))
    return Backup(made_at_ms, tuple(groups))


def _keys(contents: KeystoreContents, prefix: str) -> dict[int, bytes]:
    keys: dict[int, bytes] = {}
    last = -1
    index = 0
    while (raw := contents.get(f"{prefix}epoch-keys/{index}")) is not None:
        try:
            chunk = decode_epoch_keys(raw)
        except MalformedError:
            raise KeystoreCorruptError("this file is a Vault backup, but it is damaged") \
                from None
        for epoch, key in chunk:
            if epoch <= last:
                raise KeystoreCorruptError(
                    "this file is a Vault backup, but it is damaged (epochs out of order)")
            keys[epoch] = key
            last = epoch
        index += 1
    return keys
