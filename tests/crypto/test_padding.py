"""Size buckets: exact sizes, round trips, opaque failures."""

import nacl.bindings
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vault.crypto.errors import DecryptionError, TooLargeError
from vault.crypto.limits import MAX_BUCKET, MAX_PADDABLE, MIN_BUCKET
from vault.crypto.padding import bucket_size, is_bucket, pad, pad_to, unpad


@pytest.mark.parametrize(
    ("length", "bucket"),
    [
        (0, 256), (1, 256), (255, 256), (256, 512), (300, 512), (511, 512), (512, 1024),
        (1023, 1024), (1024, 2048), (4095, 4096), (32767, 32768), (32768, 65536),
        (65535, 65536),
    ],
)
def test_bucket_sizes_are_exact(length: int, bucket: int) -> None:
    assert bucket_size(length) == bucket
    padded = pad(b"\xaa" * length)
    assert len(padded) == bucket
    assert padded[length] == 0x80 and set(padded[length + 1 :]) <= {0}


def test_above_the_largest_bucket_is_too_large() -> None:
    assert MAX_PADDABLE == 65535 and MAX_BUCKET == 65536 and MIN_BUCKET == 256
    with pytest.raises(TooLargeError, match="at most 65535"):
        bucket_size(65536)
    with pytest.raises(TooLargeError):
        pad(b"x" * 65536)
    with pytest.raises(ValueError, match="negative"):
        bucket_size(-1)


def test_is_bucket() -> None:
    assert [size for size in range(0, 70000) if is_bucket(size)] == [
        256, 512, 1024, 2048, 4096, 8192, 16384, 32768, 65536
    ]


@given(st.binary(max_size=5000))
def test_pad_unpad_round_trip(data: bytes) -> None:
    padded = pad(data)
    assert is_bucket(len(padded)) and len(padded) > len(data)
    assert unpad(padded) == data


def test_matches_iso_7816_4_from_libsodium() -> None:
    data = b"hello"
    assert pad(data) == data + b"\x80" + bytes(250)
    assert pad(data) == nacl.bindings.sodium_pad(data, 256)


def test_pad_to_exact_size() -> None:
    assert len(pad_to(b"abc", 210)) == 210
    assert unpad(pad_to(b"abc", 210)) == b"abc"
    with pytest.raises(ValueError):
        pad_to(b"abc", 3)


@pytest.mark.parametrize(
    "bad",
    [b"", bytes(256), b"abc" + bytes(253), b"abc\x80\x01" + bytes(251), b"\x81" + bytes(255),
     b"\x80\x01" + bytes(70000), b"x" + pad(b"")[:-1] + bytes(65536)],
)
def test_bad_padding_is_the_opaque_decryption_error(bad: bytes) -> None:
    with pytest.raises(DecryptionError) as info:
        unpad(bad)
    assert "could not decrypt" in str(info.value)


@settings(max_examples=300)
@given(st.binary(max_size=3000))
def test_pad_is_byte_identical_to_libsodium(data: bytes) -> None:
    assert pad(data) == nacl.bindings.sodium_pad(data, bucket_size(len(data)))
    assert pad_to(data, len(data) + 7) == nacl.bindings.sodium_pad(data, len(data) + 7)


@settings(max_examples=500)
@given(st.binary(max_size=40), st.sampled_from([b"", b"\x80", b"\x80\x00", b"\x01", b"\x00"]),
       st.integers(0, 300))
def test_unpad_agrees_with_libsodium(head: bytes, marker: bytes, zeros: int) -> None:
    padded = head + marker + bytes(zeros)
    try:
        expected: bytes | None = nacl.bindings.sodium_unpad(padded, len(padded))
    except Exception:
        expected = None
    if expected is None:
        with pytest.raises(DecryptionError):
            unpad(padded)
    else:
        assert unpad(padded) == expected


def test_unpad_beyond_the_post_buckets_needs_a_larger_limit() -> None:
    data = b"attachment \x80 data"
    padded = pad_to(data, 3 * MAX_BUCKET)  # more zeros after the marker than MAX_BUCKET
    with pytest.raises(DecryptionError):
        unpad(padded)  # the default limit is the largest post bucket
    assert unpad(padded, max_size=len(padded)) == data
    assert unpad(padded, max_size=len(padded)) == nacl.bindings.sodium_unpad(padded, len(padded))
    with pytest.raises(DecryptionError):
        unpad(padded[:-1] + b"\x01", max_size=len(padded))
    with pytest.raises(DecryptionError):
        unpad(bytes(len(padded)), max_size=len(padded))
