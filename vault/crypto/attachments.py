"""Attachments: blobs encrypted under their own random key, referenced from a post.

The relay stores the blob
``nonce[24] || XChaCha20-Poly1305(pad(data), aad=frame("vault/v1/attachment"))``
under a client-chosen 16-byte ``blob_id``. The post body carries the blob's key, its
digest ``H("vault/v1/attachment-digest", blob)`` and the plaintext size, so a client can
check a served blob before decrypting it and the relay learns nothing but the blob's
size bucket.

Padding: ISO/IEC 7816-4 (``0x80`` then zeros, as ``sodium_pad``; see
:mod:`vault.crypto.padding`) to the smallest bucket at least one byte longer than the
data. Buckets (:func:`padded_size`): powers of two from 256 bytes to 1 MiB, then whole
multiples of 1 MiB up to 10 MiB. So the data is at most 10 MiB - 1 byte
(:data:`~vault.crypto.limits.MAX_ATTACHMENT_SIZE`) and a blob is ``bucket + 40`` bytes, at
most :data:`~vault.crypto.limits.MAX_BLOB_SIZE` = 10 MiB + 40. After decrypting, the
unpadded data must be exactly ``size`` bytes.

Wire form of one attachment inside a post body (no header of its own)::

    blob_id[16] blob_key[32] digest[32] size:u64 media_type:text(<=127 bytes, ASCII)
    file_name:text(<=255 bytes)            only in a version-2 post body

The file name is what the attachment was called on its author's device, so a member who
saves it gets a file they recognise; empty when it had none. It is sealed inside the post
like everything else here. Because a receiving device may use it as a file name, it may
not be a path (``/``, ``\\``, ``.``, ``..``), hold control characters, or hold the
bidirectional controls that make ``photo<U+202E>gpj.exe`` look like ``photoexe.jpg``.

A post body's version says whether its attachments carry the field (protocol §6.1, PB-1
and PB-2): version 1 -- what builds before file names wrote, and what is still written when
no attachment has a name -- has no ``file_name`` field, and its attachments decode with
``file_name`` ``""``; version 2 has it on every attachment.
"""

from __future__ import annotations

from dataclasses import dataclass
from hmac import compare_digest
from typing import Final

from vault.crypto import labels
from vault.crypto.encoding import Reader, Writer
from vault.crypto.errors import AttachmentMismatchError, PostError, TooLargeError
from vault.crypto.limits import (
    MAX_ATTACHMENT_BUCKET,
    MAX_ATTACHMENT_SIZE,
    MAX_FILE_NAME,
    MAX_MEDIA_TYPE,
    MIB,
    MIN_ATTACHMENT_BUCKET,
)
from vault.crypto.padding import pad_to, unpad
from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    HASH_SIZE,
    KEY_SIZE,
    RandomSource,
    aead_open,
    aead_seal,
    default_random,
    draw,
    frame,
    labelled_hash,
)

BLOB_ID_SIZE: Final = 16
_FORBIDDEN_IN_FILE_NAME: Final = frozenset(
    [*map(chr, range(0x20)), *map(chr, range(0x7F, 0xA0)), "/", "\\", "\u200e", "\u200f",
     *map(chr, range(0x202A, 0x202F)), *map(chr, range(0x2066, 0x206A))])
"""ATT-3: C0 and C1 controls, path separators, bidirectional marks and controls."""
BLOB_OVERHEAD: Final = AEAD_NONCE_SIZE + AEAD_TAG_SIZE

_AAD: Final = frame(labels.ATTACHMENT)


@dataclass(frozen=True)
class Attachment:
    """What a post says about one blob. ``repr`` never shows the blob key."""

    blob_id: bytes
    blob_key: bytes
    digest: bytes
    size: int
    media_type: str
    file_name: str = ""

    def __post_init__(self) -> None:
        if (len(self.blob_id) != BLOB_ID_SIZE or len(self.blob_key) != KEY_SIZE
                or len(self.digest) != HASH_SIZE):
            raise ValueError("attachment: blob id is 16 bytes, key and digest 32 bytes")
        if not 0 <= self.size <= MAX_ATTACHMENT_SIZE:
            raise TooLargeError(
                f"attachment is {self.size} bytes; attachments are at most "
                f"{MAX_ATTACHMENT_SIZE} bytes"
            )
        media = self.media_type
        if not (0 < len(media) <= MAX_MEDIA_TYPE and media.isascii() and media.isprintable()
                and " " not in media):
            raise PostError(
                "attachment media type must be 1 to 127 printable ASCII characters without spaces"
            )
        check_file_name(self.file_name)

    def write_to(self, writer: Writer, *, with_file_name: bool = True) -> None:
        """The wire form; *with_file_name* False is the form inside a version-1 post body,
        which has no file name field (so the attachment must have no name)."""
        (writer.fixed(self.blob_id, BLOB_ID_SIZE).fixed(self.blob_key, KEY_SIZE)
         .fixed(self.digest, HASH_SIZE).u64(self.size).text(self.media_type))
        if with_file_name:
            writer.text(self.file_name)
        elif self.file_name:
            raise ValueError("attachment: a named attachment needs the form with a file name "
                             "(a version-2 post body)")

    @classmethod
    def read_from(cls, reader: Reader, *, with_file_name: bool = True) -> Attachment:
        return cls(*cls.read_fields(reader, with_file_name=with_file_name))

    @staticmethod
    def read_fields(reader: Reader, *, with_file_name: bool = True
                    ) -> tuple[bytes, bytes, bytes, int, str, str]:
        """The six fields, unchecked: a post body checks its attachments' rules only once
        its whole structure has been read (protocol §1.1, decoding order). Without
        *with_file_name* (a version-1 post body) there is no file name field: ``""``."""
        return (
            reader.fixed(BLOB_ID_SIZE, "attachment blob id"),
            reader.fixed(KEY_SIZE, "attachment key"),
            reader.fixed(HASH_SIZE, "attachment digest"),
            reader.u64("attachment size"),
            reader.text(MAX_MEDIA_TYPE, "attachment media type"),
            reader.text(MAX_FILE_NAME, "attachment file name") if with_file_name else "",
        )

    def __repr__(self) -> str:
        return (f"Attachment(blob_id={self.blob_id.hex()!r}, size={self.size}, "
                f"media_type={self.media_type!r}, file_name={self.file_name!r})")


def check_file_name(name: str) -> None:
    """ATT-3: *name* may serve as a file name on the receiving device [PostError]."""
    if (len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME or name in (".", "..")
            or not _FORBIDDEN_IN_FILE_NAME.isdisjoint(name)):
        raise PostError(
            "attachment file name must be at most 255 bytes, not . or .., without path "
            "separators, control characters or bidirectional controls"
        )


def file_name_from(name: str) -> str:
    """*name* (the last component of a local path) made a valid attachment file name: each
    character ATT-3 forbids becomes ``_``, and a name over 255 bytes is shortened, keeping
    its extension; ``.`` and ``..`` become empty (no name)."""
    name = "".join("_" if c in _FORBIDDEN_IN_FILE_NAME else c for c in name)
    if name in (".", ".."):
        return ""
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension.encode("utf-8", "surrogatepass")) > 32:
        stem, dot, extension = name, "", ""
    while len(name.encode("utf-8", "surrogatepass")) > MAX_FILE_NAME:
        stem = stem[:-1]
        name = stem + dot + extension
    return name


def padded_size(length: int) -> int:
    """The bucket *length* bytes of attachment data are padded to (at least length + 1)."""
    if length < 0:
        raise ValueError("length must not be negative")
    if length > MAX_ATTACHMENT_SIZE:
        raise TooLargeError(
            f"attachment is {length} bytes; attachments are at most {MAX_ATTACHMENT_SIZE} bytes"
        )
    if length < MIN_ATTACHMENT_BUCKET:
        return MIN_ATTACHMENT_BUCKET
    if length < MIB:
        return 1 << length.bit_length()  # smallest power of two > length
    return (length // MIB + 1) * MIB  # smallest multiple of 1 MiB > length


def is_blob_size(size: int) -> bool:
    """Whether *size* is a possible blob length (a bucket + 40): a check the relay can make."""
    padded = size - BLOB_OVERHEAD
    if not MIN_ATTACHMENT_BUCKET <= padded <= MAX_ATTACHMENT_BUCKET:
        return False
    if padded <= MIB:
        return padded & (padded - 1) == 0
    return padded % MIB == 0


def blob_digest(blob: bytes) -> bytes:
    """The digest a post records for an encrypted blob."""
    return labelled_hash(labels.ATTACHMENT_DIGEST, blob)


def encrypt_attachment(
    data: bytes, *, random: RandomSource = default_random
) -> tuple[bytes, bytes, bytes]:
    """Pad *data* and encrypt it under a fresh key: returns ``(blob_key, digest, blob)``."""
    padded = pad_to(data, padded_size(len(data)))
    key = draw(random, KEY_SIZE)
    nonce = draw(random, AEAD_NONCE_SIZE)
    blob = nonce + aead_seal(key, nonce, padded, _AAD)
    return key, blob_digest(blob), blob


def make_attachment(
    data: bytes, media_type: str, file_name: str = "", *,
    random: RandomSource = default_random
) -> tuple[Attachment, bytes]:
    """Encrypt *data* and describe it: returns ``(Attachment, blob to upload)``.

    The blob id is 16 random bytes, so an upload retry is idempotent on it.
    """
    check_file_name(file_name)  # before drawing anything: a refused name changes nothing
    key, digest, blob = encrypt_attachment(data, random=random)
    return Attachment(draw(random, BLOB_ID_SIZE), key, digest, len(data), media_type,
                      file_name), blob


def decrypt_attachment(attachment: Attachment, blob: bytes) -> bytes:
    """Check a served *blob* against *attachment* (size bucket, digest), decrypt and
    unpad it, and check the data is exactly ``attachment.size`` bytes."""
    if len(blob) != padded_size(attachment.size) + BLOB_OVERHEAD:
        raise AttachmentMismatchError(
            "the blob served has the wrong size for this attachment (the relay served "
            "another or a truncated blob)"
        )
    if not compare_digest(blob_digest(blob), attachment.digest):
        raise AttachmentMismatchError(
            "the blob served does not match the attachment's digest (the relay served "
            "another or an altered blob)"
        )
    padded = aead_open(attachment.blob_key, blob[:AEAD_NONCE_SIZE], blob[AEAD_NONCE_SIZE:], _AAD)
    data = unpad(padded, max_size=MAX_ATTACHMENT_BUCKET)
    if len(data) != attachment.size:
        raise AttachmentMismatchError(
            "the attachment holds another number of bytes than its post says (the post's "
            "author described it wrongly)"
        )
    return data
