"""vault/crypto/auth.py: the relay-auth signature is bound to group, subject and challenge."""

from __future__ import annotations

import pytest

from vault.crypto.auth import (
    AuthSubject,
    auth_message,
    session_token_hash,
    sign_invite_challenge,
    sign_member_challenge,
    verify_invite_challenge,
    verify_member_challenge,
)
from vault.crypto.errors import MalformedError, SignatureError
from vault.crypto.identity import Identity
from vault.crypto.invites import invite_keypair

GID, OTHER, CHALLENGE = b"g" * 32, b"h" * 32, b"c" * 32


def test_member_signature_binds_everything() -> None:
    me, other = Identity.generate(), Identity.generate()
    sig = sign_member_challenge(me, GID, CHALLENGE)
    verify_member_challenge(me.sign_pk, GID, CHALLENGE, sig)
    for pk, gid, challenge in ((other.sign_pk, GID, CHALLENGE), (me.sign_pk, OTHER, CHALLENGE),
                               (me.sign_pk, GID, b"d" * 32)):
        with pytest.raises(SignatureError):
            verify_member_challenge(pk, gid, challenge, sig)


def test_invite_signature_and_kinds_are_separate() -> None:
    sk, pk = invite_keypair(b"s" * 32)
    sig = sign_invite_challenge(sk, GID, b"i" * 16, CHALLENGE)
    verify_invite_challenge(pk, GID, b"i" * 16, CHALLENGE, sig)
    with pytest.raises(SignatureError):
        verify_invite_challenge(pk, GID, b"j" * 16, CHALLENGE, sig)
    member_msg = auth_message(AuthSubject.MEMBER, GID, b"x" * 32, CHALLENGE)
    assert member_msg[:3] == bytes((0x0C, 1, AuthSubject.MEMBER))
    with pytest.raises(MalformedError):
        auth_message(AuthSubject.INVITE, GID, b"x" * 32, CHALLENGE)


def test_token_hash_is_labelled() -> None:
    token = b"t" * 32
    assert session_token_hash(token) != token and len(session_token_hash(token)) == 32
