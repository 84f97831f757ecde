"""Attachment blobs: fresh keys, digests checked before decryption, size limits."""

import struct

import nacl.bindings
import pytest

from tests.crypto.logfactory import seeded_random
from vault.crypto import labels
from vault.crypto.attachments import (
    BLOB_OVERHEAD,
    MAX_ATTACHMENT_SIZE,
    Attachment,
    blob_digest,
    decrypt_attachment,
    encrypt_attachment,
    make_attachment,
)
from vault.crypto.encoding import Reader, Writer
from vault.crypto.errors import (
    AttachmentMismatchError,
    DecryptionError,
    PostError,
    TooLargeError,
)


def test_round_trip_and_layout() -> None:
    data = b"a photo of the sea" * 100
    key, digest, blob = encrypt_attachment(data, random=seeded_random("att"))
    assert len(blob) == len(data) + BLOB_OVERHEAD == len(data) + 40
    nonce = blob[:24]
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[24:], bytes((len(labels.ATTACHMENT),)) + labels.ATTACHMENT, nonce, key) == data
    framed = bytes((len(labels.ATTACHMENT_DIGEST),)) + labels.ATTACHMENT_DIGEST
    assert digest == nacl.bindings.crypto_generichash_blake2b_salt_personal(
        framed + blob, digest_size=32)
    attachment = Attachment(b"\x01" * 16, key, digest, len(data), "image/jpeg")
    assert decrypt_attachment(attachment, blob) == data


def test_each_blob_gets_a_fresh_key_and_nonce() -> None:
    first = encrypt_attachment(b"same")
    second = encrypt_attachment(b"same")
    assert first[0] != second[0] and first[2] != second[2]


def test_make_attachment_describes_the_blob() -> None:
    attachment, blob = make_attachment(b"", "text/plain", random=seeded_random("empty"))
    assert attachment.size == 0 and len(attachment.blob_id) == 16
    assert attachment.digest == blob_digest(blob)
    assert decrypt_attachment(attachment, blob) == b""


def test_wrong_blob_is_caught_before_decrypting() -> None:
    attachment, blob = make_attachment(b"hello", "text/plain")
    _, other = make_attachment(b"world", "text/plain")
    with pytest.raises(AttachmentMismatchError, match="digest"):
        decrypt_attachment(attachment, other)
    with pytest.raises(AttachmentMismatchError, match="wrong size"):
        decrypt_attachment(attachment, blob[:-1])
    tampered = bytearray(blob)
    tampered[30] ^= 1
    with pytest.raises(AttachmentMismatchError, match="digest"):
        decrypt_attachment(attachment, bytes(tampered))


def test_tampered_blob_with_a_matching_digest_still_fails_to_decrypt() -> None:
    attachment, blob = make_attachment(b"hello", "text/plain")
    tampered = bytearray(blob)
    tampered[30] ^= 1
    forged = Attachment(attachment.blob_id, attachment.blob_key, blob_digest(bytes(tampered)),
                        attachment.size, attachment.media_type)
    with pytest.raises(DecryptionError):
        decrypt_attachment(forged, bytes(tampered))


def test_size_limit() -> None:
    too_big = bytes(MAX_ATTACHMENT_SIZE + 1)
    with pytest.raises(TooLargeError, match="10485760"):
        encrypt_attachment(too_big)
    attachment, blob = make_attachment(bytes(MAX_ATTACHMENT_SIZE), "application/octet-stream")
    assert attachment.size == MAX_ATTACHMENT_SIZE
    assert len(decrypt_attachment(attachment, blob)) == MAX_ATTACHMENT_SIZE
    with pytest.raises(TooLargeError):
        Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, MAX_ATTACHMENT_SIZE + 1, "a/b")


@pytest.mark.parametrize("media", ["", "a b", "x" * 128, "caf\u00e9/x", "a\nb"])
def test_media_type_rules(media: str) -> None:
    with pytest.raises(PostError, match="media type"):
        Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 1, media)


def test_wire_form_and_repr() -> None:
    attachment = Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 7, "image/png")
    writer = Writer()
    attachment.write_to(writer)
    raw = writer.finish()
    assert raw == (b"\x01" * 16 + b"\x02" * 32 + b"\x03" * 32 + struct.pack(">QI", 7, 9)
                   + b"image/png")
    assert Attachment.read_from(Reader(raw, "attachment")) == attachment
    assert (b"\x02" * 32).hex() not in repr(attachment)
    with pytest.raises(ValueError):
        Attachment(b"\x01" * 15, b"\x02" * 32, b"\x03" * 32, 7, "image/png")
