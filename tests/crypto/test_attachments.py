"""Attachment blobs: fresh keys, padding to size buckets, digests checked before
decryption, size limits."""

import struct
from dataclasses import replace

import nacl.bindings
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.crypto.logfactory import seeded_random
from vault.crypto import labels
from vault.crypto.attachments import (
    BLOB_OVERHEAD,
    Attachment,
    blob_digest,
    decrypt_attachment,
    encrypt_attachment,
    file_name_from,
    is_blob_size,
    make_attachment,
    padded_size,
)
from vault.crypto.encoding import Reader, Writer
from vault.crypto.errors import (
    AttachmentMismatchError,
    DecryptionError,
    PostError,
    TooLargeError,
)
from vault.crypto.limits import MAX_ATTACHMENT_SIZE, MAX_BLOB_SIZE, MIB


def test_round_trip_and_layout() -> None:
    data = b"a photo of the sea" * 100  # 1800 bytes: the 2048-byte bucket
    key, digest, blob = encrypt_attachment(data, random=seeded_random("att"))
    assert len(blob) == 2048 + BLOB_OVERHEAD == 2048 + 40
    nonce = blob[:24]
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[24:], bytes((len(labels.ATTACHMENT),)) + labels.ATTACHMENT, nonce, key)
    assert padded == data + b"\x80" + bytes(2048 - len(data) - 1)
    assert padded == nacl.bindings.sodium_pad(data, 2048)  # ISO/IEC 7816-4, as libsodium
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
    assert MAX_ATTACHMENT_SIZE == 10 * MIB - 1 and MAX_BLOB_SIZE == 10 * MIB + 40
    too_big = bytes(MAX_ATTACHMENT_SIZE + 1)
    with pytest.raises(TooLargeError, match="10485759"):
        encrypt_attachment(too_big)
    attachment, blob = make_attachment(bytes(MAX_ATTACHMENT_SIZE), "application/octet-stream")
    assert attachment.size == MAX_ATTACHMENT_SIZE
    assert len(blob) == MAX_BLOB_SIZE
    assert len(decrypt_attachment(attachment, blob)) == MAX_ATTACHMENT_SIZE
    with pytest.raises(TooLargeError):
        Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, MAX_ATTACHMENT_SIZE + 1, "a/b")


# --- size buckets ----------------------------------------------------------------------------


@pytest.mark.parametrize(("length", "bucket"), [
    (0, 256), (1, 256), (255, 256), (256, 512), (257, 512), (1000, 1024), (1023, 1024),
    (1024, 2048), (MIB // 2, MIB), (MIB - 1, MIB), (MIB, 2 * MIB), (MIB + 1, 2 * MIB),
    (2 * MIB - 1, 2 * MIB), (2 * MIB, 3 * MIB), (9 * MIB + 5, 10 * MIB),
    (MAX_ATTACHMENT_SIZE, 10 * MIB),
])
def test_buckets(length: int, bucket: int) -> None:
    assert padded_size(length) == bucket
    assert is_blob_size(bucket + BLOB_OVERHEAD)


def test_bucket_limits() -> None:
    with pytest.raises(TooLargeError):
        padded_size(MAX_ATTACHMENT_SIZE + 1)
    with pytest.raises(ValueError, match="negative"):
        padded_size(-1)
    for size in (0, 255 + 40, 256 + 39, 300 + 40, 3 * MIB // 2 + 40, 11 * MIB + 40,
                 MAX_BLOB_SIZE + 1, MAX_BLOB_SIZE + MIB):
        assert not is_blob_size(size), size
    buckets = [b for b in range(0, 10 * MIB + 1, 256) if is_blob_size(b + BLOB_OVERHEAD)]
    assert buckets == [256 << i for i in range(13)] + [k * MIB for k in range(2, 11)]


@given(st.integers(0, MAX_ATTACHMENT_SIZE))
def test_bucket_is_the_smallest_that_fits(length: int) -> None:
    bucket = padded_size(length)
    assert bucket > length and is_blob_size(bucket + BLOB_OVERHEAD)
    smaller = [b for b in (bucket // 2, bucket - MIB) if b >= 256
               and is_blob_size(b + BLOB_OVERHEAD)]
    assert all(b <= length for b in smaller)


def test_the_relay_sees_only_the_bucket() -> None:
    sizes = {len(make_attachment(bytes(n), "a/b")[1]) for n in (0, 17, 200, 255)}
    assert sizes == {256 + BLOB_OVERHEAD}
    big = {len(make_attachment(bytes(n), "a/b")[1]) for n in (MIB, MIB + 1000, 2 * MIB - 1)}
    assert big == {2 * MIB + BLOB_OVERHEAD}


def _blob_with_plaintext(plaintext: bytes, key: bytes = b"\x05" * 32) -> bytes:
    nonce = b"\x06" * 24
    return nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, bytes((len(labels.ATTACHMENT),)) + labels.ATTACHMENT, nonce, key)


def test_size_is_checked_after_unpadding() -> None:
    """An author who misstates the size within the same bucket is caught after decrypting."""
    attachment, blob = make_attachment(b"hello", "text/plain")
    for wrong in (4, 6, 0, 255):
        lying = Attachment(attachment.blob_id, attachment.blob_key, attachment.digest, wrong,
                           attachment.media_type)
        with pytest.raises(AttachmentMismatchError, match="another number of bytes"):
            decrypt_attachment(lying, blob)
    with pytest.raises(AttachmentMismatchError, match="wrong size"):  # another bucket
        decrypt_attachment(Attachment(attachment.blob_id, attachment.blob_key,
                                      attachment.digest, 256, "text/plain"), blob)


@pytest.mark.parametrize("plaintext", [bytes(256), b"\x01" * 256, b"x\x80" + bytes(253) + b"y"])
def test_bad_padding_is_a_decryption_error(plaintext: bytes) -> None:
    blob = _blob_with_plaintext(plaintext)
    forged = Attachment(b"\x01" * 16, b"\x05" * 32, blob_digest(blob), 0, "a/b")
    with pytest.raises(DecryptionError):
        decrypt_attachment(forged, blob)


def test_unpadding_a_large_bucket() -> None:
    data = b"\x80" * 10 + bytes(MIB + 5)  # 2 MiB bucket: ~1 MiB of zeros after the 0x80
    tail = 2 * MIB - len(data) - 1
    blob = _blob_with_plaintext(data + b"\x80" + bytes(tail))
    ok = Attachment(b"\x01" * 16, b"\x05" * 32, blob_digest(blob), len(data), "a/b")
    assert decrypt_attachment(ok, blob) == data
    spoiled = _blob_with_plaintext(data + b"\x80" + bytes(tail // 2) + b"\x01"
                                   + bytes(tail - tail // 2 - 1))
    bad = Attachment(b"\x01" * 16, b"\x05" * 32, blob_digest(spoiled), len(data), "a/b")
    with pytest.raises(DecryptionError):
        decrypt_attachment(bad, spoiled)


@pytest.mark.parametrize("media", ["", "a b", "x" * 128, "caf\u00e9/x", "a\nb"])
def test_media_type_rules(media: str) -> None:
    with pytest.raises(PostError, match="media type"):
        Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 1, media)


@pytest.mark.parametrize("name", ["..", ".", "a/b", "a\\b", "a\nb", "a\x7fb", "a\x85b",
                                  "photo\u202egpj.exe", "a\u2066b", "a\u200fb", "é" * 128])
def test_file_names_that_could_mislead_or_escape_are_refused(name: str) -> None:
    with pytest.raises(PostError, match="file name"):
        Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 1, "text/plain", name)
    with pytest.raises(PostError, match="file name"):
        make_attachment(b"data", "text/plain", name)


@pytest.mark.parametrize(("local", "sent"), [
    ("notes.txt", "notes.txt"), ("..", ""), (".", ""), ("a\nb.txt", "a_b.txt"),
    ("photo\u202egpj.exe", "photo_gpj.exe"), ("é" * 200 + ".jpeg", "é" * 125 + ".jpeg"),
    ("x" * 300, "x" * 255)])
def test_a_local_name_becomes_a_valid_file_name(local: str, sent: str) -> None:
    assert file_name_from(local) == sent
    Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 1, "text/plain", sent)


def test_a_file_name_travels_in_the_wire_form() -> None:
    name = "Élodie's garden 🌷.png"
    attachment = Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 7, "image/png", name)
    writer = Writer()
    attachment.write_to(writer)
    raw = writer.finish()
    encoded = name.encode()
    assert raw.endswith(struct.pack(">I", len(encoded)) + encoded)
    assert Attachment.read_from(Reader(raw, "attachment")) == attachment
    assert Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 7, "image/png",
                      "a" * 255).file_name == "a" * 255


def test_the_version_1_form_has_no_file_name_field() -> None:
    """Inside a version-1 post body (PB-1) an attachment ends with its media type and reads
    back with the empty name; a named attachment has no such form."""
    attachment = Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 7, "image/png")
    writer = Writer()
    attachment.write_to(writer, with_file_name=False)
    raw = writer.finish()
    assert raw == (b"\x01" * 16 + b"\x02" * 32 + b"\x03" * 32 + struct.pack(">QI", 7, 9)
                   + b"image/png")
    reader = Reader(raw, "attachment")
    assert Attachment.read_from(reader, with_file_name=False) == attachment
    reader.done()
    reader = Reader(raw + b"\x00" * 4, "attachment")  # the version-2 form of the same
    assert Attachment.read_from(reader) == attachment
    reader.done()
    with pytest.raises(ValueError, match="version-2"):
        replace(attachment, file_name="a.png").write_to(Writer(), with_file_name=False)


def test_wire_form_and_repr() -> None:
    attachment = Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 7, "image/png")
    writer = Writer()
    attachment.write_to(writer)
    raw = writer.finish()
    assert raw == (b"\x01" * 16 + b"\x02" * 32 + b"\x03" * 32 + struct.pack(">QI", 7, 9)
                   + b"image/png" + struct.pack(">I", 0))
    assert Attachment.read_from(Reader(raw, "attachment")) == attachment
    assert (b"\x02" * 32).hex() not in repr(attachment)
    with pytest.raises(ValueError):
        Attachment(b"\x01" * 15, b"\x02" * 32, b"\x03" * 32, 7, "image/png")
