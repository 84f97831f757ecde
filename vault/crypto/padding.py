"""Size buckets: hide the exact length of everything encrypted.

Plaintext is padded with ISO/IEC 7816-4 padding (``0x80`` then zeros, exactly what
libsodium's ``sodium_pad`` produces) to a *bucket*: the smallest power of two that is at
least one byte longer than the data, never below ``MIN_BUCKET`` (256 bytes), never
above ``MAX_BUCKET`` (64 KiB; both in :mod:`vault.crypto.limits`). The relay therefore
learns only which bucket a post or a profile falls into, not its length.

:func:`pad_to` / :func:`unpad` also serve objects whose *total* wire size is what lands
on a bucket (see :mod:`vault.crypto.metadata`), and attachments, which have buckets of
their own up to 10 MiB (see :mod:`vault.crypto.attachments`; ``unpad(..., max_size=...)``).
"""

from __future__ import annotations

from typing import Final

from vault.crypto.errors import DecryptionError, TooLargeError
from vault.crypto.limits import MAX_BUCKET, MAX_PADDABLE, MIN_BUCKET

# Padding is done inline rather than through ``nacl.bindings.sodium_pad`` /
# ``sodium_unpad``: the bytes are identical (the tests compare against libsodium on every
# size), but each binding call costs ~6 us (a zeroed scratch buffer and a constant-time
# loop over the whole block), a quarter of sealing a post. Constant time buys nothing
# here: padding is added before encryption and removed only after the AEAD tag verified,
# so no one but a key holder can submit padding to be checked.
_MARKER: Final = b"\x80"
_ZEROS: Final = bytes(MAX_BUCKET)


def bucket_size(length: int) -> int:
    """The padded size for *length* bytes of data: a power of two in [256, 65536]."""
    if length < 0:
        raise ValueError("length must not be negative")
    if length > MAX_PADDABLE:
        raise TooLargeError(
            f"content is {length} bytes; at most {MAX_PADDABLE} bytes fit in one message"
        )
    if length < MIN_BUCKET:
        return MIN_BUCKET
    return 1 << length.bit_length()  # smallest power of two > length, i.e. >= length + 1


def is_bucket(size: int) -> bool:
    """True when *size* is one of the bucket sizes."""
    return MIN_BUCKET <= size <= MAX_BUCKET and size & (size - 1) == 0


def pad(data: bytes) -> bytes:
    """Pad *data* to exactly :func:`bucket_size` ``(len(data))`` bytes."""
    return data + _MARKER + bytes(bucket_size(len(data)) - len(data) - 1)


def pad_to(data: bytes, size: int) -> bytes:
    """Pad *data* to exactly *size* bytes (``size > len(data)``)."""
    if size <= len(data):
        raise ValueError("the padded size must exceed the data length")
    return data + _MARKER + bytes(size - len(data) - 1)


def unpad(padded: bytes, *, max_size: int = MAX_BUCKET) -> bytes:
    """Remove padding; a bad pad is the one opaque :class:`DecryptionError`.

    Padding is only removed after authenticated decryption, so a bad pad means the
    holder of the key produced it; callers still treat it as "could not decrypt".
    Inputs longer than *max_size* are refused (:data:`MAX_BUCKET` unless said otherwise).
    """
    if len(padded) > max_size:
        raise DecryptionError()
    end = padded.rfind(_MARKER)  # valid iff only zeros follow the last 0x80
    if end < 0:
        raise DecryptionError()
    zeros = len(padded) - end - 1
    if zeros <= MAX_BUCKET:
        valid = padded.endswith(_ZEROS[:zeros])
    else:  # only attachments pad this far
        valid = padded.count(0, end + 1) == zeros
    if not valid:
        raise DecryptionError()
    return padded[:end]
