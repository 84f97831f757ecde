"""Local-store records and the portable identity export."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.crypto.postkit import Group
from vault.crypto.errors import (
    DecryptionError,
    KeystoreCorruptError,
    KeystoreLockedError,
    MalformedError,
    PostError,
)
from vault.crypto.identity import Identity
from vault.crypto.identity_export import ExportedIdentity, export_identity, import_identity
from vault.crypto.invites import InviteLink, make_join_request
from vault.crypto.keystore import KeystoreContents, seal_keystore
from vault.crypto.localstore import (
    PendingJoin,
    PostStub,
    decode_pending_join,
    decode_post_stub,
    decode_stored_post,
    encode_pending_join,
    encode_post_stub,
    encode_stored_post,
    local_store_key,
    new_local_store_secret,
    open_record,
    record_id,
    seal_record,
)

KEY = local_store_key(bytes(range(32)))


def test_key_is_derived_and_labelled() -> None:
    assert len(KEY) == 32
    assert bytes(range(32)) != KEY and local_store_key(bytes(32)) != KEY
    assert len(new_local_store_secret()) == 32


def test_record_round_trip_and_binding() -> None:
    rid = record_id(b"group", 7)
    sealed = seal_record(KEY, "epoch-key", rid, b"secret")
    assert b"secret" not in sealed
    assert open_record(KEY, "epoch-key", rid, sealed) == b"secret"
    for kind, other in (("epoch-key", record_id(b"group", 8)), ("post", rid)):
        with pytest.raises(DecryptionError):
            open_record(KEY, kind, other, sealed)
    with pytest.raises(DecryptionError):
        open_record(local_store_key(bytes(32)), "epoch-key", rid, sealed)
    with pytest.raises(MalformedError):
        open_record(KEY, "epoch-key", rid, b"junk")


def test_record_ids_are_unambiguous() -> None:
    assert record_id(b"ab", b"c") != record_id(b"a", b"bc")
    assert record_id(1) != record_id(b"\x00" * 8)


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=64), st.integers(min_value=0), st.data())
def test_any_change_is_rejected(plaintext: bytes, where: int, data: st.DataObject) -> None:
    sealed = bytearray(seal_record(KEY, "post", b"id", plaintext))
    index = where % len(sealed)
    sealed[index] ^= data.draw(st.integers(min_value=1, max_value=255))
    with pytest.raises((DecryptionError, MalformedError)):
        open_record(KEY, "post", b"id", bytes(sealed))


def test_stored_post_round_trip() -> None:
    group = Group()
    post = group.post(group.owner, text="kept on this device", content_warning="cw")
    restored = decode_stored_post(encode_stored_post(post))
    assert restored.body == post.body and restored.signature == post.signature
    assert restored.envelope.encode() == post.envelope.encode()
    other = group.post(group.owner, text="another")
    mixed = encode_stored_post(type(post)(post.body, other.envelope, post.signature))
    with pytest.raises(PostError):
        decode_stored_post(mixed)


def test_stub_and_pending_join_round_trip() -> None:
    stub = PostStub(bytes(16), bytes(range(32)), 9)
    assert decode_post_stub(encode_post_stub(stub)) == stub
    link = InviteLink("https://relay.example", bytes(32), bytes(16), bytes(range(32)))
    request = make_join_request(Identity.generate(), link, now_ms=1)
    for pending in (PendingJoin(link.to_uri(), request), PendingJoin(link.to_uri())):
        back = decode_pending_join(encode_pending_join(pending))
        assert back.invite_uri == pending.invite_uri
        assert (back.request is None) == (pending.request is None)
        assert "secret" not in repr(back) and link.to_uri() not in repr(back)


def test_identity_export_round_trip() -> None:
    identity = Identity.generate()
    exported = ExportedIdentity(identity, bytes(range(32)), "https://Relay.Example/")
    data = export_identity(exported, "moving phones")
    back = import_identity(data, "moving phones")
    assert back.identity.public == identity.public
    assert back.group_id == bytes(range(32)) and back.relay_url == "https://relay.example"
    with pytest.raises(KeystoreLockedError):
        import_identity(data, "wrong")
    not_export = seal_keystore(KeystoreContents((("x", b"y"),)), "pw")
    with pytest.raises(KeystoreCorruptError):
        import_identity(not_export, "pw")
