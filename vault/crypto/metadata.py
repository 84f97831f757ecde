"""Group metadata (name, description, rules) and member profiles, encrypted for the group.

They travel inside ``METADATA`` log entries (whose clear fields are ``subject`` and
``epoch``), so the relay sees neither names nor descriptions, only a padded size.

Wire layouts (every object starts with its tag byte and the protocol version byte)::

    GroupMetadata (Tag.GROUP_METADATA)   name:text(<=128) description:text(<=4096)
                                         rules:text(<=8192)
                                         then nothing, or channels: u32 count (1..32), then
                                         count x (channel_id[16] name:text(<=64)) (CHAN-2)
    MemberProfile (Tag.MEMBER_PROFILE)   display_name:text(<=64)

    MetadataEnvelope (Tag.METADATA_ENVELOPE)   nonce[24] ciphertext:var
        ciphertext = XChaCha20-Poly1305-IETF(metadata_key(epoch_key, group_id, epoch), nonce,
                                             padded plaintext,
                                             aad = 0x0D 0x01 || group_id || u64 epoch ||
                                             subject-or-32-zeros)

The plaintext is padded so the *whole envelope* is a bucket size (a power of two from 256
bytes up to 16 KiB, the most a log entry carries).

Names (the group name and display names) are single-line: no code point of the frozen
list :data:`REFUSED_IN_NAMES` (Unicode 14.0's Cc, Cf, Zl, Zp and Cs: controls, U+0085,
format characters such as bidi controls, zero-width characters, soft hyphen and U+FEFF,
line and paragraph separators), except U+200D ZERO WIDTH JOINER between two visible
non-ASCII characters and U+FE0F VARIATION SELECTOR-16 next to one (emoji sequences, and
the scripts that join with U+200D); U+FE0F is refused elsewhere. The rule uses code point
values only, so it is the same on every Unicode version. A name is NFC-normalised when the
value is built (so sealing always writes NFC) and a decoded name that is not NFC is
refused, so one name has one encoding.
No text may hold an unpaired surrogate (it has no UTF-8 form).
"""

from __future__ import annotations

import struct
import unicodedata
from bisect import bisect_right
from dataclasses import dataclass, field
from typing import Final, TypeAlias

from vault.crypto.channels import CHANNEL_ID_SIZE, ChannelKind, channel_kind, check_channel_id
from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer
from vault.crypto.epochs import metadata_key
from vault.crypto.errors import MalformedError, MetadataError, TooLargeError
from vault.crypto.limits import (
    MAX_CHANNEL_NAME,
    MAX_CHANNELS,
    MAX_DESCRIPTION,
    MAX_DISPLAY_NAME,
    MAX_GROUP_NAME,
    MAX_METADATA_ENVELOPE_SIZE,
    MAX_RULES,
)
from vault.crypto.padding import bucket_size, is_bucket, pad_to, unpad
from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    PUBLIC_KEY_SIZE,
    RandomSource,
    aead_open,
    aead_seal,
    default_random,
    draw,
)

ENVELOPE_OVERHEAD: Final = 2 + AEAD_NONCE_SIZE + 4 + AEAD_TAG_SIZE
_NO_SUBJECT: Final = bytes(PUBLIC_KEY_SIZE)
_U64 = struct.Struct(">Q")
_RULES_REF_SIZE: Final = 32

# Code points a name may not hold: exactly the characters of Unicode 14.0's categories Cc
# (controls, U+0085 included), Cf (format: bidi controls, zero-width characters, soft
# hyphen, U+FEFF, ...), Zl, Zp and Cs (surrogates), written out as a frozen list (protocol
# §7.1), so the rule is the same on every Unicode version and needs no Unicode tables.
REFUSED_IN_NAMES: Final = (
    (0x0000, 0x001F), (0x007F, 0x009F), (0x00AD, 0x00AD), (0x0600, 0x0605), (0x061C, 0x061C),
    (0x06DD, 0x06DD), (0x070F, 0x070F), (0x0890, 0x0891), (0x08E2, 0x08E2), (0x180E, 0x180E),
    (0x200B, 0x200F), (0x2028, 0x202E), (0x2060, 0x2064), (0x2066, 0x206F), (0xD800, 0xDFFF),
    (0xFEFF, 0xFEFF), (0xFFF9, 0xFFFB), (0x110BD, 0x110BD), (0x110CD, 0x110CD),
    (0x13430, 0x13438), (0x1BCA0, 0x1BCA3), (0x1D173, 0x1D17A), (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
)
_REFUSED_STARTS: Final = tuple(first for first, _last in REFUSED_IN_NAMES)
_ZWJ: Final = "\u200d"
_VS16: Final = "\ufe0f"


def _refused(ch: str) -> bool:
    index = bisect_right(_REFUSED_STARTS, ord(ch)) - 1
    return index >= 0 and ord(ch) <= REFUSED_IN_NAMES[index][1]


def _visible(ch: str) -> bool:
    """A character a joiner or selector may stand next to: not ASCII, not refused, and
    not itself U+200D or U+FE0F (protocol §7.1; emoji, their modifiers and the keycap are
    such characters, and so are the letters and marks of scripts that join with U+200D)."""
    return bool(ch) and not ch.isascii() and ch not in (_ZWJ, _VS16) and not _refused(ch)


def _allowed_joiner(value: str, index: int) -> bool:
    """U+200D between two visible characters (a visible character's U+FE0F counts),
    U+FE0F next to a visible character."""
    before = value[index - 1] if index > 0 else ""
    after = value[index + 1] if index + 1 < len(value) else ""
    if value[index] == _VS16:
        return _visible(before) or _visible(after)
    if not _visible(after):
        return False
    if before == _VS16:
        before = value[index - 2] if index > 1 else ""
    return _visible(before)


_NOT_SINGLE_LINE: Final = (
    "no control, format (invisible or text-direction) or line-breaking characters"
)
_STRAY_JOINER: Final = (
    "no zero-width joiner or variation selector 16 next to plain ASCII, at either end of "
    "the name, or next to another invisible character"
)


def _name_problem(value: str) -> str | None:
    if value.isascii():
        return None if value.isprintable() else _NOT_SINGLE_LINE
    for index, ch in enumerate(value):
        if ch in (_ZWJ, _VS16):
            if not _allowed_joiner(value, index):
                return _STRAY_JOINER
        elif _refused(ch):
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
class Channel:
    """One of the group's channels (:mod:`vault.crypto.channels`): its id (whose first byte
    is its kind) and its name, a single line stored NFC-normalised."""

    channel_id: bytes
    name: str = field(repr=False)

    def __post_init__(self) -> None:
        try:
            check_channel_id(self.channel_id, "channel")
        except MalformedError as error:
            raise ValueError(str(error)) from None
        object.__setattr__(self, "name", _nfc(self.name))
        _check_text(self.name, MAX_CHANNEL_NAME, "channel name", single_line=True)
        if not self.name.strip():
            raise MetadataError("a channel needs a name")

    @property
    def kind(self) -> ChannelKind:
        return channel_kind(self.channel_id)


@dataclass(frozen=True)
class GroupMetadata:
    """The group's name, description and rules, and its channels in the order members see
    them (set by admins; the group's main channel is not listed).

    The name is stored NFC-normalised. ``repr`` never shows what was written.
    """

    name: str = field(repr=False)
    description: str = field(default="", repr=False)
    rules: str = field(default="", repr=False)
    channels: tuple[Channel, ...] = field(default=(), repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _nfc(self.name))
        _check_text(self.name, MAX_GROUP_NAME, "group name", single_line=True)
        _check_text(self.description, MAX_DESCRIPTION, "group description", single_line=False)
        _check_text(self.rules, MAX_RULES, "group rules", single_line=False)
        channels = self.channels
        if len(channels) > MAX_CHANNELS:
            raise TooLargeError(f"a group has at most {MAX_CHANNELS} channels besides its "
                                "main one")
        if len({c.channel_id for c in channels}) != len(channels):  # CHAN-3
            raise MetadataError("group metadata: a channel is listed twice")
        if len({c.name for c in channels}) != len(channels):
            raise MetadataError("group metadata: two channels have the same name")

    def channel(self, channel_id: bytes) -> Channel | None:
        return next((c for c in self.channels if c.channel_id == channel_id), None)

    def encode(self) -> bytes:
        writer = (Writer(Tag.GROUP_METADATA).text(self.name).text(self.description)
                  .text(self.rules))
        if self.channels:  # absent: the metadata of earlier versions (CHAN-2)
            writer.u32(len(self.channels))
            for channel in self.channels:
                writer.fixed(channel.channel_id, CHANNEL_ID_SIZE).text(channel.name)
        return writer.finish()

    @classmethod
    def decode(cls, data: bytes) -> GroupMetadata:
        reader = Reader(data, "group metadata", Tag.GROUP_METADATA)
        name = _require_nfc(reader.text(MAX_GROUP_NAME, "name"), "group metadata: the name")
        description = reader.text(MAX_DESCRIPTION, "description")
        rules = reader.text(MAX_RULES, "rules")
        channels: list[Channel] = []
        if reader.offset < len(data):  # CHAN-2: nothing, or 1 to 32 channels
            count = reader.u32("channel count")
            if not 1 <= count <= MAX_CHANNELS:
                raise MalformedError(f"group metadata: {count} channels; 1 to {MAX_CHANNELS} "
                                     "when the list is there")
            for _ in range(count):
                channel_id = check_channel_id(reader.fixed(CHANNEL_ID_SIZE, "channel id"),
                                              "group metadata")
                channel_name = _require_nfc(reader.text(MAX_CHANNEL_NAME, "channel name"),
                                            "group metadata: a channel name")
                channels.append(Channel(channel_id, channel_name))
        reader.done()
        return cls(name, description, rules, tuple(channels))


@dataclass(frozen=True)
class MemberProfile:
    """How a member presents themself in this group (their own choice), and the group
    rules they accepted (the ``rules_ref`` of :mod:`vault.crypto.rules_card`, or None).

    The display name is stored NFC-normalised. ``repr`` never shows it.
    """

    display_name: str = field(repr=False)
    accepted_rules: bytes | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "display_name", _nfc(self.display_name))
        _check_text(self.display_name, MAX_DISPLAY_NAME, "display name", single_line=True)
        if self.accepted_rules is not None and len(self.accepted_rules) != _RULES_REF_SIZE:
            raise ValueError("accepted rules are a 32-byte rules ref")

    def encode(self) -> bytes:
        writer = Writer(Tag.MEMBER_PROFILE).text(self.display_name)
        if self.accepted_rules is not None:  # absent: the profile of earlier versions
            writer.fixed(self.accepted_rules, _RULES_REF_SIZE)
        return writer.finish()

    @classmethod
    def decode(cls, data: bytes) -> MemberProfile:
        reader = Reader(data, "member profile", Tag.MEMBER_PROFILE)
        display_name = _require_nfc(reader.text(MAX_DISPLAY_NAME, "display name"),
                                    "member profile: the display name")
        accepted = reader.rest()
        if len(accepted) not in (0, _RULES_REF_SIZE):
            raise MalformedError("member profile: accepted rules are 32 bytes, or absent")
        return cls(display_name, accepted or None)


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
    key = metadata_key(epoch_key, group_id, epoch)
    return seal_padded(Tag.METADATA_ENVELOPE, "metadata", key, value.encode(),
                       _aad(group_id, epoch, subject), random=random)


def seal_padded(tag: int, what: str, key: bytes, plaintext: bytes, ad: bytes, *,
                random: RandomSource = default_random) -> bytes:
    """``tag ‖ version ‖ nonce[24] ‖ var(AEAD(key, nonce, padded plaintext, ad))``, padded so
    the whole envelope is a bucket size of at most 16 KiB: the MetadataEnvelope (§7.2) and
    the CardEnvelope (§8.7). Draws only the nonce."""
    total = bucket_size(len(plaintext) + ENVELOPE_OVERHEAD)
    if total > MAX_METADATA_ENVELOPE_SIZE:
        raise TooLargeError(f"encrypted {what} would exceed {MAX_METADATA_ENVELOPE_SIZE} bytes")
    padded = pad_to(plaintext, total - ENVELOPE_OVERHEAD)
    nonce = draw(random, AEAD_NONCE_SIZE)
    ciphertext = aead_seal(key, nonce, padded, ad)
    return Writer(tag).fixed(nonce, AEAD_NONCE_SIZE).var(ciphertext).finish()


def split_padded(data: bytes, tag: int, what: str) -> tuple[bytes, bytes]:
    """The (nonce, ciphertext) of an envelope :func:`seal_padded` makes, shape checked
    (``malformed``): at most 16 KiB, the structure, a bucket size."""
    if len(data) > MAX_METADATA_ENVELOPE_SIZE:
        raise MalformedError(f"{what}: larger than {MAX_METADATA_ENVELOPE_SIZE} bytes")
    reader = Reader(data, what, tag)
    nonce = reader.fixed(AEAD_NONCE_SIZE, "nonce")
    ciphertext = reader.var(MAX_METADATA_ENVELOPE_SIZE, "ciphertext")
    reader.done()
    if not is_bucket(len(data)):
        raise MalformedError(f"{what}: not one of the padded sizes")
    return nonce, ciphertext


def _split_envelope(data: bytes) -> tuple[bytes, bytes]:
    return split_padded(data, Tag.METADATA_ENVELOPE, "metadata envelope")


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
    padded = aead_open(key, nonce, ciphertext, _aad(group_id, epoch, subject))
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
