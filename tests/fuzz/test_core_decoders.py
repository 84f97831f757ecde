"""Every decoder of vault/crypto that takes bytes or text from outside, fuzzed.

Outside means: a relay's answer, another member's ciphertext (which decrypts to whatever its
author put in it), a file on disk, a scanned QR code. Each target gets random input, damaged
genuine encodings and other objects' encodings; only typed :class:`VaultError` may come out.
The second half fuzzes *inside* the cryptography: a member holding the epoch key can seal
any plaintext, an admin can seal any grant content and sign any log entry, so the decoders
behind the AEAD and the signature checks get the same treatment.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import nacl.bindings
import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.crypto.postkit import craft
from tests.fuzz.conftest import count, fuzz_settings, only_typed
from tests.fuzz.corpus import (
    PASSPHRASE,
    RELAY,
    b64_seeds,
    byte_inputs,
    corpus,
    mutated,
    text_inputs,
)
from vault.crypto import labels
from vault.crypto.attachments import decrypt_attachment
from vault.crypto.encoding import b64decode
from vault.crypto.epochs import EpochGrant, GrantContent, metadata_key, open_grant
from vault.crypto.errors import VaultError
from vault.crypto.group_state import LogCheckpoint
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.identity_export import import_identity
from vault.crypto.invites import JoinRequest, normalize_relay_url, parse_invite_uri
from vault.crypto.keystore import KeystoreContents, keystore_params, open_keystore
from vault.crypto.localstore import (
    decode_pending_join,
    decode_post_stub,
    decode_stored_post,
    open_record,
    record_id,
)
from vault.crypto.log import LogEntry, sign_entry
from vault.crypto.log_entries import EntryKind, decode_body
from vault.crypto.log_rules import decode_entry
from vault.crypto.log_verify import extend_log, verify_log
from vault.crypto.metadata import (
    ENVELOPE_OVERHEAD,
    GroupMetadata,
    MemberProfile,
    _aad,
    check_metadata_envelope,
    open_metadata,
)
from vault.crypto.padding import bucket_size, pad_to, unpad
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope, open_post
from vault.crypto.primitives import sign
from vault.crypto.timeline import Timeline, thread_view

pytestmark = pytest.mark.slow  # every test here is a fuzz target, thousands of examples in all
EXAMPLES = 120


def _c() -> Any:
    return corpus()


# name -> (decoder, seeds); every decoder takes one bytes argument.
BYTE_DECODERS: dict[str, tuple[Callable[[bytes], Any], Callable[[], list[bytes]]]] = {
    "public_identity": (PublicIdentity.decode, lambda: [_c().identity_public]),
    "private_identity": (Identity.decode_private, lambda: [_c().identity_private]),
    "log_entry": (LogEntry.decode, lambda: list(_c().entries.values())),
    "decode_entry": (lambda b: decode_entry(b, 3), lambda: list(_c().entries.values())),
    "epoch_grant": (EpochGrant.decode, lambda: [_c().grant]),
    "grant_content": (GrantContent.decode, lambda: [_c().grant_content]),
    "post_envelope": (PostEnvelope.decode, lambda: [_c().envelope]),
    "post_body": (PostBody.decode, lambda: [_c().body_plain, _c().body_rich, _c().body_named]),
    "join_request": (JoinRequest.decode, lambda: [_c().join_request]),
    "log_checkpoint": (LogCheckpoint.decode, lambda: [_c().checkpoint]),
    "keystore_contents": (KeystoreContents.decode, lambda: [_c().keystore_contents]),
    "keystore_params": (keystore_params, lambda: [_c().keystore_file]),
    "open_keystore": (lambda b: open_keystore(b, PASSPHRASE), lambda: [_c().keystore_file]),
    "import_identity": (lambda b: import_identity(b, PASSPHRASE), lambda: [_c().exported]),
    "group_metadata": (GroupMetadata.decode, lambda: [_c().group_metadata]),
    "member_profile": (MemberProfile.decode, lambda: [_c().member_profile]),
    "metadata_envelope": (check_metadata_envelope, lambda: [_c().metadata_envelope]),
    "open_metadata": (
        lambda b: open_metadata(b, _c().key, _c().state.group_id, _c().state.epoch, None),
        lambda: [_c().metadata_envelope, _c().profile_envelope]),
    "stored_post": (decode_stored_post, lambda: [_c().stored_post]),
    "post_stub": (decode_post_stub, lambda: [_c().post_stub]),
    "pending_join": (decode_pending_join, lambda: [_c().pending_join]),
    "open_record": (
        lambda b: open_record(_c().store_key, "post", record_id(_c().state.group_id,
                                                                _c().opened.post_id), b),
        lambda: [_c().record]),
    "unpad": (unpad, lambda: [pad_to(b"data", 256), pad_to(b"", 1024)]),
    "decrypt_attachment": (lambda b: decrypt_attachment(_c().attachment, b),
                           lambda: [_c().blob]),
    "verify_log_genesis": (lambda b: verify_log(_c().state.group_id, [b]),
                           lambda: [_c().entries[EntryKind.CREATE]]),
    "open_post": (lambda b: open_post(PostEnvelope.decode(b), _c().key, _c().state),
                  lambda: [_c().envelope]),
}


@pytest.mark.parametrize("name", sorted(BYTE_DECODERS))
def test_byte_decoders_raise_only_typed_errors(name: str) -> None:
    decoder, seeds = BYTE_DECODERS[name]

    @fuzz_settings(EXAMPLES)
    @given(data=byte_inputs(seeds()))
    def run(data: bytes) -> None:
        count(f"core.{name}")
        only_typed(decoder, data)

    run()


@fuzz_settings(EXAMPLES * 2)
@given(kind=st.sampled_from(list(EntryKind)), data=st.data())
def test_entry_bodies_raise_only_typed_errors(kind: EntryKind, data: st.DataObject) -> None:
    count("core.decode_body")
    bodies = list(corpus().bodies.values())
    raw = data.draw(st.one_of(st.binary(max_size=300), mutated(bodies)))
    only_typed(decode_body, kind, raw)


# name -> (parser, seeds)
TEXT_DECODERS: dict[str, tuple[Callable[[str], Any], Callable[[], list[str]]]] = {
    "b64decode": (b64decode, b64_seeds),
    "b64decode_bounded": (lambda t: b64decode(t, "id", max_len=16), b64_seeds),
    "parse_invite_uri": (parse_invite_uri, lambda: [_c().invite_uri]),
    "normalize_relay_url": (normalize_relay_url,
                            lambda: [RELAY, "http://127.0.0.1:8080/base", "https://[::1]:8443"]),
}


@pytest.mark.parametrize("name", sorted(TEXT_DECODERS))
def test_text_decoders_raise_only_typed_errors(name: str) -> None:
    parser, seeds = TEXT_DECODERS[name]

    @fuzz_settings(EXAMPLES * 2)
    @given(text=text_inputs(seeds()))
    def run(text: str) -> None:
        count(f"core.{name}")
        only_typed(parser, text)

    run()


@fuzz_settings(60)
@given(value=st.one_of(st.none(), st.integers(), st.binary(max_size=8), st.lists(st.text())))
def test_text_decoders_refuse_non_text(value: Any) -> None:
    """A relay's JSON can put any type where text belongs."""
    count("core.non_text")
    for parser in (b64decode, parse_invite_uri, normalize_relay_url):
        only_typed(parser, value)


# --- inside the cryptography ------------------------------------------------------------------


@fuzz_settings(EXAMPLES * 2)
@given(data=st.data())
def test_post_plaintext_from_a_member_raises_only_typed_errors(data: st.DataObject) -> None:
    """A member holding the epoch key seals whatever body bytes (validly signed) or raw
    plaintext (badly padded, too short for a signature) it likes."""
    count("core.post_plaintext")
    c = corpus()
    g = c.group
    signer = data.draw(st.sampled_from([g.alice, g.bob, g.owner, g.outsider]))
    state = c.state
    body_bytes = data.draw(st.one_of(mutated([c.body_plain, c.body_rich, c.body_named]),
                                     st.binary(max_size=400)))
    plaintext = data.draw(st.one_of(st.none(), st.binary(max_size=300)))
    envelope = craft(signer, body_bytes, c.key, group_id=state.group_id, epoch=state.epoch,
                     post_id=c.opened.post_id, log_seq=state.seq, log_head=state.head,
                     plaintext=plaintext)
    only_typed(open_post, envelope, c.key, state)
    try:
        decoded = PostEnvelope.decode(envelope.encode())
    except VaultError:
        return
    only_typed(open_post, decoded, c.key, state)


def _seal_metadata_plaintext(plaintext: bytes, subject: bytes | None) -> bytes:
    c = corpus()
    gid, epoch = c.state.group_id, c.state.epoch
    total = bucket_size(len(plaintext) + ENVELOPE_OVERHEAD)
    padded = pad_to(plaintext, total - ENVELOPE_OVERHEAD)
    nonce = b"\x05" * 24
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        padded, _aad(gid, epoch, subject), nonce, metadata_key(c.key, gid, epoch))
    from vault.crypto.encoding import Tag, Writer

    return Writer(Tag.METADATA_ENVELOPE).fixed(nonce, 24).var(ciphertext).finish()


@fuzz_settings(EXAMPLES * 2)
@given(data=st.data())
def test_metadata_plaintext_from_a_member_raises_only_typed_errors(data: st.DataObject) -> None:
    count("core.metadata_plaintext")
    c = corpus()
    profile = data.draw(st.booleans())
    subject = c.group.alice.sign_pk if profile else None
    seeds = [c.member_profile if profile else c.group_metadata]
    plaintext = data.draw(st.one_of(mutated(seeds), st.binary(max_size=300),
                                    st.text(max_size=80).map(
                                        lambda t: t.encode("utf-8", "surrogatepass"))))
    sealed = _seal_metadata_plaintext(plaintext, subject)
    only_typed(open_metadata, sealed, c.key, c.state.group_id, c.state.epoch, subject)


@fuzz_settings(EXAMPLES * 2)
@given(data=st.data())
def test_grant_content_from_an_admin_raises_only_typed_errors(data: st.DataObject) -> None:
    """Whoever knows a member's box key (anyone: it is public) can seal any content to it;
    re-signed by an admin or not."""
    count("core.grant_content")
    c = corpus()
    g = c.group
    content = data.draw(st.one_of(mutated([c.grant_content]), st.binary(max_size=300)))
    if data.draw(st.booleans()) and len(content) > 64:
        signer = data.draw(st.sampled_from([g.owner, g.alice, g.outsider]))
        body = content[:-64]
        content = body + sign(signer.sign_sk, labels.EPOCH_GRANT, body)
    sealed = nacl.bindings.crypto_box_seal(content, g.alice.public.box_pk)
    header = EpochGrant.decode(c.grant)
    epoch = data.draw(st.sampled_from([header.epoch, 0, header.epoch + 1, 2**64 - 1]))
    grant = EpochGrant(header.group_id, epoch, header.recipient, sealed)
    only_typed(open_grant, grant, g.alice, c.state)
    try:
        decoded = EpochGrant.decode(grant.encode())
    except VaultError:
        return
    only_typed(open_grant, decoded, g.alice, c.state)


class _RawBody:
    """Any body bytes under any entry kind, for signing entries the rules must refuse."""

    def __init__(self, kind: int, data: bytes) -> None:
        self.KIND = kind
        self._data = data

    def encode(self) -> bytes:
        return self._data


@fuzz_settings(EXAMPLES * 3)
@given(data=st.data())
def test_signed_log_entries_raise_only_typed_errors(data: st.DataObject) -> None:
    """A member (or anyone) signs an entry with any header and any body: the log rules
    refuse it with a typed error, or accept it (then it is a valid entry)."""
    count("core.signed_entry")
    c = corpus()
    g = c.group
    state = c.state
    author = data.draw(st.sampled_from([g.owner, g.alice, g.bob, g.mod, g.outsider]))
    kind = data.draw(st.one_of(st.sampled_from(list(EntryKind)), st.integers(0, 255)))
    body = data.draw(st.one_of(mutated(list(c.bodies.values())), st.binary(max_size=200),
                               st.sampled_from(list(c.bodies.values()))))
    seq = data.draw(st.sampled_from([state.seq + 1, state.seq, 0, 2**64 - 1]))
    prev = data.draw(st.sampled_from([state.head, bytes(32), state.hashes[0]]))
    gid = data.draw(st.sampled_from([state.group_id, bytes(32)]))
    ts = data.draw(st.sampled_from([state.timestamp_ms, state.timestamp_ms + 1, 0,
                                    2**64 - 1, state.timestamp_ms + 10**9]))
    try:
        entry = sign_entry(author, _RawBody(kind, body),  # type: ignore[arg-type]
                           group_id=gid, seq=seq, prev_hash=prev, timestamp_ms=ts)
    except VaultError:
        return
    now = data.draw(st.sampled_from([None, state.timestamp_ms]))
    only_typed(extend_log, state, [entry.raw], now_ms=now)


_KINDS = list(PostKind)


@st.composite
def _member_post(draw: st.DrawFn, ids: list[bytes]) -> Any:
    """A post body a member could sign: valid by construction (PostBody checks its rules),
    with hostile choices of references, numbers, times and log positions."""
    c = corpus()
    g = c.group
    state = c.state
    author = draw(st.sampled_from([g.alice, g.bob, g.mod, g.owner, g.outsider]))
    kind = draw(st.sampled_from(_KINDS))
    pool = [*ids, draw(st.binary(min_size=16, max_size=16))]
    refs = tuple(dict.fromkeys(draw(st.lists(st.sampled_from(pool), max_size=3))))
    if kind is not PostKind.POST and not refs:
        refs = (pool[0],)
    text = draw(st.text(max_size=20)) if kind is not PostKind.DELETE else ""
    if kind is PostKind.REACTION and not text.encode("utf-8", "surrogatepass"):
        text = "+"
    log_seq = draw(st.integers(0, state.seq))
    try:
        body = PostBody(
            author=author.sign_pk, group_id=state.group_id, epoch=state.epoch_at(log_seq),
            post_id=draw(st.sampled_from([draw(st.binary(min_size=16, max_size=16)),
                                          *ids[:2]])),
            author_seq=draw(st.sampled_from([1, 2, 3, 2**20, 2**64 - 1])),
            log_seq=log_seq, log_head=state.hash_at(log_seq) or bytes(32),
            timestamp_ms=draw(st.sampled_from([0, 1, 2**40, 2**63])), kind=kind, refs=refs,
            text=text, content_warning=draw(st.one_of(st.none(), st.text(max_size=8))))
        body.encode()
    except VaultError:
        return None
    return author, body


@fuzz_settings(EXAMPLES)
@given(data=st.data())
def test_timeline_and_thread_view_take_any_signed_posts(data: st.DataObject) -> None:
    """Posts that pass every cryptographic check but say hostile things (edits of others'
    posts, reaction and reply cycles, deletes of deletes, huge numbers) only ever produce
    typed errors and a thread view."""
    count("core.timeline")
    from vault.crypto.posts import seal_post

    c = corpus()
    state = c.state
    timeline = Timeline()
    ids: list[bytes] = [c.opened.post_id, b"\x01" * 16]
    for _ in range(data.draw(st.integers(1, 8))):
        made = data.draw(_member_post(ids))
        if made is None:
            continue
        author, body = made
        try:
            envelope = seal_post(author, _epoch_key(body.epoch), body)
        except VaultError:
            continue
        only_typed(timeline.add_envelope, envelope, _epoch_key(body.epoch), state)
        ids.append(body.post_id)
    view = thread_view(timeline, state)
    assert len(view.posts) <= len(timeline)


def _epoch_key(epoch: int) -> bytes:
    return corpus().group.f.epoch_keys[epoch]
