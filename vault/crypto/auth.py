"""Relay authentication: a signature over a fresh, single-use server challenge.

The relay hands out 32 random bytes; the client signs them with the key the relay knows
it by in this group, and gets a short-lived session token back. Two kinds of subject:

* a **member** signs with its per-group Ed25519 key (``sign_pk`` from the log);
* a **joiner** holding an invite signs with the invite key derived from the QR secret
  (``invite_pk`` from the log), which lets it read the log before it is a member.

Signed message (label ``RELAY_AUTH``), wire form ``Tag.AUTH_MESSAGE`` (AuthMessage)::

    tag || version || kind[1] || group_id[32] || subject || challenge[32]

where ``subject`` is ``member sign_pk[32]`` (kind 1) or ``invite_id[16]`` (kind 2). The
tag, version and kind keep this signature from ever being valid as anything else.

Session tokens are 32 random bytes; the relay stores only ``session_token_hash(token)``.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Final

from vault.crypto import labels
from vault.crypto.encoding import Tag, Writer
from vault.crypto.errors import MalformedError
from vault.crypto.identity import Identity
from vault.crypto.log_entries import GROUP_ID_SIZE, INVITE_ID_SIZE
from vault.crypto.primitives import (
    PUBLIC_KEY_SIZE,
    RandomSource,
    default_random,
    draw,
    labelled_hash,
    sign,
    verify,
)

CHALLENGE_SIZE: Final = 32
TOKEN_SIZE: Final = 32


class AuthSubject(IntEnum):
    MEMBER = 1
    INVITE = 2


_SUBJECT_SIZE: Final = {AuthSubject.MEMBER: PUBLIC_KEY_SIZE, AuthSubject.INVITE: INVITE_ID_SIZE}


def auth_message(kind: AuthSubject, group_id: bytes, subject: bytes, challenge: bytes) -> bytes:
    """The exact bytes a client signs to answer a relay challenge."""
    if len(group_id) != GROUP_ID_SIZE:
        raise MalformedError("auth challenge: group id must be 32 bytes")
    if len(subject) != _SUBJECT_SIZE[kind]:
        raise MalformedError(
            f"auth challenge: {kind.name.lower()} must be {_SUBJECT_SIZE[kind]} bytes"
        )
    if len(challenge) != CHALLENGE_SIZE:
        raise MalformedError("auth challenge: challenge must be 32 bytes")
    return (
        Writer(Tag.AUTH_MESSAGE)
        .u8(kind)
        .fixed(group_id, GROUP_ID_SIZE)
        .fixed(subject, _SUBJECT_SIZE[kind])
        .fixed(challenge, CHALLENGE_SIZE)
        .finish()
    )


def new_challenge(random: RandomSource = default_random) -> bytes:
    return draw(random, CHALLENGE_SIZE)


def new_session_token(random: RandomSource = default_random) -> bytes:
    return draw(random, TOKEN_SIZE)


def session_token_hash(token: bytes) -> bytes:
    """What the relay stores (and looks up) instead of the token itself."""
    return labelled_hash(labels.RELAY_SESSION_TOKEN, token)


def sign_member_challenge(member: Identity, group_id: bytes, challenge: bytes) -> bytes:
    message = auth_message(AuthSubject.MEMBER, group_id, member.sign_pk, challenge)
    return member.sign(labels.RELAY_AUTH, message)


def verify_member_challenge(
    member_pk: bytes, group_id: bytes, challenge: bytes, signature: bytes
) -> None:
    """Raise :class:`SignatureError` unless *member_pk* signed this group's challenge."""
    message = auth_message(AuthSubject.MEMBER, group_id, member_pk, challenge)
    verify(member_pk, labels.RELAY_AUTH, message, signature, "relay auth")


def sign_invite_challenge(
    invite_sk: bytes, group_id: bytes, invite_id: bytes, challenge: bytes
) -> bytes:
    """Answer a challenge with the invite key (64-byte libsodium secret key)."""
    message = auth_message(AuthSubject.INVITE, group_id, invite_id, challenge)
    return sign(invite_sk, labels.RELAY_AUTH, message)


def verify_invite_challenge(
    invite_pk: bytes, group_id: bytes, invite_id: bytes, challenge: bytes, signature: bytes
) -> None:
    message = auth_message(AuthSubject.INVITE, group_id, invite_id, challenge)
    verify(invite_pk, labels.RELAY_AUTH, message, signature, "relay auth")
