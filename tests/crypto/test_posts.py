"""Posts: bodies, envelopes, seal/open, and every rule both ways with its error."""

from __future__ import annotations

import hashlib
import json
import struct
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

import nacl.bindings
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import LogFactory, seeded_random
from tests.crypto.postkit import Group, craft, craft_from
from vault.crypto import epochs, labels
from vault.crypto.attachments import Attachment, file_name_from, make_attachment
from vault.crypto.encoding import Tag
from vault.crypto.errors import (
    DecryptionError,
    EpochStaleError,
    MalformedError,
    NotAMemberError,
    PostError,
    RotationPendingError,
    SignatureError,
    TooLargeError,
    UnknownLogHeadError,
    VaultError,
    all_error_classes,
)
from vault.crypto.identity import Identity
from vault.crypto.limits import MAX_ATTACHMENT_SIZE, MAX_TEXT
from vault.crypto.padding import pad
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import (
    OPEN_BATCH,
    OpenedPost,
    PostEnvelope,
    check_can_post,
    open_post,
    open_posts,
    seal_post,
)
from vault.crypto.primitives import verify

G = Group()
ALICE, BOB, OUTSIDER = G.alice, G.bob, G.outsider
ATT = Attachment(b"\x01" * 16, b"\x02" * 32, b"\x03" * 32, 1234, "image/png")


def pinned_identity() -> Identity:
    return Identity(b"\x11" * 32, b"\x22" * 32)


# --- round trips ---------------------------------------------------------------------------


def test_seal_then_open() -> None:
    body = G.body(ALICE, text="I made it through the week", content_warning="relapse",
                  attachments=(ATT,))
    envelope = G.seal(ALICE, body)
    opened = open_post(envelope, G.key, G.state)
    assert isinstance(opened, OpenedPost)
    assert opened.body == body and opened.envelope is envelope
    assert opened.post_id == body.post_id and opened.author == ALICE.sign_pk
    assert opened.body.encode() == body.encode()
    again = open_post(PostEnvelope.decode(envelope.encode()), G.key, G.state)
    assert again.body == body and again.signature == opened.signature


def test_pinned_nonce_gives_exact_bytes() -> None:
    me = pinned_identity()
    body = PostBody(
        author=me.sign_pk, group_id=b"\x0a" * 32, epoch=3, post_id=b"\x0b" * 16, author_seq=1,
        log_seq=9, log_head=b"\x0c" * 32, timestamp_ms=1_700_000_000_000, kind=PostKind.REPLY,
        refs=(b"\x0d" * 16,), text="hi", expires_at_ms=1_700_000_086_400_000,
    )
    key = b"\x0e" * 32
    envelope = seal_post(me, key, body, random=lambda n: b"\x0f" * n)
    raw_body = body.encode()
    assert raw_body == (
        b"\x06\x01" + me.sign_pk + b"\x0a" * 32 + struct.pack(">Q", 3) + b"\x0b" * 16
        + struct.pack(">QQ", 1, 9) + b"\x0c" * 32 + struct.pack(">QB", 1_700_000_000_000, 2)
        + struct.pack(">I", 1) + b"\x0d" * 16 + struct.pack(">I", 2) + b"hi"
        + b"\x00" + struct.pack(">I", 0) + b"\x01" + struct.pack(">Q", 1_700_000_086_400_000)
    )
    header = (b"\x05\x01" + b"\x0a" * 32 + struct.pack(">Q", 3) + b"\x0b" * 16
              + struct.pack(">Q", 9) + b"\x0c" * 32 + b"\x01"
              + struct.pack(">Q", 1_700_000_086_400_000))
    raw = envelope.encode()
    assert envelope.header == header
    assert raw[: len(header)] == header
    assert raw[len(header) : len(header) + 24] == b"\x0f" * 24
    assert raw[len(header) + 24 : len(header) + 28] == struct.pack(">I", 256 + 16)
    # independent reconstruction from bare libsodium calls
    subkey = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        bytes((len(labels.POST_KEY),)) + labels.POST_KEY + b"\x0a" * 32 + struct.pack(">Q", 3),
        digest_size=32, key=key)
    signature = nacl.bindings.crypto_sign(
        bytes((len(labels.POST_SIGNATURE),)) + labels.POST_SIGNATURE + raw_body, me.sign_sk)[:64]
    plaintext = nacl.bindings.sodium_pad(raw_body + signature, 256)
    expected = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, header, b"\x0f" * 24, subkey)
    assert envelope.ciphertext == expected
    assert raw == header + b"\x0f" * 24 + struct.pack(">I", len(expected)) + expected
    # pinned: any change to labels, layout or derivation shows up here
    assert len(raw) == 407
    assert envelope.ciphertext[-16:].hex() == "589bd47d7478b1999834a0f793312576"
    assert hashlib.sha256(raw).hexdigest() == (
        "1ab221e9c7b169ef06aa6844c67f7abeab994e82acca3a514eebb455e40bf2ba"
    )


ids = st.binary(min_size=16, max_size=16)
keys32 = st.binary(min_size=32, max_size=32)
u64 = st.integers(0, 2**64 - 1)
attachments = st.builds(
    Attachment, ids, keys32, keys32, st.integers(0, MAX_ATTACHMENT_SIZE),
    st.text(st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=127),
    st.just("") | st.text(max_size=40).map(file_name_from),  # both body versions (PB-1)
)


channels = st.none() | st.builds(lambda kind, rest: bytes((kind,)) + rest,
                                 st.sampled_from((1, 2)), st.binary(min_size=15, max_size=15))
"""A POST's, POLL's or REPLY's channel (PB-3): absent, or an id of a known kind."""


@st.composite
def bodies(draw: st.DrawFn) -> PostBody:
    kind = draw(st.sampled_from(PostKind))
    post_id = draw(ids)
    refs = tuple(draw(st.lists(ids.filter(lambda r: r != post_id), unique=True,
                               min_size=0 if kind in (PostKind.POST, PostKind.POLL) else 1,
                               max_size=64)))
    timestamp = draw(st.integers(0, 2**63))
    text, cw, atts = "", None, ()
    options: tuple[str, ...] = ()
    closes: int | None = None
    choice: int | None = None
    if kind is PostKind.REACTION:
        text = draw(st.text(min_size=1, max_size=16))
    elif kind is PostKind.POLL:
        text = draw(st.text(min_size=1, max_size=300))
        cw = draw(st.none() | st.text(max_size=100))
        options = tuple(draw(st.lists(st.text(min_size=1, max_size=25), min_size=2,
                                      max_size=10, unique=True)))
        closes = draw(st.none() | st.integers(timestamp + 1, 2**64 - 1))
    elif kind is PostKind.VOTE:
        choice = draw(st.integers(0, 9))
    elif kind not in (PostKind.DELETE, PostKind.PIN):
        text = draw(st.text(max_size=300))
        cw = draw(st.none() | st.text(max_size=100))
        atts = tuple(draw(st.lists(attachments, max_size=16)))
    return PostBody(
        draw(keys32), draw(keys32), draw(u64), post_id, draw(st.integers(1, 2**64 - 1)),
        draw(u64), draw(keys32), timestamp, kind, refs, text, cw, atts,
        draw(st.none() | st.integers(timestamp + 1, 2**64 - 1)), options, closes, choice,
        draw(channels) if kind in (PostKind.POST, PostKind.POLL, PostKind.REPLY) else None,
    )


@settings(max_examples=200)
@given(bodies())
def test_body_round_trips(body: PostBody) -> None:
    raw = body.encode()
    decoded = PostBody.decode(raw)
    assert decoded == body and decoded.encode() == raw


@settings(max_examples=200)
@given(keys32, u64, ids, u64, keys32, st.none() | u64, st.binary(min_size=24, max_size=24),
       st.sampled_from([256, 512, 1024, 65536]))
def test_envelope_round_trips(group_id: bytes, epoch: int, post_id: bytes, log_seq: int,
                              head: bytes, expiry: int | None, nonce: bytes, size: int) -> None:
    envelope = PostEnvelope(group_id, epoch, post_id, log_seq, head, expiry, nonce,
                            b"\x99" * (size + 16))
    raw = envelope.encode()
    decoded = PostEnvelope.decode(raw)
    assert decoded == envelope and decoded.encode() == raw and decoded.header == envelope.header


def test_envelope_ciphertext_must_be_a_padded_size() -> None:
    envelope = G.seal(ALICE, G.body(ALICE))
    odd = replace(envelope, ciphertext=envelope.ciphertext[:-1])
    with pytest.raises(MalformedError, match="padded sizes"):
        PostEnvelope.decode(odd.encode())
    with pytest.raises(MalformedError, match="trailing"):
        PostEnvelope.decode(envelope.encode() + b"\x00")
    with pytest.raises(MalformedError):
        PostEnvelope.decode(envelope.encode()[:-1])


@pytest.mark.parametrize(("length", "ciphertext"), [(0, 256), (100, 512), (1024, 2048),
                                                    (MAX_TEXT, 65536)])
def test_ciphertext_sizes_are_buckets(length: int, ciphertext: int) -> None:
    envelope = G.seal(ALICE, G.body(ALICE, text="x" * length))
    assert len(envelope.ciphertext) == ciphertext + 16


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(st.data())
def test_any_changed_byte_of_an_envelope_is_rejected(data: st.DataObject) -> None:
    raw = bytearray(_SAMPLE.encode())
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    with pytest.raises(VaultError):
        open_post(PostEnvelope.decode(bytes(raw)), G.key, G.state)


_SAMPLE = G.seal(ALICE, G.body(ALICE, text="a sample", expires_at_ms=2**62))


def test_every_position_of_the_sample_is_covered() -> None:
    raw = _SAMPLE.encode()
    for position in range(len(raw)):
        changed = bytearray(raw)
        changed[position] ^= 0x01
        with pytest.raises(VaultError):
            open_post(PostEnvelope.decode(bytes(changed)), G.key, G.state)


# --- body rules ---------------------------------------------------------------------------


def test_kinds_that_need_a_target() -> None:
    target = b"\x44" * 16
    for kind in (PostKind.REPLY, PostKind.REACTION, PostKind.EDIT, PostKind.DELETE):
        with pytest.raises(PostError, match="must refer to its target"):
            G.body(ALICE, kind, text="+1" if kind is not PostKind.DELETE else "")
        ok = G.body(ALICE, kind, refs=(target,), text="+1" if kind is not PostKind.DELETE else "")
        assert ok.target == target
    assert G.body(ALICE).target is None
    assert G.body(ALICE, refs=(target,)).refs == (target,)  # causal refs on a plain post


def test_reaction_rules() -> None:
    target = (b"\x44" * 16,)
    assert G.body(ALICE, PostKind.REACTION, refs=target, text="x" * 64).text == "x" * 64
    assert G.body(ALICE, PostKind.REACTION, refs=target, text="\U0001f49c").text
    with pytest.raises(PostError, match="1 to 64 bytes"):
        G.body(ALICE, PostKind.REACTION, refs=target, text="x" * 65)
    with pytest.raises(PostError, match="1 to 64 bytes"):
        G.body(ALICE, PostKind.REACTION, refs=target, text="\U0001f49c" * 17)
    with pytest.raises(PostError, match="1 to 64 bytes"):
        G.body(ALICE, PostKind.REACTION, refs=target, text="")
    with pytest.raises(PostError, match="no attachments"):
        G.body(ALICE, PostKind.REACTION, refs=target, text="+1", attachments=(ATT,))


def test_delete_carries_nothing() -> None:
    target = (b"\x44" * 16,)
    assert G.body(ALICE, PostKind.DELETE, refs=target, text="").text == ""
    for extra in ({"text": "x"}, {"text": "", "attachments": (ATT,)},
                  {"text": "", "content_warning": ""}):
        with pytest.raises(PostError, match="a delete carries no"):
            G.body(ALICE, PostKind.DELETE, refs=target, **extra)


def test_reference_rules() -> None:
    post_id = b"\x55" * 16
    refs = tuple(bytes([i]) * 16 for i in range(64))
    assert len(G.body(ALICE, refs=refs).refs) == 64
    with pytest.raises(TooLargeError, match="at most 64"):
        G.body(ALICE, refs=(*refs, b"\xff" * 16))
    with pytest.raises(PostError, match="listed twice"):
        G.body(ALICE, refs=(refs[0], refs[0]))
    with pytest.raises(PostError, match="refer to itself"):
        G.body(ALICE, post_id=post_id, refs=(post_id,))
    with pytest.raises(ValueError, match="16-byte"):
        G.body(ALICE, refs=(b"short",))


def test_size_limits() -> None:
    assert len(G.body(ALICE, text="x" * MAX_TEXT).text) == MAX_TEXT
    with pytest.raises(TooLargeError, match="32768 bytes"):
        G.body(ALICE, text="x" * (MAX_TEXT + 1))
    with pytest.raises(TooLargeError, match="32768 bytes"):
        G.body(ALICE, text="\u00e9" * (MAX_TEXT // 2 + 1))  # 2 bytes each in UTF-8
    assert G.body(ALICE, content_warning="w" * 512).content_warning
    with pytest.raises(TooLargeError, match="content warning"):
        G.body(ALICE, content_warning="w" * 513)
    assert len(G.body(ALICE, attachments=(ATT,) * 16).attachments) == 16
    with pytest.raises(TooLargeError, match="16 attachments"):
        G.body(ALICE, attachments=(ATT,) * 17)


def test_other_field_rules() -> None:
    with pytest.raises(PostError, match="start at 1"):
        G.body(ALICE, author_seq=0)
    body = G.body(ALICE)
    with pytest.raises(PostError, match="expire before"):
        replace(body, expires_at_ms=body.timestamp_ms)
    assert replace(body, expires_at_ms=body.timestamp_ms + 1).expires_at_ms
    with pytest.raises(PostError, match="unknown kind 9"):
        replace(body, kind=9)
    assert replace(body, kind=2, refs=(b"\x01" * 16,)).kind is PostKind.REPLY
    with pytest.raises(ValueError, match="32 bytes"):
        replace(body, log_head=b"short")
    with pytest.raises(ValueError, match="out of range"):
        replace(body, epoch=2**64)


def _kind_offset() -> int:
    return 2 + 32 + 32 + 8 + 16 + 8 + 8 + 32 + 8


def test_decoding_enforces_the_rules() -> None:
    raw = bytearray(G.body(ALICE).encode())
    raw[_kind_offset()] = 9
    with pytest.raises(MalformedError, match="unknown kind 9"):
        PostBody.decode(bytes(raw))
    raw[_kind_offset()] = PostKind.REPLY  # a reply without a target
    with pytest.raises(PostError, match="must refer to its target"):
        PostBody.decode(bytes(raw))
    raw = bytearray(G.body(ALICE).encode())
    with pytest.raises(MalformedError, match="a channel id is 16 bytes"):  # PB-3
        PostBody.decode(bytes(raw) + b"\x00")
    delete = G.body(ALICE, PostKind.DELETE, refs=(bytes(16),), text="").encode()
    with pytest.raises(MalformedError, match="trailing"):  # CODEC-8: no channel on a delete
        PostBody.decode(delete + bytes([1]) + bytes(15))
    with pytest.raises(MalformedError, match="not a post body"):
        PostBody.decode(b"\x05" + bytes(raw[1:]))
    count_at = _kind_offset() + 1
    raw[count_at : count_at + 4] = struct.pack(">I", 65)
    with pytest.raises(MalformedError, match="65 references"):
        PostBody.decode(bytes(raw))


# --- open_post: every check ---------------------------------------------------------------


def test_seal_refuses_a_body_of_another_author() -> None:
    with pytest.raises(PostError, match="another author"):
        seal_post(ALICE, G.key, G.body(BOB))


def test_replay_into_another_group() -> None:
    other = Group(LogFactory("another-group"))
    envelope = G.seal(ALICE, G.body(ALICE))
    with pytest.raises(PostError, match="another group"):
        open_post(envelope, other.key, other.state)
    relabelled = replace(envelope, group_id=other.state.group_id)
    with pytest.raises(DecryptionError):
        open_post(relabelled, other.key, other.state)
    with pytest.raises(DecryptionError):  # even holding this group's key
        open_post(relabelled, G.key, other.state)


def test_replay_into_another_epoch() -> None:
    g = Group(LogFactory("epochs"))
    old_key, old_state = g.key, g.state
    envelope = g.seal(g.alice, g.body(g.alice))
    g.f.remove(g.bob)
    new_key = g.key
    assert g.state.epoch == 1
    assert open_post(envelope, old_key, g.state).body.epoch == 0  # old posts stay readable
    with pytest.raises(DecryptionError):
        open_post(envelope, new_key, g.state)
    with pytest.raises(DecryptionError):
        open_post(replace(envelope, epoch=1), new_key, g.state)
    with pytest.raises(DecryptionError):
        open_post(replace(envelope, epoch=1), old_key, g.state)
    # a member who keeps using the old key after the log moved on
    stale = g.body(g.alice, epoch=0, log_seq=g.state.seq, log_head=g.state.head)
    with pytest.raises(PostError, match="another epoch"):
        open_post(g.seal(g.alice, stale, old_key), old_key, g.state)
    assert old_state.epoch == 0


def test_relabelled_sender_fails_the_signature() -> None:
    # Alice writes a body naming Bob as author and signs it herself
    body = G.body(BOB)
    with pytest.raises(SignatureError, match="post"):
        open_post(craft_from(ALICE, body, G.key), G.key, G.state)
    # Alice's genuine body relabelled to Bob (bytes changed after signing)
    genuine = G.body(ALICE)
    relabelled_bytes = genuine.encode().replace(ALICE.sign_pk, BOB.sign_pk)
    with pytest.raises(SignatureError):
        open_post(craft_from(ALICE, genuine, G.key, body_bytes=relabelled_bytes), G.key, G.state)


def test_author_must_have_been_a_member_at_log_seq() -> None:
    with pytest.raises(NotAMemberError, match="not a member"):
        open_post(G.seal(OUTSIDER, G.body(OUTSIDER)), G.key, G.state)
    joined = G.state.members[ALICE.sign_pk].joined_seq
    before = G.body(ALICE, log_seq=joined - 1, log_head=G.state.hash_at(joined - 1))
    with pytest.raises(NotAMemberError):
        open_post(G.seal(ALICE, before), G.key, G.state)
    at = G.body(ALICE, log_seq=joined, log_head=G.state.hash_at(joined))
    assert open_post(G.seal(ALICE, at), G.key, G.state).body.log_seq == joined
    g = Group(LogFactory("removed"))
    g.f.remove(g.bob)
    removed = g.body(g.bob)  # writes in the new epoch, after the removal
    with pytest.raises(NotAMemberError):
        open_post(g.seal(g.bob, removed), g.key, g.state)


def test_unknown_log_head() -> None:
    g = Group(LogFactory("heads"))
    behind = g.state
    g.f.add_member()
    ahead = g.body(g.alice)  # written after an entry this device's `behind` state lacks
    with pytest.raises(UnknownLogHeadError, match="has not seen"):
        open_post(g.seal(g.alice, ahead), g.key, behind)
    forked = g.body(g.alice, log_head=b"\x66" * 32)
    with pytest.raises(UnknownLogHeadError, match="possible fork") as info:
        open_post(g.seal(g.alice, forked), g.key, g.state)
    assert info.value.code == "log_head_unknown"


@pytest.mark.parametrize(
    ("header", "message"),
    [
        ({"post_id": b"\x77" * 16}, "different post ids"),
        ({"epoch": 5}, "different epochs"),
        ({"log_seq": 1}, "different log positions"),
        ({"log_head": b"\x01" * 32}, "different log positions"),
        ({"expires_at_ms": 2**60}, "different expiry"),
    ],
)
def test_header_and_body_must_agree(header: dict[str, object], message: str) -> None:
    body = G.body(ALICE)
    envelope = craft_from(ALICE, body, G.key, **header)
    with pytest.raises(PostError, match=message):
        open_post(envelope, G.key, G.state)


def test_body_of_another_group_in_this_groups_envelope() -> None:
    body = G.body(ALICE, group_id=b"\x42" * 32)
    envelope = craft_from(ALICE, body, G.key, group_id=G.state.group_id)
    with pytest.raises(PostError, match="different groups"):
        open_post(envelope, G.key, G.state)


def test_bad_padding_or_body_inside_valid_ciphertext() -> None:
    body = G.body(ALICE)
    fields = {"group_id": body.group_id, "epoch": body.epoch, "post_id": body.post_id,
              "log_seq": body.log_seq, "log_head": body.log_head}
    unpadded = craft(ALICE, b"", G.key, plaintext=b"\x01" * 256, **fields)  # type: ignore[arg-type]
    with pytest.raises(DecryptionError):
        open_post(unpadded, G.key, G.state)
    junk = craft(ALICE, b"", G.key, plaintext=pad(b"\x06\x01junk" + bytes(64)), **fields)  # type: ignore[arg-type]
    with pytest.raises(PostError, match="malformed"):
        open_post(junk, G.key, G.state)
    raw = bytearray(body.encode())
    raw[_kind_offset()] = PostKind.EDIT
    ruled = craft_from(ALICE, body, G.key, body_bytes=bytes(raw))
    with pytest.raises(PostError, match="must refer to its target"):
        open_post(ruled, G.key, G.state)


def test_wrong_key_is_opaque() -> None:
    envelope = G.seal(ALICE, G.body(ALICE))
    with pytest.raises(DecryptionError) as info:
        open_post(envelope, b"\x00" * 32, G.state)
    assert info.value.code == "decryption_failed"


def test_subkey_is_derived_once_per_epoch() -> None:
    envelopes = [G.seal(ALICE, G.body(ALICE)) for _ in range(5)]
    open_post(envelopes[0], G.key, G.state)
    before = epochs._subkey.cache_info()
    for envelope in envelopes[1:]:
        open_post(envelope, G.key, G.state)
    after = epochs._subkey.cache_info()
    assert after.misses == before.misses and after.hits >= before.hits + 4


# --- attachments in posts -----------------------------------------------------------------


def test_post_with_a_real_attachment() -> None:
    attachment, blob = make_attachment(b"\x89PNG...", "image/png", random=seeded_random("a"))
    opened = G.post(ALICE, attachments=(attachment,))
    from vault.crypto.attachments import decrypt_attachment

    assert decrypt_attachment(opened.body.attachments[0], blob) == b"\x89PNG..."
    assert opened.body.attachments[0].blob_key.hex() not in repr(opened)


def test_tag_constants() -> None:
    assert G.body(ALICE).encode()[0] == Tag.POST_BODY
    assert G.seal(ALICE, G.body(ALICE)).encode()[0] == Tag.POST_ENVELOPE


def _outcome(decode: object, raw: bytes) -> object:
    try:
        return decode(raw)  # type: ignore[operator]
    except VaultError as exc:
        return type(exc)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(bodies(), st.data())
def test_fast_decoder_agrees_with_the_reader(body: PostBody, data: st.DataObject) -> None:
    raw = bytearray(body.encode())
    assert PostBody.decode(bytes(raw)) == PostBody._decode_with_reader(bytes(raw)) == body
    action = data.draw(st.sampled_from(["flip", "truncate", "extend"]))
    if action == "flip":
        position = data.draw(st.integers(0, len(raw) - 1))
        raw[position] = data.draw(st.sampled_from([0, 1, 2, 0x80, 0xFF, raw[position] ^ 1]))
    elif action == "truncate":
        del raw[data.draw(st.integers(0, len(raw) - 1)):]
    else:
        raw += data.draw(st.binary(min_size=1, max_size=9))
    assert _outcome(PostBody.decode, bytes(raw)) == _outcome(
        PostBody._decode_with_reader, bytes(raw))


def test_repr_never_shows_what_members_wrote() -> None:
    body = G.body(ALICE, text="my secret", content_warning="private warning")
    assert "my secret" not in repr(body) and "private warning" not in repr(body)
    assert "my secret" not in repr(open_post(G.seal(ALICE, body), G.key, G.state))


def test_unpaired_surrogate_is_a_post_error_not_a_crash() -> None:
    for changes in ({"text": "\ud800"}, {"content_warning": "\udfff"},
                    {"text": "a" * 9000 + "\ud800"}, {"content_warning": "b" * 200 + "\ud800"}):
        with pytest.raises(PostError, match="surrogate"):
            G.seal(ALICE, G.body(ALICE, **changes))
    with pytest.raises(PostError, match="surrogate"):
        G.body(ALICE, PostKind.REACTION, refs=(b"\x05" * 16,), text="\ud800")


def test_oversized_attachment_inside_a_sealed_body_is_a_post_error() -> None:
    """A body that decodes to an attachment over the size limit is a PostError on open."""
    body = G.body(ALICE, text="look")
    huge = struct.pack(">Q", 10 * 1024 * 1024 + 1)
    attachment_wire = b"\x01" * 16 + b"\x02" * 32 + b"\x03" * 32 + huge + b"\x00\x00\x00\x03a/b"
    raw = body.encode()
    # swap "no warning, 0 attachments" for "no warning, 1 oversized attachment"
    tail = b"\x00" + struct.pack(">I", 0) + b"\x00"
    assert raw.endswith(tail)
    forged = raw[: -len(tail)] + b"\x00" + struct.pack(">I", 1) + attachment_wire + b"\x00"
    envelope = craft_from(ALICE, body, G.key, body_bytes=forged)
    with pytest.raises(PostError, match="malformed"):
        open_post(envelope, G.key, G.state)


# --- versions: attachments with and without file names (PB-1, PB-2) -------------------------

OLD_BODY = bytes.fromhex(
    "06017a0bebc52bcf86ba4cef972d0bd91041e670378464f6bb4f1e70be991ead1ece35828c9aba0f9b93c7a5"
    "c249df7c91927f74bfd70cd34de6088efc430230475d00000000000000029a946c4d7570a19d24adfa88c52f"
    "17fd0000000000000002000000000000000dbcd3c90d3ab7f77225c58a26d4f7f210b0409962ba95c1a11c53"
    "9f8d301c89ed0000018bd01c623801000000000000001d4e6f7465732066726f6d206c617374207765656b20"
    "28c3a974c3a9292e0000000002a3e40c1611cb2ebbbdba855c6442df3dcea7ec2736f60caf05df30f0800a49"
    "542d2cb3d2f0baf21c03787fb4e978c2954a6a3294322850779b6edeca295c9095aa8ba80256197139ae1db9"
    "c909a960ab000000000000001f0000000a746578742f706c61696eecb746755d615fc3c76f63c84e3bb5b9d4"
    "42a17c8c8accd0119dd9a5b7268a00fea1cab0c91b88657986f2d83f0dce7d5e74dee2ec7a5613dde05286a3"
    "8d4ff929735e825da6c555df8da3ddea94867a000000000000000000000009696d6167652f706e6700"
)
"""A post with two attachments as a build before file names wrote it (commit 977e39d, vector
``post_with_attachments``), with its author's signature and the envelope's SHA-256."""
OLD_SIGNATURE = bytes.fromhex(
    "294c6ec71a0dda9beb975dc89aaa25189263809a925e8a18aef28f5fb4e3cb6f"
    "ce4c172d7a5452b929c2ede2f98718cf55963b82ca8b4012f9617283e8779b05"
)
OLD_ENVELOPE_SHA256 = "ac7a7cfaf44229cdb7f49cc85a6c17cc0e4a744ac290878b08f3dd6888a340ae"


def rebuilt(body: PostBody) -> PostBody:
    """The body made again from its fields (as sealing again for a newer epoch does)."""
    return PostBody(**{f.name: getattr(body, f.name) for f in fields(body)})


def test_a_post_written_before_file_names_decodes_with_empty_names() -> None:
    body = PostBody.decode(OLD_BODY)
    assert body.version == 1
    assert [(a.size, a.media_type, a.file_name) for a in body.attachments] == [
        (31, "text/plain", ""), (0, "image/png", "")]
    assert body.encode() == rebuilt(body).encode() == OLD_BODY
    verify(body.author, labels.POST_SIGNATURE, body.encode(), OLD_SIGNATURE, "post")
    again = replace(body, epoch=3, log_seq=20, log_head=b"\x07" * 32)
    assert again.encode()[:2] == b"\x06\x01" and PostBody.decode(again.encode()) == again
    # the vectors pin the same bytes, and the old build's whole envelope
    vectors = json.loads((Path(__file__).parents[1] / "vectors" / "posts.json").read_text())
    (old,) = [v for v in vectors["vectors"] if v["name"] == "post_with_attachments"]
    assert bytes.fromhex(old["expected"]["body"]) == OLD_BODY
    assert bytes.fromhex(old["expected"]["signature"]) == OLD_SIGNATURE
    assert hashlib.sha256(bytes.fromhex(old["expected"]["envelope"])).hexdigest() == \
        OLD_ENVELOPE_SHA256


def test_a_named_attachment_makes_a_version_2_body() -> None:
    named = replace(ATT, file_name="garden.png")
    body = G.body(ALICE, text="look", attachments=(named, ATT))
    raw = body.encode()
    assert body.version == 2 and raw[:2] == b"\x06\x02"
    assert b"image/png\x00\x00\x00\x0agarden.png" in raw  # named: u32 length, the name
    assert raw.endswith(b"image/png" + b"\x00" * 4 + b"\x00")  # unnamed: an empty name
    decoded = PostBody.decode(raw)
    assert decoded == body and rebuilt(decoded).encode() == raw
    assert [a.file_name for a in decoded.attachments] == ["garden.png", ""]
    # without the name, the same post is version 1 and 4 bytes shorter per attachment
    unnamed = replace(body, attachments=(ATT, ATT))
    assert unnamed.version == 1 and len(unnamed.encode()) == len(raw) - 8 - len("garden.png")
    assert PostBody.decode(unnamed.encode()) == unnamed
    # a body without attachments is version 1, as every build wrote it
    assert G.body(ALICE, text="plain").encode()[:2] == b"\x06\x01"


def _with_version(raw: bytes, version: int) -> bytes:
    return raw[:1] + bytes((version,)) + raw[2:]


@pytest.mark.parametrize("version", [0, 3, 0xFF])
def test_an_unknown_version_is_malformed(version: int) -> None:
    for body in (G.body(ALICE), G.body(ALICE, attachments=(replace(ATT, file_name="a.png"),))):
        with pytest.raises(MalformedError, match=f"version {version} is not supported"):
            PostBody.decode(_with_version(body.encode(), version))


def test_version_2_needs_a_named_attachment() -> None:
    """PB-2: version 2 without a named attachment would be a second encoding of a version-1
    body, so it is malformed — before the attachments' own rules (DEC-4)."""
    unnamed = G.body(ALICE, attachments=(ATT,)).encode()
    as_v2 = _with_version(unnamed, 2)
    as_v2 = as_v2[:-1] + b"\x00\x00\x00\x00" + as_v2[-1:]  # an empty file_name field
    for raw in (_with_version(G.body(ALICE).encode(), 2), as_v2):
        with pytest.raises(MalformedError, match="version 2 is only for"):
            PostBody.decode(raw)
    too_large = as_v2.replace(struct.pack(">Q", 1234), struct.pack(">Q", MAX_ATTACHMENT_SIZE + 1))
    with pytest.raises(MalformedError, match="version 2 is only for"):
        PostBody.decode(too_large)
    with pytest.raises(PostError):  # and inside a sealed post
        open_post(craft_from(ALICE, G.body(ALICE), G.key, body_bytes=as_v2), G.key, G.state)


def test_file_names_under_version_1_are_malformed() -> None:
    """The layout of the development builds that wrote file names under version 1."""
    named = G.body(ALICE, attachments=(replace(ATT, file_name="a.png"),)).encode()
    with pytest.raises(MalformedError):
        PostBody.decode(_with_version(named, 1))


def test_a_version_1_post_with_attachments_is_sealed_opened_and_stored() -> None:
    for attachment in (ATT, replace(ATT, file_name="notes.txt")):
        opened = G.post(ALICE, text="file", attachments=(attachment,))
        assert opened.body.encode()[1] == (2 if attachment.file_name else 1)
        assert opened.body.attachments == (attachment,)
        from vault.crypto.localstore import decode_stored_post, encode_stored_post

        kept = decode_stored_post(encode_stored_post(opened))
        assert kept.body == opened.body and kept.body.encode() == opened.body.encode()


# --- may this device post now? --------------------------------------------------------------


def test_check_can_post_in_the_current_epoch() -> None:
    f = LogFactory("can post")
    alice = f.add_member()
    check_can_post(f.state, 0)
    check_can_post(f.state, 0, author=alice.sign_pk)
    with pytest.raises(NotAMemberError):
        check_can_post(f.state, 0, author=f.identity().sign_pk)


def test_check_can_post_refuses_a_stale_or_unknown_epoch() -> None:
    f = LogFactory("stale epoch")
    alice, bob = f.add_member(), f.add_member()
    f.remove(bob)  # epoch 1: bob still holds epoch 0's key
    with pytest.raises(EpochStaleError, match="epoch 0, but the membership log's current epoch "
                       "is 1") as info:
        check_can_post(f.state, 0, author=alice.sign_pk)
    assert info.value.code == "epoch_stale"
    with pytest.raises(EpochStaleError):
        check_can_post(f.state, 2)  # not in this log yet
    check_can_post(f.state, 1, author=alice.sign_pk)
    with pytest.raises(NotAMemberError):  # checked first
        check_can_post(f.state, 0, author=bob.sign_pk)


def test_check_can_post_waits_for_the_rotation_after_a_leave() -> None:
    f = LogFactory("rotation pending")
    alice, leaver = f.add_member(), f.add_member()
    f.leave(leaver)
    assert f.state.rotation_pending
    with pytest.raises(RotationPendingError, match="rotates") as info:
        check_can_post(f.state, 0, author=alice.sign_pk)
    assert info.value.code == "rotation_pending"
    with pytest.raises(EpochStaleError):  # a wrong epoch is named as such first
        check_can_post(f.state, 1)
    f.rotate()
    check_can_post(f.state, 1, author=alice.sign_pk)
    f.leave(f.add_member())
    f.remove(f.add_member())  # a removal also starts the next epoch
    check_can_post(f.state, 2)


def test_new_error_codes_are_registered() -> None:
    codes = all_error_classes()
    assert codes["rotation_pending"] is RotationPendingError
    assert codes["epoch_stale"] is EpochStaleError
    assert issubclass(RotationPendingError, VaultError) and issubclass(EpochStaleError, VaultError)


def test_open_posts_gives_each_post_what_open_post_gives_it_on_any_map() -> None:
    """Opened in batches on threads, or here: each item's result is exactly what
    :func:`open_post` returns or raises for it, in the items' order; a map that loses or
    reorders a batch is refused, never a post paired with another's result."""
    group = Group()
    good = [group.post(group.bob, text=f"{i}").envelope for i in range(2 * OPEN_BATCH)]
    tampered = bytearray(good[3].encode())
    tampered[-1] ^= 1
    outsider = group.seal(group.outsider, group.body(group.outsider))
    envelopes = [*good[:5], PostEnvelope.decode(bytes(tampered)), outsider, *good[5:]]
    items = [(envelope, group.key) for envelope in envelopes]

    def expected(envelope: PostEnvelope) -> object:
        try:
            return open_post(envelope, group.key, group.state)
        except VaultError as error:
            return type(error)

    def shape(result: object) -> object:
        return result if isinstance(result, OpenedPost) else type(result)

    want = [expected(envelope) for envelope in envelopes]
    assert want[5] is DecryptionError and want[6] is NotAMemberError
    with ThreadPoolExecutor(2) as pool:
        on_threads = open_posts(items, group.state, map_batches=pool.map)
    assert [shape(r) for r in on_threads] == want
    assert [shape(r) for r in open_posts(items, group.state)] == want

    def reordered(fn: Any, batches: Any) -> Any:
        done = [fn(batch) for batch in batches]
        return [done[1], done[0], *done[2:]]

    def lost(fn: Any, batches: Any) -> Any:
        return [fn(batch) for batch in batches][:-1]

    for bad_map in (reordered, lost):
        with pytest.raises(RuntimeError, match="did not come back in order"):
            open_posts(items, group.state, map_batches=bad_map)
