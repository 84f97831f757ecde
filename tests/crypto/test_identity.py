"""Identities: keys bound by signature, fingerprints, private encoding."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vault.crypto import labels
from vault.crypto.errors import MalformedError, SignatureError, VaultError
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.primitives import derive_key, frame, labelled_hash, sign, verify


def pinned(seed: int) -> Identity:
    return Identity(bytes([seed]) * 32, bytes([seed + 1]) * 32)


def test_public_identity_round_trips_and_checks_binding() -> None:
    me = pinned(1).public
    encoded = me.encode()
    assert len(encoded) == PublicIdentity.ENCODED_SIZE == 130
    assert PublicIdentity.decode(encoded) == me


def test_swapped_box_key_is_rejected() -> None:
    alice, mallory = pinned(1).public, pinned(9).public
    forged = PublicIdentity(alice.sign_pk, mallory.box_pk, alice.binding_sig)
    with pytest.raises(SignatureError, match="identity binding"):
        PublicIdentity.decode(forged.encode())


@given(st.integers(0, 129), st.integers(1, 255))
def test_any_changed_byte_is_rejected(position: int, delta: int) -> None:
    encoded = bytearray(pinned(3).public.encode())
    encoded[position] = (encoded[position] + delta) % 256
    with pytest.raises(VaultError):
        PublicIdentity.decode(bytes(encoded))


def test_truncated_identity_is_malformed() -> None:
    with pytest.raises(MalformedError, match="truncated"):
        PublicIdentity.decode(pinned(1).public.encode()[:-1])


def test_fingerprint_commits_to_both_keys() -> None:
    a = pinned(1).public
    assert a.fingerprint == labelled_hash(labels.FINGERPRINT, a.sign_pk + a.box_pk)
    assert a.fingerprint != pinned(2).public.fingerprint
    assert len(a.short_fingerprint().split()) == 4


def test_private_round_trip_and_repr_hides_keys() -> None:
    me = pinned(5)
    assert Identity.decode_private(me.encode_private()) == me
    shown = repr(me)
    assert me.sign_seed.hex() not in shown and me.box_sk.hex() not in shown
    assert "fingerprint" in shown


def test_generate_uses_the_random_source() -> None:
    calls: list[int] = []

    def fake_random(n: int) -> bytes:
        calls.append(n)
        return bytes([len(calls)]) * n

    assert Identity.generate(fake_random) == Identity(b"\x01" * 32, b"\x02" * 32)
    assert calls == [32, 32]


def test_labelled_signatures_do_not_cross_labels() -> None:
    me = pinned(1)
    sig = sign(me.sign_sk, labels.POST_SIGNATURE, b"msg")
    verify(me.sign_pk, labels.POST_SIGNATURE, b"msg", sig, "post")
    with pytest.raises(SignatureError):
        verify(me.sign_pk, labels.LOG_ENTRY_SIGNATURE, b"msg", sig, "entry")
    with pytest.raises(SignatureError):
        verify(me.sign_pk, labels.POST_SIGNATURE, b"msg", sig[:-1], "post")


def test_label_framing_is_length_prefixed() -> None:
    assert frame(b"ab") == b"\x02ab"
    # a label that is a prefix of another still separates
    assert labelled_hash(b"vault/v1/a", b"bc") != labelled_hash(b"vault/v1/ab", b"c")
    key = b"\x07" * 32
    assert derive_key(key, labels.POST_KEY) != derive_key(key, labels.METADATA_KEY)
    assert len(derive_key(key, labels.POST_KEY, b"ctx")) == 32
