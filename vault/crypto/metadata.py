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
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
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
from vault.crypto.primitives import PUBLIC_KEY_SIZE, RandomSource, default_random

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

# Characters that could make one name look like another or break a layout.
_BIDI_CONTROLS: Final = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _check_text(value: str, limit: int, what: str, *, single_line: bool) -> None:
    if len(value) * 4 > limit and len(value.encode("utf-8")) > limit:
        raise TooLargeError(f"{what} is at most {limit} bytes")
    if single_line and any(ch < " " or ch == "\x7f" or ch in _BIDI_CONTROLS for ch in value):
        raise MetadataError(f"{what} must not contain control or text-direction characters")


@dataclass(frozen=True)
class GroupMetadata:
    """The group's name, description and rules (set by admins)."""

    name: str
    description: str = ""
    rules: str = ""

    def __post_init__(self) -> None:
        _check_text(self.name, MAX_GROUP_NAME, "group name", single_line=True)
        _check_text(self.description, MAX_DESCRIPTION, "group description", single_line=False)
        _check_text(self.rules, MAX_RULES, "group rules", single_line=False)

    def encode(self) -> bytes:
        return (Writer(Tag.GROUP_METADATA).text(self.name).text(self.description)
                .text(self.rules).finish())

    @classmethod
    def decode(cls, data: bytes) -> GroupMetadata:
        reader = Reader(data, "group metadata", Tag.GROUP_METADATA)
        name = reader.text(MAX_GROUP_NAME, "name")
        description = reader.text(MAX_DESCRIPTION, "description")
        rules = reader.text(MAX_RULES, "rules")
        reader.done()
        return cls(name, description, rules)


@dataclass(frozen=True)
class MemberProfile:
    """How a member presents themself in this group (their own choice)."""

    display_name: str

    def __post_init__(self) -> None:
        _check_text(self.display_name, MAX_DISPLAY_NAME, "display name", single_line=True)

    def encode(self) -> bytes:
        return Writer(Tag.MEMBER_PROFILE).text(self.display_name).finish()

    @classmethod
    def decode(cls, data: bytes) -> MemberProfile:
        reader = Reader(data, "member profile", Tag.MEMBER_PROFILE)
        display_name = reader.text(MAX_DISPLAY_NAME, "display name")
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
    nonce = random(NONCE_SIZE)
    if len(nonce) != NONCE_SIZE:
        raise ValueError("the random source returned the wrong number of bytes")
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
