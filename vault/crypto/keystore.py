"""The keystore: a member's private keys at rest, sealed under a passphrase.

Bytes in, bytes out; :mod:`vault.keyfile` is the one place these bytes touch a disk.

Wire form of a keystore file (``Tag.KEYSTORE_FILE``)::

    tag 0x0F || version 1                    2 bytes
    time_cost u32 || memory_kib u32 || parallelism u32
    salt[16] || nonce[24]                    (54 header bytes in all)
    var(ciphertext)                          u32 length || XChaCha20-Poly1305 output

* key  = Argon2id(NFC(passphrase) as UTF-8, salt, time_cost, memory_kib, parallelism,
  32 bytes, Argon2 version 0x13);
* AAD  = ``frame("vault/v1/keystore") || header`` (the 54 bytes above), so the stored
  Argon2 parameters and salt cannot be lowered or swapped without the file failing to open;
* plaintext = :class:`KeystoreContents` encoding.

The passphrase is Unicode-normalised to NFC first, so the same passphrase typed on two
keyboards that compose accents differently opens the same file.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from functools import cached_property
from typing import Final

from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw

from vault.crypto import labels
from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer
from vault.crypto.errors import (
    DecryptionError,
    KeystoreCorruptError,
    KeystoreError,
    KeystoreLockedError,
    MalformedError,
    PassphraseRejectedError,
    TooLargeError,
    WeakKdfParametersError,
)
from vault.crypto.limits import (
    MAX_KEYSTORE_CONTENTS_BYTES,
    MAX_KEYSTORE_ENTRIES,
    MAX_KEYSTORE_NAME_BYTES,
    MAX_KEYSTORE_SECRET_BYTES,
)
from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    KEY_SIZE,
    RandomSource,
    aead_open,
    aead_seal,
    default_random,
    draw,
    frame,
)

SALT_SIZE: Final = 16
HEADER_SIZE: Final = 2 + 3 * 4 + SALT_SIZE + AEAD_NONCE_SIZE
ARGON2_VERSION: Final = 0x13

# RFC 9106's second recommended parameter set is the floor.
MIN_TIME_COST: Final = 3
MIN_MEMORY_KIB: Final = 64 * 1024
MIN_PARALLELISM: Final = 4
# Sanity ceilings, so a hostile file cannot make us spin or allocate absurd memory.
MAX_TIME_COST: Final = 100
MAX_MEMORY_KIB: Final = 4 * 1024 * 1024
MAX_PARALLELISM: Final = 64

MAX_FILE_BYTES: Final = HEADER_SIZE + 4 + MAX_KEYSTORE_CONTENTS_BYTES + AEAD_TAG_SIZE

_LOCKED = "wrong passphrase, or the keystore file was altered"


@dataclass(frozen=True)
class KdfParams:
    """Argon2id cost parameters, stored in every keystore file so they can be raised later."""

    time_cost: int = 3
    memory_kib: int = 65536
    parallelism: int = 4

    def __post_init__(self) -> None:
        for name in ("time_cost", "memory_kib", "parallelism"):
            if type(getattr(self, name)) is not int:
                raise TypeError(f"KdfParams.{name} must be an int")
        if (
            self.time_cost < MIN_TIME_COST
            or self.memory_kib < MIN_MEMORY_KIB
            or self.parallelism < MIN_PARALLELISM
        ):
            raise WeakKdfParametersError(
                "the keystore's Argon2id parameters are weaker than this version accepts "
                f"(at least {MIN_TIME_COST} passes, {MIN_MEMORY_KIB // 1024} MiB of memory "
                f"and {MIN_PARALLELISM} lanes)"
            )
        if not self.within_ceilings():
            raise ValueError(
                f"Argon2id parameters above the ceilings (at most {MAX_TIME_COST} passes, "
                f"{MAX_MEMORY_KIB // (1024 * 1024)} GiB of memory, {MAX_PARALLELISM} lanes)"
            )

    def within_ceilings(self) -> bool:
        return _within_ceilings(self.time_cost, self.memory_kib, self.parallelism)


def _within_ceilings(time_cost: int, memory_kib: int, parallelism: int) -> bool:
    return (
        time_cost <= MAX_TIME_COST
        and memory_kib <= MAX_MEMORY_KIB
        and parallelism <= MAX_PARALLELISM
    )


@dataclass(frozen=True, repr=False)
class KeystoreContents:
    """Named secrets (for example one private identity per group), in a fixed order.

    Wire form (``Tag.KEYSTORE_CONTENTS``): ``count u32`` then, per entry,
    ``text(name) || var(secret)``. Names are 1..255 UTF-8 bytes and unique; a secret is
    at most 64 KiB; at most 10,000 entries and 16 MiB in all.
    """

    entries: tuple[tuple[str, bytes], ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.entries, tuple):
            raise TypeError("KeystoreContents.entries must be a tuple of (name, secret) pairs")
        if len(self.entries) > MAX_KEYSTORE_ENTRIES:
            raise TooLargeError(f"a keystore holds at most {MAX_KEYSTORE_ENTRIES} entries")
        seen: set[str] = set()
        for entry in self.entries:
            if not (isinstance(entry, tuple) and len(entry) == 2):
                raise TypeError("each keystore entry is a (name, secret) pair")
            name, secret = entry
            if not isinstance(name, str) or not isinstance(secret, bytes):
                raise TypeError("a keystore entry name is a str and its secret is bytes")
            try:
                size = len(name.encode("utf-8"))
            except UnicodeEncodeError:
                raise ValueError("a keystore entry name must be valid Unicode text") from None
            if not 0 < size <= MAX_KEYSTORE_NAME_BYTES:
                raise ValueError(
                    f"a keystore entry name is 1 to {MAX_KEYSTORE_NAME_BYTES} UTF-8 bytes"
                )
            if name in seen:
                raise ValueError("keystore entry names must be unique")
            seen.add(name)
            if len(secret) > MAX_KEYSTORE_SECRET_BYTES:
                raise TooLargeError(
                    f"a keystore secret is at most {MAX_KEYSTORE_SECRET_BYTES} bytes"
                )
        if len(self.encode()) > MAX_KEYSTORE_CONTENTS_BYTES:
            raise TooLargeError(
                f"a keystore holds at most {MAX_KEYSTORE_CONTENTS_BYTES} bytes in all"
            )

    @cached_property
    def _index(self) -> dict[str, bytes]:
        return dict(self.entries)

    def get(self, name: str) -> bytes | None:
        return self._index.get(name)

    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.entries)

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __len__(self) -> int:
        return len(self.entries)

    def with_entry(self, name: str, secret: bytes) -> KeystoreContents:
        """A copy with *name* set to *secret* (replaced in place, or appended)."""
        if name in self._index:
            return KeystoreContents(tuple((n, secret if n == name else s) for n, s in self.entries))
        return KeystoreContents((*self.entries, (name, secret)))

    def without_entry(self, name: str) -> KeystoreContents:
        return KeystoreContents(tuple((n, s) for n, s in self.entries if n != name))

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        writer = Writer(Tag.KEYSTORE_CONTENTS).u32(len(self.entries))
        for name, secret in self.entries:
            writer.text(name).var(secret)
        return writer.finish()

    @classmethod
    def decode(cls, data: bytes) -> KeystoreContents:
        reader = Reader(data, "keystore contents", Tag.KEYSTORE_CONTENTS)
        count = reader.u32("entry count")
        if count > MAX_KEYSTORE_ENTRIES:
            raise MalformedError(f"keystore contents: more than {MAX_KEYSTORE_ENTRIES} entries")
        entries = []
        for _ in range(count):
            name = reader.text(MAX_KEYSTORE_NAME_BYTES, "entry name")
            entries.append((name, reader.var(MAX_KEYSTORE_SECRET_BYTES, "entry secret")))
        reader.done()
        try:
            return cls(tuple(entries))
        except (ValueError, TooLargeError) as exc:
            raise MalformedError(f"keystore contents: {exc}") from None

    def __repr__(self) -> str:
        return f"KeystoreContents(names={self.names()!r})"


def _header(params: KdfParams, salt: bytes, nonce: bytes) -> bytes:
    return (
        Writer(Tag.KEYSTORE_FILE)
        .u32(params.time_cost)
        .u32(params.memory_kib)
        .u32(params.parallelism)
        .fixed(salt, SALT_SIZE)
        .fixed(nonce, AEAD_NONCE_SIZE)
        .finish()
    )


def _passphrase_bytes(passphrase: str) -> bytes:
    if not isinstance(passphrase, str):
        raise TypeError("the passphrase must be text (str)")
    return unicodedata.normalize("NFC", passphrase).encode("utf-8")


def _kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """Argon2id. Tests may replace this with a cheap stand-in; production never does."""
    try:
        return hash_secret_raw(
            secret,
            salt,
            time_cost=params.time_cost,
            memory_cost=params.memory_kib,
            parallelism=params.parallelism,
            hash_len=KEY_SIZE,
            type=Type.ID,
            version=ARGON2_VERSION,
        )
    except HashingError:
        raise KeystoreError(
            "this device could not run the passphrase key derivation "
            "(it may not have enough free memory for the keystore's parameters)"
        ) from None


@dataclass(frozen=True)
class _Parsed:
    params: KdfParams
    header: bytes
    salt: bytes
    nonce: bytes
    ciphertext: bytes = field(repr=False)


def _parse(data: bytes) -> _Parsed:
    if not isinstance(data, bytes | bytearray | memoryview):
        raise TypeError("a keystore is bytes")
    if len(data) == 0:
        raise KeystoreCorruptError("the keystore file is empty")
    if data[0] != Tag.KEYSTORE_FILE:
        raise KeystoreCorruptError("this file is not a Vault keystore")
    if len(data) >= 2 and data[1] != PROTOCOL_VERSION:
        raise KeystoreCorruptError(
            "this keystore was written by a different version of Vault; update Vault to open it"
        )
    try:
        reader = Reader(data, "keystore", Tag.KEYSTORE_FILE)
        time_cost = reader.u32("time cost")
        memory_kib = reader.u32("memory cost")
        parallelism = reader.u32("parallelism")
        salt = reader.fixed(SALT_SIZE, "salt")
        nonce = reader.fixed(AEAD_NONCE_SIZE, "nonce")
        header = reader.consumed()
        ciphertext = reader.var(MAX_KEYSTORE_CONTENTS_BYTES + AEAD_TAG_SIZE, "ciphertext")
        reader.done()
    except MalformedError as exc:
        raise KeystoreCorruptError(
            f"the keystore file is damaged or truncated ({exc.message})"
        ) from None
    if len(ciphertext) < AEAD_TAG_SIZE:
        raise KeystoreCorruptError("the keystore file is damaged or truncated")
    if not _within_ceilings(time_cost, memory_kib, parallelism):
        raise KeystoreCorruptError(
            "the keystore file asks for implausibly large Argon2id parameters; "
            "it is damaged or not genuine"
        )
    params = KdfParams(time_cost, memory_kib, parallelism)  # WeakKdfParametersError
    return _Parsed(params, header, salt, nonce, ciphertext)


def keystore_params(data: bytes) -> KdfParams:
    """The Argon2id parameters a keystore was sealed with (no passphrase needed).

    Lets a client decide to re-seal with stronger parameters. Raises like
    :func:`open_keystore` does for a file that is not a keystore.
    """
    return _parse(data).params


def seal_keystore(
    contents: KeystoreContents,
    passphrase: str,
    *,
    params: KdfParams = KdfParams(),
    random: RandomSource = default_random,
) -> bytes:
    """Encrypt *contents* under *passphrase*.

    Draws ``salt = random(16)`` then ``nonce = random(24)``. Refuses an empty passphrase
    (:class:`PassphraseRejectedError`) and weak parameters (:class:`WeakKdfParametersError`).
    """
    if not isinstance(contents, KeystoreContents):
        raise TypeError("seal_keystore seals a KeystoreContents")
    if not isinstance(params, KdfParams):
        raise TypeError("params must be KdfParams")
    try:
        secret = _passphrase_bytes(passphrase)
    except UnicodeEncodeError:
        raise PassphraseRejectedError(
            "the passphrase contains characters that are not text"
        ) from None
    if not secret:
        raise PassphraseRejectedError(
            "choose a passphrase: a keystore cannot be sealed without one"
        )
    salt = draw(random, SALT_SIZE)
    nonce = draw(random, AEAD_NONCE_SIZE)
    header = _header(params, salt, nonce)
    key = _kdf(secret, salt, params)
    ciphertext = aead_seal(key, nonce, contents.encode(), frame(labels.KEYSTORE) + header)
    return Writer().raw(header).var(ciphertext).finish()


def open_keystore(data: bytes, passphrase: str) -> KeystoreContents:
    """Decrypt a keystore.

    Raises :class:`KeystoreCorruptError` (not a keystore, truncated, unknown version,
    implausible parameters), :class:`WeakKdfParametersError` (parameters below the floor)
    or :class:`KeystoreLockedError` (wrong passphrase, or the file was altered).
    """
    parsed = _parse(data)
    try:
        secret = _passphrase_bytes(passphrase)
    except UnicodeEncodeError:
        raise KeystoreLockedError(_LOCKED) from None
    if not secret:
        raise KeystoreLockedError(_LOCKED)
    key = _kdf(secret, parsed.salt, parsed.params)
    try:
        plaintext = aead_open(key, parsed.nonce, parsed.ciphertext,
                              frame(labels.KEYSTORE) + parsed.header)
    except DecryptionError:  # the keystore's own, more helpful, error for the same cause
        raise KeystoreLockedError(_LOCKED) from None
    try:
        return KeystoreContents.decode(plaintext)
    except MalformedError:
        raise KeystoreCorruptError(
            "the keystore opened, but what it holds is damaged (written by a faulty client?)"
        ) from None
