"""The wire codec: strict, canonical, bounded."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer, b64decode, b64encode
from vault.crypto.errors import MalformedError


def test_fields_encode_big_endian_with_header() -> None:
    data = (
        Writer(Tag.PUBLIC_IDENTITY)
        .u8(7)
        .u32(0x01020304)
        .u64(5)
        .fixed(b"ab", 2)
        .var(b"xyz")
        .text("é")
        .opt_u64(None)
        .opt_text("hi")
        .finish()
    )
    assert data == (
        bytes([Tag.PUBLIC_IDENTITY, PROTOCOL_VERSION, 7, 1, 2, 3, 4])
        + (5).to_bytes(8, "big")
        + b"ab"
        + b"\x00\x00\x00\x03xyz"
        + b"\x00\x00\x00\x02\xc3\xa9"
        + b"\x00"
        + b"\x01\x00\x00\x00\x02hi"
    )
    reader = Reader(data, "thing", Tag.PUBLIC_IDENTITY)
    assert reader.u8() == 7
    assert reader.u32() == 0x01020304
    assert reader.u64() == 5
    assert reader.fixed(2) == b"ab"
    assert reader.var(10) == b"xyz"
    assert reader.text(10) == "é"
    assert reader.opt_u64() is None
    assert reader.opt_text(10) == "hi"
    reader.done()


def test_wrong_tag_is_named() -> None:
    data = Writer(Tag.LOG_ENTRY).finish()
    with pytest.raises(MalformedError, match="not a public identity"):
        Reader(data, "public identity", Tag.PUBLIC_IDENTITY)


def test_newer_version_tells_the_person_to_update() -> None:
    data = Writer(Tag.LOG_ENTRY, version=PROTOCOL_VERSION + 1).finish()
    with pytest.raises(MalformedError, match="update Vault"):
        Reader(data, "log entry", Tag.LOG_ENTRY)


def test_truncation_trailing_bytes_and_bounds_are_rejected() -> None:
    data = Writer().var(b"hello").finish()
    with pytest.raises(MalformedError, match="truncated"):
        Reader(data[:-1], "x").var(10)
    with pytest.raises(MalformedError, match="at most 4"):
        Reader(data, "x").var(4)
    reader = Reader(data + b"!", "x")
    reader.var(10)
    with pytest.raises(MalformedError, match="trailing"):
        reader.done()


def test_flags_must_be_canonical() -> None:
    with pytest.raises(MalformedError, match="0 or 1"):
        Reader(b"\x02", "x").flag()


def test_text_must_be_utf8() -> None:
    with pytest.raises(MalformedError, match="UTF-8"):
        Reader(b"\x00\x00\x00\x01\xff", "x").text(10)


def test_writer_refuses_wrong_fixed_size() -> None:
    with pytest.raises(ValueError):
        Writer().fixed(b"abc", 2)


@given(st.binary(max_size=300))
def test_b64_round_trip_is_canonical(data: bytes) -> None:
    text = b64encode(data)
    assert "=" not in text
    assert b64decode(text) == data


@pytest.mark.parametrize("text", ["YQ==", "Y", "a+b/", "YR", "ä", "Y Q"])
def test_b64_rejects_non_canonical(text: str) -> None:
    with pytest.raises(MalformedError):
        b64decode(text)


def test_b64_bounds_length_before_decoding() -> None:
    with pytest.raises(MalformedError, match="longer than 3"):
        b64decode(b64encode(b"abcd"), max_len=3)


@given(st.lists(st.tuples(st.sampled_from(["u32", "u64", "var", "text"]), st.integers(0, 2**32 - 1),
                          st.binary(max_size=40), st.text(max_size=20))))
def test_any_field_sequence_round_trips(fields: list[tuple[str, int, bytes, str]]) -> None:
    writer = Writer(Tag.POST_BODY)
    for kind, number, raw, text in fields:
        getattr(writer, kind)({"u32": number, "u64": number, "var": raw, "text": text}[kind])
    reader = Reader(writer.finish(), "body", Tag.POST_BODY)
    for kind, number, raw, text in fields:
        if kind in ("u32", "u64"):
            assert getattr(reader, kind)() == number
        elif kind == "var":
            assert reader.var(100) == raw
        else:
            assert reader.text(100) == text
    reader.done()
