"""Group metadata (name, description, rules) and member profiles, encrypted for the group.

They travel inside ``METADATA`` log entries (whose clear fields are ``subject`` and
``epoch``), so the relay sees neither names nor descriptions, only a padded size.

Wire layouts (every object starts with its tag byte and the protocol version byte)::

    GroupMetadata (Tag.GROUP_METADATA)   name:text(<=128) description:text(<=4096)
                                         rules:text(<=8192)
    MemberProfile (Tag.MEMBER_PROFILE)   display_name:text(<=64)

    MetadataEnvelope (Tag.METADATA_ENVELOPE)   nonce[24] ciphertext:var
        ciphertext = XChaCha20-Poly1305-IETF(metadata_key(epoch_key, group_id, epoch), nonce,
                                             padded plaintext,
                                             aad = 0x0D 0x01 || group_id || u64 epoch ||
                                             subject-or-32-zeros)

The plaintext is padded so the *whole envelope* is a bucket size (a power of two from 256
bytes up to 16 KiB, the most a log entry carries).

Names (the group name and display names) are single-line: no character of Unicode
category Cc (controls, including U+0085), Cf (format: bidi controls, zero-width
characters, soft hyphen, ...), Zl or Zp (line and paragraph separators), except U+200D
ZERO WIDTH JOINER between two emoji and U+FE0F VARIATION SELECTOR-16 next to an emoji
("emoji" approximated as category So, the skin-tone modifiers U+1F3FB..U+1F3FF and the
keycap U+20E3). A name is NFC-normalised when the value is built (so sealing always
writes NFC) and a decoded name that is not NFC is refused, so one name has one encoding.
No text may hold an unpaired surrogate (it has no UTF-8 form).
"""

from __future__ import annotations

import struct
import unicodedata
from dataclasses import dataclass, field
from typing import Final, TypeAlias

import nacl.bindings
import nacl.exceptions

from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer
from vault.crypto.epochs import metadata_key
from vault.crypto.errors import (
    DecryptionError,
    MalformedError,
    MetadataError,
    TooLargeError,
)
from vault.crypto.log_entries import MAX_METADATA_CIPHERTEXT
from vault.crypto.padding import bucket_size, is_bucket, pad_to, unpad
from vault.crypto.primitives import PUBLIC_KEY_SIZE, RandomSource, default_random, draw

MAX_GROUP_NAME: Final = 128
MAX_DESCRIPTION: Final = 4096
MAX_RULES: Final = 8192
MAX_DISPLAY_NAME: Final = 64
NONCE_SIZE: Final = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_NPUBBYTES
TAG_SIZE: Final = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_ABYTES
ENVELOPE_OVERHEAD: Final = 2 + NONCE_SIZE + 4 + TAG_SIZE
MAX_ENVELOPE: Final = MAX_METADATA_CIPHERTEXT
_NO_SUBJECT: Final = bytes(PUBLIC_KEY_SIZE)
_U64 = struct.Struct(">Q")
_encrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt
_decrypt = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt

# Categories that could make one name look like another or break a layout: controls
# (Cc, which includes U+0085), format characters (Cf: bidi controls, zero-width
# characters, soft hyphen, ...), line and paragraph separators, and surrogates.
_REFUSED_IN_NAMES: Final = frozenset({"Cc", "Cf", "Zl", "Zp", "Cs"})
_ZWJ: Final = "\u200d"
_VS16: Final = "\ufe0f"
_KEYCAP: Final = "\u20e3"


def _is_emoji(ch: str) -> bool:
    """Approximately Extended_Pictographic: symbols (So), skin-tone modifiers, keycap."""
    return (unicodedata.category(ch) == "So" or "\U0001f3fb" <= ch <= "\U0001f3ff"
            or ch == _KEYCAP)


def _allowed_joiner(value: str, index: int) -> bool:
    """U+200D between two emoji (an emoji's U+FE0F counts), U+FE0F next to an emoji."""
    before = value[index - 1] if index > 0 else ""
    after = value[index + 1] if index + 1 < len(value) else ""
    if value[index] == _VS16:
        return bool(before and _is_emoji(before)) or bool(after and _is_emoji(after))
    if not (after and _is_emoji(after)):
        return False
    if before == _VS16:
        before = value[index - 2] if index > 1 else ""
    return bool(before) and _is_emoji(before)


_NOT_SINGLE_LINE: Final = (
    "no control, format (invisible or text-direction) or line-breaking characters"
)
_STRAY_JOINER: Final = "no zero-width joiner or emoji variation selector outside an emoji"


def _name_problem(value: str) -> str | None:
    if value.isascii():
        return None if value.isprintable() else _NOT_SINGLE_LINE
    for index, ch in enumerate(value):
        if ch in (_ZWJ, _VS16):
            if not _allowed_joiner(value, index):
                return _STRAY_JOINER
        elif unicodedata.category(ch) in _REFUSED_IN_NAMES:
            return _NOT_SINGLE_LINE
    return None


def _check_text(value: str, limit: int, what: str, *, single_line: bool) -> None:
    if value.isascii():
        size = len(value)
    else:
        try:
            size = len(value.encode("utf-8"))
        except UnicodeEncodeError:
            raise MetadataError(f"{what} is not valid Unicode (an unpaired surrogate)") from None
    if size > limit:
        raise TooLargeError(f"{what} is at most {limit} bytes")
    if single_line:
        problem = _name_problem(value)
        if problem is not None:
            raise MetadataError(f"{what} must be a single line of visible text: {problem}")


def _nfc(value: str) -> str:
    return value if value.isascii() else unicodedata.normalize("NFC", value)


def _require_nfc(value: str, what: str) -> str:
    if not value.isascii() and not unicodedata.is_normalized("NFC", value):
        raise MalformedError(f"{what} is not in Unicode normalisation form NFC")
    return value


@dataclass(frozen=True)
class GroupMetadata:
    """The group's name, description and rules (set by admins).

    The name is stored NFC-normalised. ``repr`` never shows what was written.
    """

    name: str = field(repr=False)
    description: str = field(default="", repr=False)
    rules: str = field(default="", repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _nfc(self.name))
        _check_text(self.name, MAX_GROUP_NAME, "group name", single_line=True)
        _check_text(self.description, MAX_DESCRIPTION, "group description", single_line=False)
        _check_text(self.rules, MAX_RULES, "group rules", single_line=False)

    def encode(self) -> bytes:
        return (Writer(Tag.GROUP_METADATA).text(self.name).text(self.description)
                .text(self.rules).finish())

    @classmethod
    def decode(cls, data: bytes) -> GroupMetadata:
        reader = Reader(data, "group metadata", Tag.GROUP_METADATA)
        name = _require_nfc(reader.text(MAX_GROUP_NAME, "name"), "group metadata: the name")
        description = reader.text(MAX_DESCRIPTION, "description")
        rules = reader.text(MAX_RULES, "rules")
        reader.done()
        return cls(name, description, rules)


@dataclass(frozen=True)
class MemberProfile:
    """How a member presents themself in this group (their own choice).

    The display name is stored NFC-normalised. ``repr`` never shows it.
    """

    display_name: str = field(repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "display_name", _nfc(self.display_name))
        _check_text(self.display_name, MAX_DISPLAY_NAME, "display name", single_line=True)

    def encode(self) -> bytes:
        return Writer(Tag.MEMBER_PROFILE).text(self.display_name).finish()

    @classmethod
    def decode(cls, data: bytes) -> MemberProfile:
        reader = Reader(data, "member profile", Tag.MEMBER_PROFILE)
        display_name = _require_nfc(reader.text(MAX_DISPLAY_NAME, "display name"),
                                    "member profile: the display name")
        reader.done()
        return cls(display_name)


MetadataValue: TypeAlias = GroupMetadata | MemberProfile


_ENVELOPE_HEADER: Final = bytes((Tag.METADATA_ENVELOPE, PROTOCOL_VERSION))


def _aad(group_id: bytes, epoch: int, subject: bytes | None) -> bytes:
    if len(group_id) != 32:
        raise ValueError("group id must be 32 bytes")
    if subject is not None and len(subject) != PUBLIC_KEY_SIZE:
        raise ValueError("subject must be a 32-byte signing key")
    # The envelope's own tag and version are authenticated too, so a later version
    # cannot be confused with this one.
    return (_ENVELOPE_HEADER + group_id + _U64.pack(epoch)
            + (_NO_SUBJECT if subject is None else subject))


def seal_metadata(
    epoch_key: bytes,
    group_id: bytes,
    epoch: int,
    subject: bytes | None,
    value: MetadataValue,
    *,
    random: RandomSource = default_random,
) -> bytes:
    """Encrypt group metadata (*subject* None) or *subject*'s profile for one epoch.

    Returns the ``METADATA_ENVELOPE`` bytes that go into a ``METADATA`` log entry.
    """
    if (subject is None) != isinstance(value, GroupMetadata):
        raise ValueError("group metadata has no subject; a member profile needs one")
    plaintext = value.encode()
    total = bucket_size(len(plaintext) + ENVELOPE_OVERHEAD)
    if total > MAX_ENVELOPE:
        raise TooLargeError(f"encrypted metadata would exceed {MAX_ENVELOPE} bytes")
    padded = pad_to(plaintext, total - ENVELOPE_OVERHEAD)
    nonce = draw(random, NONCE_SIZE)
    key = metadata_key(epoch_key, group_id, epoch)
    ciphertext: bytes = _encrypt(padded, _aad(group_id, epoch, subject), nonce, key)
    return Writer(Tag.METADATA_ENVELOPE).fixed(nonce, NONCE_SIZE).var(ciphertext).finish()


def _split_envelope(data: bytes) -> tuple[bytes, bytes]:
    if len(data) > MAX_ENVELOPE:
        raise MalformedError(f"metadata envelope: larger than {MAX_ENVELOPE} bytes")
    reader = Reader(data, "metadata envelope", Tag.METADATA_ENVELOPE)
    nonce = reader.fixed(NONCE_SIZE, "nonce")
    ciphertext = reader.var(MAX_ENVELOPE, "ciphertext")
    reader.done()
    if not is_bucket(len(data)):
        raise MalformedError("metadata envelope: not one of the padded sizes")
    return nonce, ciphertext


def check_metadata_envelope(data: bytes) -> None:
    """Shape check the relay can make without keys (MalformedError)."""
    _split_envelope(data)


def open_metadata(
    data: bytes, epoch_key: bytes, group_id: bytes, epoch: int, subject: bytes | None
) -> MetadataValue:
    """Decrypt a ``METADATA_ENVELOPE``: GroupMetadata when *subject* is None, else a profile.

    Errors: shape -> MalformedError; wrong key/group/epoch/subject or altered bytes ->
    DecryptionError; decrypted content of the wrong kind or invalid -> MetadataError.
    """
    nonce, ciphertext = _split_envelope(data)
    key = metadata_key(epoch_key, group_id, epoch)
    try:
        padded: bytes = _decrypt(ciphertext, _aad(group_id, epoch, subject), nonce, key)
    except nacl.exceptions.CryptoError:
        raise DecryptionError() from None
    plaintext = unpad(padded)
    expected_tag = Tag.GROUP_METADATA if subject is None else Tag.MEMBER_PROFILE
    if plaintext[:2] != bytes((expected_tag, PROTOCOL_VERSION)):
        raise MetadataError(
            "decrypted metadata is not a " + ("group description" if subject is None
                                              else "member profile")
        )
    try:
        if subject is None:
            return GroupMetadata.decode(plaintext)
        return MemberProfile.decode(plaintext)
    except (MalformedError, TooLargeError) as exc:
        raise MetadataError(f"decrypted metadata is invalid ({exc})") from None


def open_group_metadata(
    data: bytes, epoch_key: bytes, group_id: bytes, epoch: int
) -> GroupMetadata:
    value = open_metadata(data, epoch_key, group_id, epoch, None)
    if not isinstance(value, GroupMetadata):  # pragma: no cover - open_metadata checks the tag
        raise MetadataError("decrypted metadata is not a group description")
    return value


def open_member_profile(
    data: bytes, epoch_key: bytes, group_id: bytes, epoch: int, subject: bytes
) -> MemberProfile:
    value = open_metadata(data, epoch_key, group_id, epoch, subject)
    if not isinstance(value, MemberProfile):  # pragma: no cover - open_metadata checks the tag
        raise MetadataError("decrypted metadata is not a member profile")
    return value
