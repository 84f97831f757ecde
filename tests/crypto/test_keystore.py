"""The keystore: Argon2id + XChaCha20-Poly1305, parameters stored and authenticated.

Real Argon2id at 64 MiB costs ~0.1 s, so only a handful of tests run it; the exhaustive
byte-flipping and property tests swap in a cheap stand-in for the KDF (``cheap_kdf``),
which keeps every other part of the construction (header, AAD, AEAD, parsing) real.
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable, Iterator

import nacl.bindings
import pytest
from argon2.exceptions import HashingError
from argon2.low_level import Type, hash_secret_raw
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.crypto import keystore, labels
from vault.crypto.encoding import Tag, Writer
from vault.crypto.errors import (
    KeystoreCorruptError,
    KeystoreError,
    KeystoreLockedError,
    MalformedError,
    PassphraseRejectedError,
    TooLargeError,
    WeakKdfParametersError,
)
from vault.crypto.identity import Identity
from vault.crypto.keystore import (
    HEADER_SIZE,
    KdfParams,
    KeystoreContents,
    keystore_params,
    open_keystore,
    seal_keystore,
)
from vault.crypto.limits import MAX_KEYSTORE_ENTRIES as MAX_ENTRIES
from vault.crypto.limits import MAX_KEYSTORE_SECRET_BYTES as MAX_SECRET_BYTES
from vault.crypto.primitives import frame

PASSPHRASE = "correct horse battery staple"
CONTENTS = KeystoreContents(
    (
        ("identity:group-a", Identity(bytes([1]) * 32, bytes([2]) * 32).encode_private()),
        ("local-store-key", bytes(range(32))),
    )
)
LOCKED = "wrong passphrase, or the keystore file was altered"


def counter_random(start: int = 0) -> Callable[[int], bytes]:
    state = [start]

    def draw(n: int) -> bytes:
        out = bytes((state[0] + i) % 256 for i in range(n))
        state[0] += n
        return out

    return draw


def cheap_kdf_fn(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    cost = f"{params.time_cost},{params.memory_kib},{params.parallelism}".encode()
    return hashlib.blake2b(secret + b"|" + salt + b"|" + cost, digest_size=32).digest()


@pytest.fixture
def cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[KdfParams]]:
    calls: list[KdfParams] = []

    def kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
        calls.append(params)
        return cheap_kdf_fn(secret, salt, params)

    monkeypatch.setattr(keystore, "_kdf", kdf)
    yield calls


@pytest.fixture
def no_kdf(monkeypatch: pytest.MonkeyPatch) -> None:
    def kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
        raise AssertionError("the KDF must not run for this file")

    monkeypatch.setattr(keystore, "_kdf", kdf)


@pytest.fixture(scope="module")
def sealed() -> bytes:
    """One real (Argon2id) keystore, sealed with pinned randomness."""
    return seal_keystore(CONTENTS, PASSPHRASE, random=counter_random())


def cheap_sealed() -> bytes:
    original = keystore._kdf
    keystore._kdf = cheap_kdf_fn
    try:
        return seal_keystore(CONTENTS, PASSPHRASE, random=counter_random())
    finally:
        keystore._kdf = original


def forge(params: tuple[int, int, int], body: bytes = bytes(32)) -> bytes:
    """A structurally valid file with arbitrary (unvalidated) parameters."""
    t, m, p = params
    header = Writer(Tag.KEYSTORE_FILE).u32(t).u32(m).u32(p).fixed(bytes(40), 40).finish()
    return header + Writer().var(body).finish()


# --- real Argon2id ---------------------------------------------------------------------


# Pinned: salt = 00..0f, nonce = 10..27 from counter_random(), default parameters.
PINNED_PREFIX = bytes.fromhex(
    "0f01"
    "00000003"
    "00010000"
    "00000004"
    "000102030405060708090a0b0c0d0e0f"
    "101112131415161718191a1b1c1d1e1f2021222324252627"
)
PINNED_CIPHERTEXT = bytes.fromhex(
    "3291bfa06578a8e356c6d6cb7904389593c4d47b70a66958cfbbc4bb82383316edc67a448df4abc1"
    "e703086e6b6b2e416bb0f182315ad5a7e87685cfa5e1fb1161e9f89f4a4d2f3916a1cce6d92acd7a"
    "a7b6bfec4f8f230c764991e1820e0622d1727f298623d8ce818257c0243b5302afe50acde9e00266"
    "047ce4d9a194121d922edb07bb644696859f558cb4155db9dc0e67f89617f5b0a365d2df6753e24c"
    "557334889b7d37"
)


def test_pinned_randomness_gives_exact_bytes(sealed: bytes) -> None:
    assert sealed.startswith(PINNED_PREFIX)
    assert len(PINNED_PREFIX) == HEADER_SIZE
    # Rebuild the file independently from the documented construction.
    key = hash_secret_raw(
        PASSPHRASE.encode(), bytes(range(16)), 3, 65536, 4, 32, Type.ID, version=0x13
    )
    aad = frame(b"vault/v1/keystore") + PINNED_PREFIX
    ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        CONTENTS.encode(), aad, bytes(range(16, 40)), key
    )
    assert sealed == PINNED_PREFIX + len(ct).to_bytes(4, "big") + ct
    assert sealed == PINNED_PREFIX + (len(PINNED_CIPHERTEXT)).to_bytes(4, "big") + PINNED_CIPHERTEXT


def test_round_trip_and_wrong_passphrase(sealed: bytes) -> None:
    assert open_keystore(sealed, PASSPHRASE) == CONTENTS
    with pytest.raises(KeystoreLockedError, match=LOCKED) as info:
        open_keystore(sealed, PASSPHRASE + "!")
    assert PASSPHRASE not in str(info.value)


@pytest.mark.parametrize(
    ("position", "region"),
    [(13, "parallelism 4 -> 5"), (20, "salt"), (40, "nonce"), (HEADER_SIZE + 4, "ciphertext")],
)
def test_real_kdf_rejects_changed_bytes(sealed: bytes, position: int, region: str) -> None:
    changed = bytearray(sealed)
    changed[position] ^= 0x01
    with pytest.raises(KeystoreLockedError, match=LOCKED):
        open_keystore(bytes(changed), PASSPHRASE)


def test_stored_parameters_are_honoured() -> None:
    params = KdfParams(time_cost=4, memory_kib=65536 + 1024, parallelism=4)
    data = seal_keystore(CONTENTS, PASSPHRASE, params=params, random=counter_random(7))
    assert keystore_params(data) == params
    assert data[2:14] == bytes.fromhex("000000040001040000000004")
    salt, nonce = data[14:30], data[30:54]
    key = hash_secret_raw(PASSPHRASE.encode(), salt, 4, 65536 + 1024, 4, 32, Type.ID)
    aad = frame(labels.KEYSTORE) + data[:HEADER_SIZE]
    plain = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(data[58:], aad, nonce, key)
    assert plain == CONTENTS.encode()
    assert open_keystore(data, PASSPHRASE) == CONTENTS


# --- structure, with a cheap KDF --------------------------------------------------------


def test_every_single_byte_change_is_rejected(cheap_kdf: list[KdfParams]) -> None:
    data = cheap_sealed()
    assert open_keystore(data, PASSPHRASE) == CONTENTS
    length_field = range(HEADER_SIZE, HEADER_SIZE + 4)
    for position in range(len(data)):
        for delta in range(1, 256):
            changed = bytearray(data)
            changed[position] = (changed[position] + delta) % 256
            try:
                open_keystore(bytes(changed), PASSPHRASE)
            except KeystoreLockedError:
                assert position >= 2 and position not in length_field
            except WeakKdfParametersError:
                assert 2 <= position < 14
            except KeystoreCorruptError:
                assert position < 14 or position in length_field
            else:
                pytest.fail(f"a change at byte {position} was accepted")


def test_every_truncation_and_extension_is_corrupt(cheap_kdf: list[KdfParams]) -> None:
    data = cheap_sealed()
    for end in range(len(data)):
        with pytest.raises(KeystoreCorruptError):
            open_keystore(data[:end], PASSPHRASE)
    with pytest.raises(KeystoreCorruptError, match="trailing"):
        open_keystore(data + b"\x00", PASSPHRASE)
    assert cheap_kdf == []  # no key was derived for any of them


def test_not_a_keystore_and_unknown_version(no_kdf: None) -> None:
    with pytest.raises(KeystoreCorruptError, match="empty"):
        open_keystore(b"", PASSPHRASE)
    with pytest.raises(KeystoreCorruptError, match="not a Vault keystore"):
        open_keystore(Identity(bytes(32), bytes(32)).public.encode(), PASSPHRASE)
    with pytest.raises(KeystoreCorruptError, match="not a Vault keystore"):
        open_keystore(b"hello, world", PASSPHRASE)
    newer = bytearray(forge((3, 65536, 4)))
    newer[1] = 2
    with pytest.raises(KeystoreCorruptError, match="version"):
        open_keystore(bytes(newer), PASSPHRASE)
    with pytest.raises(KeystoreCorruptError, match="truncated"):
        open_keystore(forge((3, 65536, 4), b"short"), PASSPHRASE)
    with pytest.raises(TypeError):
        open_keystore("text", PASSPHRASE)  # type: ignore[arg-type]


@pytest.mark.parametrize("params", [(2, 65536, 4), (3, 65535, 4), (3, 65536, 3), (0, 0, 0)])
def test_weak_parameters_are_refused_on_seal_and_open(
    params: tuple[int, int, int], no_kdf: None
) -> None:
    with pytest.raises(WeakKdfParametersError, match="weaker"):
        KdfParams(*params)
    with pytest.raises(WeakKdfParametersError):
        open_keystore(forge(params), PASSPHRASE)
    with pytest.raises(WeakKdfParametersError):
        keystore_params(forge(params))


@pytest.mark.parametrize(
    "params", [(101, 65536, 4), (3, 4 * 1024 * 1024 + 1, 4), (3, 65536, 65), (3, 2**32 - 1, 4)]
)
def test_absurd_parameters_are_refused_without_running_the_kdf(
    params: tuple[int, int, int], no_kdf: None
) -> None:
    with pytest.raises(ValueError, match="ceilings"):
        KdfParams(*params)
    with pytest.raises(KeystoreCorruptError, match="implausibly large"):
        open_keystore(forge(params), PASSPHRASE)


def test_kdf_params_types_and_ceilings_accepted() -> None:
    assert KdfParams(100, 4 * 1024 * 1024, 64).within_ceilings()
    with pytest.raises(TypeError):
        KdfParams(3.0, 65536, 4)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        KdfParams(True, 65536, 4)


def test_passphrases(cheap_kdf: list[KdfParams]) -> None:
    with pytest.raises(PassphraseRejectedError, match="choose a passphrase"):
        seal_keystore(CONTENTS, "")
    with pytest.raises(PassphraseRejectedError):
        seal_keystore(CONTENTS, "\ud800")
    with pytest.raises(TypeError):
        seal_keystore(CONTENTS, b"bytes")  # type: ignore[arg-type]
    composed = unicodedata.normalize("NFC", "café ñandú")
    decomposed = unicodedata.normalize("NFD", composed)
    assert composed != decomposed
    data = seal_keystore(CONTENTS, composed)
    assert open_keystore(data, decomposed) == CONTENTS
    calls = len(cheap_kdf)
    for wrong in ("", "\ud800"):
        with pytest.raises(KeystoreLockedError):
            open_keystore(data, wrong)
    assert len(cheap_kdf) == calls  # refused before deriving


def test_damaged_contents_inside_a_valid_seal_are_corrupt(cheap_kdf: list[KdfParams]) -> None:
    params, salt, nonce = KdfParams(), bytes(16), bytes(24)
    header = keystore._header(params, salt, nonce)
    key = cheap_kdf_fn(PASSPHRASE.encode(), salt, params)
    for plaintext in (b"not contents", CONTENTS.encode() + b"x"):
        ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, frame(labels.KEYSTORE) + header, nonce, key
        )
        with pytest.raises(KeystoreCorruptError, match="damaged"):
            open_keystore(header + Writer().var(ct).finish(), PASSPHRASE)


def test_aad_is_label_framed(cheap_kdf: list[KdfParams]) -> None:
    data = cheap_sealed()
    key = cheap_kdf_fn(PASSPHRASE.encode(), data[14:30], KdfParams())
    with pytest.raises(nacl.exceptions.CryptoError):  # header alone is not the AAD
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
            data[58:], data[:HEADER_SIZE], data[30:54], key
        )


def test_hashing_failure_is_a_keystore_error(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> bytes:
        raise HashingError("out of memory")

    monkeypatch.setattr(keystore, "hash_secret_raw", fail)
    with pytest.raises(KeystoreError, match="enough free memory"):
        seal_keystore(CONTENTS, PASSPHRASE)


entries_strategy = st.lists(
    st.tuples(st.text(min_size=1, max_size=40), st.binary(max_size=200)),
    max_size=8,
    unique_by=lambda e: e[0],
).map(tuple)


@settings(max_examples=40, deadline=None)
@given(entries_strategy, st.text(min_size=1, max_size=40), st.binary(min_size=40, max_size=40))
def test_seal_open_round_trip(
    entries: tuple[tuple[str, bytes], ...], passphrase: str, randomness: bytes
) -> None:
    contents = KeystoreContents(entries)
    stream = iter(randomness)
    original = keystore._kdf
    keystore._kdf = cheap_kdf_fn
    try:
        data = seal_keystore(
            contents, passphrase, random=lambda n: bytes(next(stream) for _ in range(n))
        )
        assert data[14:54] == randomness
        assert open_keystore(data, passphrase) == contents
    finally:
        keystore._kdf = original


# --- KeystoreContents -------------------------------------------------------------------


@given(entries_strategy)
def test_contents_round_trip(entries: tuple[tuple[str, bytes], ...]) -> None:
    contents = KeystoreContents(entries)
    assert KeystoreContents.decode(contents.encode()) == contents
    for name, secret in entries:
        assert contents.get(name) == secret and name in contents
    assert len(contents) == len(entries)


def test_contents_wire_layout() -> None:
    encoded = KeystoreContents((("a", b"xy"),)).encode()
    assert encoded == bytes([Tag.KEYSTORE_CONTENTS, 1, 0, 0, 0, 1, 0, 0, 0, 1]) + b"a" + (
        b"\x00\x00\x00\x02xy"
    )
    assert KeystoreContents().encode() == bytes([Tag.KEYSTORE_CONTENTS, 1, 0, 0, 0, 0])


def test_contents_helpers_and_repr() -> None:
    contents = CONTENTS.with_entry("extra", b"s3cret-value")
    assert contents.names() == ("identity:group-a", "local-store-key", "extra")
    replaced = contents.with_entry("local-store-key", b"new")
    assert replaced.names() == contents.names() and replaced.get("local-store-key") == b"new"
    assert contents.without_entry("extra") == CONTENTS
    assert contents.get("missing") is None and "missing" not in contents
    shown = repr(contents)
    assert "s3cret" not in shown and "extra" in shown and bytes(range(32)).hex() not in shown


def test_contents_rules() -> None:
    with pytest.raises(ValueError, match="unique"):
        KeystoreContents((("a", b""), ("a", b"")))
    with pytest.raises(ValueError, match="1 to 255"):
        KeystoreContents((("", b""),))
    with pytest.raises(ValueError, match="1 to 255"):
        KeystoreContents((("é" * 128, b""),))
    KeystoreContents((("é" * 127 + "e", b""),))
    with pytest.raises(ValueError, match="valid Unicode"):
        KeystoreContents((("\ud800", b""),))
    with pytest.raises(TooLargeError):
        KeystoreContents((("a", bytes(MAX_SECRET_BYTES + 1)),))
    KeystoreContents((("a", bytes(MAX_SECRET_BYTES)),))
    with pytest.raises(TooLargeError):
        KeystoreContents(tuple((str(i), b"") for i in range(MAX_ENTRIES + 1)))
    with pytest.raises(TooLargeError, match="in all"):
        KeystoreContents(tuple((str(i), bytes(MAX_SECRET_BYTES)) for i in range(260)))
    with pytest.raises(TypeError):
        KeystoreContents([("a", b"")])  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        KeystoreContents((("a", "text"),))  # type: ignore[arg-type]


def test_contents_decode_is_strict() -> None:
    duplicate = Writer(Tag.KEYSTORE_CONTENTS).u32(2).text("a").var(b"").text("a").var(b"").finish()
    with pytest.raises(MalformedError, match="unique"):
        KeystoreContents.decode(duplicate)
    with pytest.raises(MalformedError, match="entries"):
        KeystoreContents.decode(Writer(Tag.KEYSTORE_CONTENTS).u32(MAX_ENTRIES + 1).finish())
    with pytest.raises(MalformedError, match="truncated"):
        KeystoreContents.decode(Writer(Tag.KEYSTORE_CONTENTS).u32(1).finish())
    with pytest.raises(MalformedError, match="UTF-8"):
        KeystoreContents.decode(Writer(Tag.KEYSTORE_CONTENTS).u32(1).var(b"\xff").var(b"").finish())
