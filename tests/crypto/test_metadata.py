"""Group metadata and member profiles: wire forms, padding to buckets, sealing, limits."""

from __future__ import annotations

import struct
import unicodedata

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import LogFactory, seeded_random
from vault.crypto.encoding import Tag, Writer
from vault.crypto.epochs import metadata_key
from vault.crypto.errors import (
    DecryptionError,
    MalformedError,
    MetadataError,
    TooLargeError,
    VaultError,
)
from vault.crypto.limits import MAX_METADATA_ENVELOPE_SIZE as MAX_METADATA_CIPHERTEXT
from vault.crypto.metadata import (
    ENVELOPE_OVERHEAD,
    GroupMetadata,
    MemberProfile,
    check_metadata_envelope,
    open_group_metadata,
    open_member_profile,
    open_metadata,
    seal_metadata,
)
from vault.crypto.padding import is_bucket, pad_to

GID = b"\x0a" * 32
KEY = b"\x0e" * 32
ME = b"\x5a" * 32
FULL = GroupMetadata("n" * 128, "d" * 4096, "r" * 8192)
NOT_IN_NAMES = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})


def test_group_metadata_round_trip() -> None:
    value = GroupMetadata("Tuesday grief circle", "We meet weekly.\nAll welcome.", "Be kind.")
    sealed = seal_metadata(KEY, GID, 4, None, value)
    assert open_metadata(sealed, KEY, GID, 4, None) == value
    assert open_group_metadata(sealed, KEY, GID, 4) == value
    assert GroupMetadata.decode(value.encode()) == value


def test_profile_round_trip() -> None:
    value = MemberProfile("R. \U0001f33b")
    sealed = seal_metadata(KEY, GID, 4, ME, value)
    assert open_metadata(sealed, KEY, GID, 4, ME) == value
    assert open_member_profile(sealed, KEY, GID, 4, ME) == value
    assert MemberProfile.decode(value.encode()) == value


@settings(max_examples=100)
@given(st.text(max_size=32), st.text(max_size=1000), st.text(max_size=2000))
def test_wire_round_trips(name: str, description: str, rules: str) -> None:
    name = "".join(ch for ch in name if unicodedata.category(ch) not in NOT_IN_NAMES
                   and ch not in "\u200d\ufe0f")
    description = "".join(ch for ch in description if unicodedata.category(ch) != "Cs")
    rules = "".join(ch for ch in rules if unicodedata.category(ch) != "Cs")
    value = GroupMetadata(name, description, rules)
    assert value.name == unicodedata.normalize("NFC", name)
    assert GroupMetadata.decode(value.encode()) == value
    sealed = seal_metadata(KEY, GID, 1, None, value, random=seeded_random("m"))
    assert is_bucket(len(sealed))
    assert open_metadata(sealed, KEY, GID, 1, None) == value


def test_pinned_nonce_exact_bytes() -> None:
    value = MemberProfile("Sam")
    sealed = seal_metadata(KEY, GID, 2, ME, value, random=lambda n: b"\x0f" * n)
    plaintext = b"\x08\x01" + struct.pack(">I", 3) + b"Sam"
    assert value.encode() == plaintext
    padded = plaintext + b"\x80" + bytes(256 - ENVELOPE_OVERHEAD - len(plaintext) - 1)
    aad = bytes((Tag.METADATA_ENVELOPE, 1)) + GID + struct.pack(">Q", 2) + ME
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, aad, b"\x0f" * 24, metadata_key(KEY, GID, 2))
    assert sealed == b"\x0d\x01" + b"\x0f" * 24 + struct.pack(">I", len(ciphertext)) + ciphertext
    assert len(sealed) == 256 and ENVELOPE_OVERHEAD == 46


@pytest.mark.parametrize(
    ("value", "size"),
    [
        (MemberProfile(""), 256),
        (MemberProfile("x" * 64), 256),
        (GroupMetadata("x" * 128, "d" * 60), 256),
        (GroupMetadata("x", "d" * 200), 512),
        (FULL, 16384),
    ],
)
def test_envelope_sizes_are_buckets(value: GroupMetadata | MemberProfile, size: int) -> None:
    subject = ME if isinstance(value, MemberProfile) else None
    assert len(seal_metadata(KEY, GID, 0, subject, value)) == size
    assert size <= MAX_METADATA_CIPHERTEXT


def test_the_largest_group_metadata_fits_a_log_entry() -> None:
    f = LogFactory("metadata")
    sealed = seal_metadata(f.epoch_keys[0], f.group_id, 0, None, FULL)
    f.set_metadata(sealed)
    assert f.state.group_metadata is not None
    assert open_group_metadata(f.state.group_metadata.ciphertext, f.epoch_keys[0], f.group_id,
                               f.state.group_metadata.epoch) == FULL


@pytest.mark.parametrize(
    ("group_id", "epoch", "subject", "key"),
    [
        (b"\x0b" * 32, 4, ME, KEY),  # replayed into another group
        (GID, 5, ME, KEY),  # another epoch
        (GID, 4, b"\x5b" * 32, KEY),  # relabelled as someone else's profile
        (GID, 4, None, KEY),  # presented as group metadata
        (GID, 4, ME, b"\x00" * 32),  # wrong key
    ],
)
def test_wrong_context_cannot_open(group_id: bytes, epoch: int, subject: bytes | None,
                                   key: bytes) -> None:
    sealed = seal_metadata(KEY, GID, 4, ME, MemberProfile("Sam"))
    with pytest.raises(DecryptionError):
        open_metadata(sealed, key, group_id, epoch, subject)


@settings(max_examples=150)
@given(st.data())
def test_any_changed_byte_is_rejected(data: st.DataObject) -> None:
    sealed = bytearray(seal_metadata(KEY, GID, 4, ME, MemberProfile("Sam"),
                                     random=seeded_random("x")))
    position = data.draw(st.integers(0, len(sealed) - 1))
    sealed[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(VaultError):
        open_metadata(bytes(sealed), KEY, GID, 4, ME)


def test_envelope_shape_checks() -> None:
    sealed = seal_metadata(KEY, GID, 4, ME, MemberProfile("Sam"))
    check_metadata_envelope(sealed)
    with pytest.raises(MalformedError, match="padded sizes"):
        check_metadata_envelope(
            Writer(Tag.METADATA_ENVELOPE).fixed(sealed[2:26], 24).var(sealed[30:-1]).finish())
    with pytest.raises(MalformedError, match="trailing"):
        check_metadata_envelope(sealed + b"\x00")
    with pytest.raises(MalformedError, match="not a metadata envelope"):
        check_metadata_envelope(b"\x07" + sealed[1:])
    with pytest.raises(MalformedError, match="larger than"):
        check_metadata_envelope(b"\x0d\x01" + bytes(MAX_METADATA_CIPHERTEXT))


def _seal_raw(plaintext: bytes, subject: bytes | None, size: int = 256) -> bytes:
    padded = pad_to(plaintext, size - ENVELOPE_OVERHEAD)
    aad = bytes((Tag.METADATA_ENVELOPE, 1)) + GID + struct.pack(">Q", 4) + (subject or bytes(32))
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, aad, b"\x01" * 24, metadata_key(KEY, GID, 4))
    return Writer(Tag.METADATA_ENVELOPE).fixed(b"\x01" * 24, 24).var(ciphertext).finish()


def test_wrong_kind_inside_is_a_metadata_error() -> None:
    profile_as_group = _seal_raw(MemberProfile("Sam").encode(), None)
    with pytest.raises(MetadataError, match="not a group description"):
        open_metadata(profile_as_group, KEY, GID, 4, None)
    group_as_profile = _seal_raw(GroupMetadata("g").encode(), ME)
    with pytest.raises(MetadataError, match="not a member profile"):
        open_metadata(group_as_profile, KEY, GID, 4, ME)
    trailing = _seal_raw(MemberProfile("Sam").encode() + b"\x00", ME)
    with pytest.raises(MetadataError, match="invalid"):
        open_metadata(trailing, KEY, GID, 4, ME)
    control = _seal_raw(MemberProfile("Sam").encode().replace(b"Sam", b"S\x1bm"), ME)
    with pytest.raises(MetadataError, match="control"):
        open_metadata(control, KEY, GID, 4, ME)
    unpadded = Writer(Tag.METADATA_ENVELOPE).fixed(b"\x01" * 24, 24).var(
        nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            bytes(210), GID + struct.pack(">Q", 4) + ME, b"\x01" * 24,
            metadata_key(KEY, GID, 4))).finish()
    with pytest.raises(DecryptionError):
        open_metadata(unpadded, KEY, GID, 4, ME)


def test_seal_checks_subject_matches_kind() -> None:
    with pytest.raises(ValueError, match="subject"):
        seal_metadata(KEY, GID, 4, None, MemberProfile("Sam"))
    with pytest.raises(ValueError, match="subject"):
        seal_metadata(KEY, GID, 4, ME, GroupMetadata("g"))
    with pytest.raises(ValueError, match="32-byte"):
        seal_metadata(KEY, GID, 4, b"short", MemberProfile("Sam"))


def test_limits() -> None:
    assert GroupMetadata("n" * 128).name
    with pytest.raises(TooLargeError, match="group name"):
        GroupMetadata("n" * 129)
    with pytest.raises(TooLargeError, match="group name"):
        GroupMetadata("\u00e9" * 65)
    with pytest.raises(TooLargeError, match="description"):
        GroupMetadata("g", "d" * 4097)
    with pytest.raises(TooLargeError, match="rules"):
        GroupMetadata("g", "", "r" * 8193)
    assert MemberProfile("m" * 64).display_name
    with pytest.raises(TooLargeError, match="display name"):
        MemberProfile("m" * 65)
    with pytest.raises(MalformedError, match="at most 64"):
        MemberProfile.decode(b"\x08\x01" + struct.pack(">I", 65) + b"m" * 65)


# The audit's samples: line breaks, bidi marks, zero-width and invisible characters.
AUDIT_SAMPLES = ["Admin\u2028(official)", "Ali\u200ece", "Ad\u200bmin", "Bob\u061c", "x\u0085y",
                 "\u200f\u0627Moderator", "A\u2029B", "Ad\u00admin"]


@pytest.mark.parametrize("bad", [
    "a\nb", "tab\t", "\x00", "del\x7f", "evil\u202egnp.exe", "\u2066isolate\u2069",
    *AUDIT_SAMPLES,
    "\ufeffBOM", "word\u2060joiner", "tag\U000e0041", "A\u200dB", "\u200d\U0001f600",
    "\U0001f600\u200d", "\U0001f600\u200d\u200d\U0001f600", "A\ufe0f", "\ufe0f",
    "\u200d", "x\u200d\ufe0f\U0001f600",
])
def test_names_are_single_line_without_invisible_characters(bad: str) -> None:
    with pytest.raises(MetadataError, match="single line"):
        MemberProfile(bad)
    with pytest.raises(MetadataError, match="single line"):
        GroupMetadata(bad)
    if "\n" in bad or "\t" in bad:  # descriptions and rules may be several lines
        assert GroupMetadata("ok", description=bad).description == bad


@pytest.mark.parametrize("bad", AUDIT_SAMPLES)
def test_audit_samples_are_refused_when_opened(bad: str) -> None:
    """A client that skips the check when sealing cannot slip the names past readers."""
    for subject, raw in ((ME, Writer(Tag.MEMBER_PROFILE).text(bad).finish()),
                         (None, Writer(Tag.GROUP_METADATA).text(bad).text("").text("")
                          .finish())):
        with pytest.raises(MetadataError, match="single line"):
            open_metadata(_seal_raw(raw, subject), KEY, GID, 4, subject)


@pytest.mark.parametrize("name", [
    "\U0001f468\u200d\U0001f469\u200d\U0001f467",  # family: ZWJ between emoji
    "\U0001f469\U0001f3fd\u200d\U0001f4bb",  # skin tone, then ZWJ
    "\U0001f3f3\ufe0f\u200d\U0001f308",  # rainbow flag: VS16 then ZWJ
    "\u2764\ufe0f Sam", "1\ufe0f\u20e3", "\U0001f3c3\u200d\u2640\ufe0f",
    "Jos\u00e9", "\u05de\u05d9\u05d4", "\u0645\u0631\u064a\u0645", "\u674e\u534e", "R. \U0001f33b",
    "Zo\u00eb Smith-Jones", "",
])
def test_real_names_and_emoji_sequences_are_allowed(name: str) -> None:
    assert MemberProfile(name).display_name == name
    assert GroupMetadata(name).name == name
    sealed = seal_metadata(KEY, GID, 4, ME, MemberProfile(name))
    assert open_member_profile(sealed, KEY, GID, 4, ME).display_name == name


def test_names_are_nfc_normalised_on_seal_and_refused_otherwise_on_open() -> None:
    decomposed = "Jose\u0301"  # e + combining acute
    composed = "Jos\u00e9"
    assert MemberProfile(decomposed) == MemberProfile(composed)
    assert MemberProfile(decomposed).display_name == composed
    assert GroupMetadata(decomposed).name == composed
    assert MemberProfile(decomposed).encode() == MemberProfile(composed).encode()
    sealed = seal_metadata(KEY, GID, 4, ME, MemberProfile(decomposed))
    assert open_member_profile(sealed, KEY, GID, 4, ME).display_name == composed
    # Bytes another client wrote without normalising: refused, so a name has one encoding.
    raw_profile = Writer(Tag.MEMBER_PROFILE).text(decomposed).finish()
    with pytest.raises(MalformedError, match="NFC"):
        MemberProfile.decode(raw_profile)
    with pytest.raises(MetadataError, match="NFC"):
        open_metadata(_seal_raw(raw_profile, ME), KEY, GID, 4, ME)
    raw_group = Writer(Tag.GROUP_METADATA).text(decomposed).text("").text("").finish()
    with pytest.raises(MetadataError, match="NFC"):
        open_metadata(_seal_raw(raw_group, None), KEY, GID, 4, None)
    # Descriptions and rules are free text: kept as written.
    assert GroupMetadata("g", decomposed, decomposed).description == decomposed


def test_unpaired_surrogates_are_refused_not_a_crash() -> None:
    for build in (lambda: MemberProfile("\ud800"), lambda: GroupMetadata("\udfff"),
                  lambda: GroupMetadata("g", "\ud800"), lambda: GroupMetadata("g", "", "\udc00")):
        with pytest.raises(MetadataError, match="surrogate"):
            build()


def test_repr_never_shows_what_was_written() -> None:
    group = GroupMetadata("Survivors of X, Tuesday group", "we meet at 12 Elm St", "be kind")
    profile = MemberProfile("Jane Doe")
    for secret in ("Survivors", "Elm St", "be kind"):
        assert secret not in repr(group) and secret not in str(group)
    assert "Jane" not in repr(profile) and "Jane" not in str(profile)


def test_refused_list_is_unicode_14_format_and_control_characters_frozen() -> None:
    """§7.1's refused list is exactly Unicode 14.0's Cc, Cf, Zl, Zp and Cs, written out, so the
    name rules do not move with the runtime's Unicode version."""
    import unicodedata

    from vault.crypto.metadata import _refused

    if unicodedata.unidata_version == "14.0.0":  # Python 3.11: compare with the tables
        refused = {"Cc", "Cf", "Zl", "Zp", "Cs"}
        assert [c for c in range(0x110000)
                if _refused(chr(c)) != (unicodedata.category(chr(c)) in refused)] == []
    # Whatever the runtime: a format character added after 14.0 is allowed, as the spec says.
    assert MemberProfile("Ra \U00013439").display_name == "Ra \U00013439"


def test_joiners_need_visible_non_ascii_neighbours() -> None:
    for good in ("\U0001f469\U0001f3fd\u200d\U0001f4bb", "1\ufe0f\u20e3", "\u00a9\ufe0f",
                 "\u0915\u094d\u200d\u0937", "Sam \U0001f3f3\ufe0f\u200d\U0001f308"):
        assert MemberProfile(good).display_name == good
    for bad in ("Ad\u200dmin", "\U0001f308\u200d", "\u200d\U0001f308", "A\ufe0f", "\ufe0f",
                "\U0001f308\u200d\u200d\U0001f308", "\u0915\u200d\u200b\u0937"):
        with pytest.raises(MetadataError):
            MemberProfile(bad)
