"""The one wire codec.

Every Vault object is a flat sequence of fields written in a fixed order:

* ``u8`` / ``u32`` / ``u64``: unsigned big-endian integers of 1, 4 or 8 bytes;
* ``fixed(n)``: exactly *n* raw bytes (keys, hashes, ids, signatures);
* ``var``: a ``u32`` length then that many bytes;
* ``text``: ``var`` holding UTF-8 (strictly decoded);
* ``opt_*``: a ``u8`` flag (0 absent, 1 present) then the value.

Every top-level object starts with a one-byte type tag and a one-byte version, so a
byte string can never be mistaken for another kind of object. Decoding is strict:
unknown tags, lengths past the end, lengths above the field's bound, non-canonical
flags and trailing bytes are all :class:`MalformedError`. Because each object has
exactly one encoding, signatures and hashes cover the very bytes that travel.
"""

from __future__ import annotations

import base64
import binascii
import struct
from typing import Final

from vault.crypto.errors import MalformedError

PROTOCOL_VERSION: Final = 1

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_HEADER = struct.Struct(">BB")
U64_MAX: Final = 2**64 - 1
U32_MAX: Final = 2**32 - 1


class Tag:
    """Type tags of top-level wire objects (first byte of every object)."""

    PUBLIC_IDENTITY: Final = 0x01
    LOG_ENTRY: Final = 0x02
    EPOCH_GRANT: Final = 0x03
    GRANT_CONTENT: Final = 0x04
    POST_ENVELOPE: Final = 0x05
    POST_BODY: Final = 0x06
    GROUP_METADATA: Final = 0x07
    MEMBER_PROFILE: Final = 0x08
    JOIN_REQUEST: Final = 0x09
    KEYSTORE_CONTENTS: Final = 0x0A
    PRIVATE_IDENTITY: Final = 0x0B
    AUTH_MESSAGE: Final = 0x0C
    """The message a relay-auth answer signs (protocol §9: AuthMessage)."""
    AUTH_CHALLENGE: Final = AUTH_MESSAGE
    """The former name of :attr:`AUTH_MESSAGE` (the tag is the signed message's, not the
    relay's 32-byte challenge's)."""
    METADATA_ENVELOPE: Final = 0x0D
    LOG_CHECKPOINT: Final = 0x0E
    KEYSTORE_FILE: Final = 0x0F
    LOCAL_RECORD: Final = 0x10
    STORED_POST: Final = 0x11
    POST_STUB: Final = 0x12
    PENDING_JOIN: Final = 0x13
    POST_MARKS: Final = 0x14
    MUTED_MEMBERS: Final = 0x15
    DELETED_GROUP: Final = 0x16
    RULES_CARD: Final = 0x17
    CARD_ENVELOPE: Final = 0x18
    RULES_ACCEPTANCE: Final = 0x19
    INBOX_MESSAGE: Final = 0x1A
    INBOX_ENVELOPE: Final = 0x1B
    BACKUP_HEADER: Final = 0x1C
    EPOCH_KEYS: Final = 0x1D


class Writer:
    """Builds one object's bytes. Append fields in order, then call :meth:`finish`."""

    __slots__ = ("_parts",)

    def __init__(self, tag: int | None = None, version: int = PROTOCOL_VERSION) -> None:
        self._parts: list[bytes] = []
        if tag is not None:
            self._parts.append(_HEADER.pack(tag, version))

    def u8(self, value: int) -> Writer:
        if not 0 <= value <= 0xFF:
            raise ValueError("u8 out of range")
        self._parts.append(bytes((value,)))
        return self

    def u32(self, value: int) -> Writer:
        self._parts.append(_U32.pack(value))
        return self

    def u64(self, value: int) -> Writer:
        self._parts.append(_U64.pack(value))
        return self

    def fixed(self, value: bytes, size: int) -> Writer:
        if len(value) != size:
            raise ValueError(f"field must be exactly {size} bytes, got {len(value)}")
        self._parts.append(value)
        return self

    def var(self, value: bytes) -> Writer:
        self._parts.append(_U32.pack(len(value)))
        self._parts.append(value)
        return self

    def text(self, value: str) -> Writer:
        return self.var(value.encode("utf-8"))

    def flag(self, value: bool) -> Writer:
        self._parts.append(b"\x01" if value else b"\x00")
        return self

    def opt_fixed(self, value: bytes | None, size: int) -> Writer:
        self.flag(value is not None)
        if value is not None:
            self.fixed(value, size)
        return self

    def opt_u64(self, value: int | None) -> Writer:
        self.flag(value is not None)
        if value is not None:
            self.u64(value)
        return self

    def opt_text(self, value: str | None) -> Writer:
        self.flag(value is not None)
        if value is not None:
            self.text(value)
        return self

    def raw(self, value: bytes) -> Writer:
        """Append already-encoded bytes (a nested object carries its own header)."""
        self._parts.append(value)
        return self

    def finish(self) -> bytes:
        return b"".join(self._parts)


class Reader:
    """Reads one object's fields in order; every problem is a :class:`MalformedError`."""

    __slots__ = ("_data", "_pos", "_what")

    def __init__(self, data: bytes, what: str, tag: int | None = None) -> None:
        if not isinstance(data, bytes | bytearray | memoryview):
            raise MalformedError(f"{what}: expected bytes")
        self._data = bytes(data)
        self._pos = 0
        self._what = what
        if tag is not None:
            got_tag, got_version = self._take_header()
            if got_tag != tag:
                raise MalformedError(f"{what}: this is not a {what} (type tag {got_tag:#04x})")
            if got_version != PROTOCOL_VERSION:
                raise MalformedError(
                    f"{what}: protocol version {got_version} is not supported "
                    f"(this software speaks version {PROTOCOL_VERSION}; update Vault)"
                )

    def _take_header(self) -> tuple[int, int]:
        raw = self._take(2, "header")
        return raw[0], raw[1]

    def _take(self, size: int, field: str) -> bytes:
        end = self._pos + size
        if end > len(self._data):
            raise MalformedError(f"{self._what}: truncated while reading {field}")
        chunk = self._data[self._pos : end]
        self._pos = end
        return chunk

    @property
    def offset(self) -> int:
        return self._pos

    def consumed(self) -> bytes:
        """The bytes read so far (the exact signed prefix of an object)."""
        return self._data[: self._pos]

    def u8(self, field: str = "u8") -> int:
        return self._take(1, field)[0]

    def u32(self, field: str = "u32") -> int:
        value: int = _U32.unpack(self._take(4, field))[0]
        return value

    def u64(self, field: str = "u64") -> int:
        value: int = _U64.unpack(self._take(8, field))[0]
        return value

    def fixed(self, size: int, field: str = "bytes") -> bytes:
        return self._take(size, field)

    def var(self, max_len: int, field: str = "bytes") -> bytes:
        length = self.u32(field)
        if length > max_len:
            raise MalformedError(f"{self._what}: {field} is {length} bytes, at most {max_len}")
        return self._take(length, field)

    def text(self, max_len: int, field: str = "text") -> str:
        raw = self.var(max_len, field)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise MalformedError(f"{self._what}: {field} is not valid UTF-8") from None

    def flag(self, field: str = "flag") -> bool:
        value = self.u8(field)
        if value > 1:
            raise MalformedError(f"{self._what}: {field} must be 0 or 1")
        return value == 1

    def opt_fixed(self, size: int, field: str = "bytes") -> bytes | None:
        return self.fixed(size, field) if self.flag(field) else None

    def opt_u64(self, field: str = "u64") -> int | None:
        return self.u64(field) if self.flag(field) else None

    def opt_text(self, max_len: int, field: str = "text") -> str | None:
        return self.text(max_len, field) if self.flag(field) else None

    def rest(self) -> bytes:
        chunk = self._data[self._pos :]
        self._pos = len(self._data)
        return chunk

    def done(self) -> None:
        if self._pos != len(self._data):
            raise MalformedError(
                f"{self._what}: {len(self._data) - self._pos} unexpected trailing bytes"
            )


def b64encode(data: bytes) -> str:
    """URL-safe base64 without padding: how bytes travel in JSON and URIs."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64decode(text: str, what: str = "value", max_len: int | None = None) -> bytes:
    """Strict inverse of :func:`b64encode`; rejects padding, other alphabets and junk."""
    if not isinstance(text, str):
        raise MalformedError(f"{what}: expected base64url text")
    if max_len is not None and len(text) > (max_len * 4 + 2) // 3:
        raise MalformedError(f"{what}: longer than {max_len} bytes")
    if "=" in text or not text.isascii():
        raise MalformedError(f"{what}: not unpadded base64url")
    try:
        data = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise MalformedError(f"{what}: not unpadded base64url") from None
    if b64encode(data) != text:  # one canonical text per value
        raise MalformedError(f"{what}: not canonical base64url")
    return data
