"""What a joiner sees before asking to join, and a member's acceptance of the group's rules.

A **rules card** is the group's name, description and rules as an admin attests them for one
invite: signed by the admin, bound to the group's current metadata (``rules_ref``, a hash of
the METADATA entry in force) and encrypted under a key derived from the invite's secret, so
only someone holding the QR code reads it and neither the relay nor an out-of-date card can
show a joiner other rules than the group's (protocol §8.7).

A **rules acceptance** is a member's (or a joiner's) signature over the ``rules_ref`` they
accepted. Members carry theirs in their profile (§7.1); a joiner sends one with the join
request, for admins to see beside the safety number.

Wire layouts::

    RulesCard (Tag.RULES_CARD)         group_id[32] invite_id[16] rules_ref[32] signer[32]
                                       signed_at_ms:u64 digest_key[32]
                                       metadata:var(GroupMetadata) signature[64]
        digest_key = KDF(metadata_key(K_e, group_id, e), "vault/v1/rules-digest-key"), e the
                     epoch of the METADATA entry at rules_ref (members derive it too)
        signature = Sign(signer, "vault/v1/rules-card", every byte before it)
    CardEnvelope (Tag.CARD_ENVELOPE)   nonce[24] ciphertext:var
        ciphertext = AEAD(KDF(secret, "vault/v1/invite-card-key"), nonce, padded card,
                          ad = 0x18 0x01 || group_id || invite_id)
    RulesAcceptance (Tag.RULES_ACCEPTANCE, 202 bytes)
                                       group_id[32] member[32] rules_ref[32]
                                       rules_digest[32] accepted_at_ms:u64 signature[64]
        rules_digest = KDF(digest_key, "vault/v1/rules-text", the rules text read, UTF-8)
        signature = Sign(member, "vault/v1/rules-acceptance", every byte before it)
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from typing import ClassVar, Final

from vault.crypto import labels
from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer
from vault.crypto.epochs import metadata_key
from vault.crypto.errors import (
    DecryptionError,
    MalformedError,
    MetadataError,
    RulesCardError,
    RulesCardStaleError,
    SignatureError,
    TooLargeError,
)
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.limits import MAX_METADATA_ENVELOPE_SIZE
from vault.crypto.log_entries import GROUP_ID_SIZE, INVITE_ID_SIZE, MetadataBody, Role
from vault.crypto.metadata import GroupMetadata, seal_padded, split_padded
from vault.crypto.padding import unpad
from vault.crypto.primitives import (
    HASH_SIZE,
    KEY_SIZE,
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    RandomSource,
    aead_open,
    default_clock,
    default_random,
    derive_key,
    labelled_hash,
    sign,
)
from vault.crypto.primitives import verify as verify_signature

NO_RULES: Final = bytes(HASH_SIZE)
"""The ``rules_ref`` of a group without metadata yet."""
MAX_CARD_ENVELOPE_SIZE: Final = MAX_METADATA_ENVELOPE_SIZE
_U64 = struct.Struct(">Q")


def rules_ref(state: GroupState) -> bytes:
    """What a card and an acceptance refer to: the group's METADATA entry in force
    (``H("vault/v1/rules-ref", group_id || u64 epoch || envelope)``), or 32 zero bytes."""
    body = state.group_metadata
    return NO_RULES if body is None else metadata_ref(state.group_id, body)


def metadata_ref(group_id: bytes, body: MetadataBody) -> bytes:
    """The rules ref of one group METADATA entry's body (this one or an earlier one)."""
    return labelled_hash(labels.RULES_REF, group_id + _U64.pack(body.epoch) + body.ciphertext)


def card_key(secret: bytes) -> bytes:
    """The key of an invite's card: only the QR code's holder (and its maker) derives it."""
    if len(secret) != KEY_SIZE:
        raise ValueError("an invite secret is 32 bytes")
    return derive_key(secret, labels.INVITE_CARD_KEY)


@dataclass(frozen=True)
class RulesCard:
    """An admin's signed statement of the group's name, description and rules, for one
    invite, at the group's metadata ``rules_ref``."""

    group_id: bytes
    invite_id: bytes
    rules_ref: bytes
    signer: bytes
    signed_at_ms: int
    digest_key: bytes
    """The key of an acceptance's ``rules_digest`` (so the relay cannot confirm a guessed
    text): derived from the epoch key of the METADATA entry at ``rules_ref``."""
    metadata: GroupMetadata
    signature: bytes
    raw: bytes = field(repr=False)

    @classmethod
    def decode(cls, data: bytes) -> RulesCard:
        """Strict decode, then the signer's signature (``bad_signature``)."""
        reader = Reader(data, "rules card", Tag.RULES_CARD)
        group_id = reader.fixed(GROUP_ID_SIZE, "group id")
        invite_id = reader.fixed(INVITE_ID_SIZE, "invite id")
        ref = reader.fixed(HASH_SIZE, "rules ref")
        signer = reader.fixed(PUBLIC_KEY_SIZE, "signer")
        signed_at_ms = reader.u64("signed at")
        key = reader.fixed(KEY_SIZE, "digest key")
        try:
            metadata = GroupMetadata.decode(reader.var(MAX_CARD_ENVELOPE_SIZE, "metadata"))
        except (MetadataError, TooLargeError) as error:
            raise MalformedError(f"rules card: {error.message}") from None
        signed = reader.consumed()
        signature = reader.fixed(SIGNATURE_SIZE, "signature")
        reader.done()
        verify_signature(signer, labels.RULES_CARD, signed, signature, "rules card")
        return cls(group_id, invite_id, ref, signer, signed_at_ms, key, metadata, signature,
                   reader.consumed())


def digest_key(epoch_key: bytes, group_id: bytes, epoch: int) -> bytes:
    """The key of the rules digests for metadata of *epoch*: members who hold the epoch key
    derive it; a joiner gets it in the card."""
    return derive_key(metadata_key(epoch_key, group_id, epoch), labels.RULES_DIGEST_KEY)


def make_rules_card(admin: Identity, state: GroupState, invite_id: bytes,
                    metadata: GroupMetadata, epoch_key: bytes, *,
                    now_ms: int | None = None) -> RulesCard:
    """*admin*'s card for *invite_id* at *state*: *metadata* must be what the group's current
    METADATA entry holds (the caller decrypted it with *epoch_key*, the key of its epoch);
    the card names that entry."""
    if len(invite_id) != INVITE_ID_SIZE:
        raise ValueError("an invite id is 16 bytes")
    body = state.group_metadata
    if body is None:
        raise ValueError("a card states the group's metadata: the group has none yet")
    signed_at_ms = default_clock() if now_ms is None else now_ms
    signed = (Writer(Tag.RULES_CARD).fixed(state.group_id, GROUP_ID_SIZE)
              .fixed(invite_id, INVITE_ID_SIZE).fixed(rules_ref(state), HASH_SIZE)
              .fixed(admin.sign_pk, PUBLIC_KEY_SIZE).u64(signed_at_ms)
              .fixed(digest_key(epoch_key, state.group_id, body.epoch), KEY_SIZE)
              .var(metadata.encode()).finish())
    raw = signed + sign(admin.sign_sk, labels.RULES_CARD, signed)
    return RulesCard.decode(raw)


def _card_ad(group_id: bytes, invite_id: bytes) -> bytes:
    return bytes((Tag.CARD_ENVELOPE, PROTOCOL_VERSION)) + group_id + invite_id


def seal_rules_card(card: RulesCard, secret: bytes, *,
                    random: RandomSource = default_random) -> bytes:
    """The CardEnvelope the relay keeps for the invite: padded like metadata (§7.2)."""
    return seal_padded(Tag.CARD_ENVELOPE, "rules card", card_key(secret), card.raw,
                       _card_ad(card.group_id, card.invite_id), random=random)


def check_card_envelope(data: bytes) -> None:
    """The shape the relay can check without the key (``malformed``): CARD-1."""
    _split(data)


def _split(data: bytes) -> tuple[bytes, bytes]:
    return split_padded(data, Tag.CARD_ENVELOPE, "card envelope")


_NOT_THIS_INVITES = ("this invite's description does not open with the invite's secret: it "
                     "is not the one the group's admins published for it")


def open_rules_card(data: bytes, secret: bytes, group_id: bytes, invite_id: bytes) -> RulesCard:
    """CARD-1 … CARD-4: the envelope, the key, the card, its signature and its invite.
    Then :func:`check_rules_card` against the verified log (CARD-5, CARD-6)."""
    nonce, ciphertext = _split(data)
    try:
        card = RulesCard.decode(unpad(aead_open(card_key(secret), nonce, ciphertext,
                                                _card_ad(group_id, invite_id))))
    except (DecryptionError, MalformedError, SignatureError):
        raise RulesCardError(_NOT_THIS_INVITES) from None
    if card.group_id != group_id or card.invite_id != invite_id:
        raise RulesCardError(_NOT_THIS_INVITES)
    return card


def check_rules_card(card: RulesCard, state: GroupState) -> None:
    """CARD-5: signed by a current admin; CARD-6: about the metadata in force now."""
    role = state.role_of(card.signer)
    if role is None or role < Role.ADMIN:
        raise RulesCardError("this invite's description is not signed by one of the group's "
                             "admins; ask for a new invite")
    if card.rules_ref != rules_ref(state):
        raise RulesCardStaleError("the group's name, description or rules changed since this "
                                  "invite's description was written; ask an admin to open "
                                  "Vault (it is then brought up to date) or for a new invite")


def rules_digest(key: bytes, rules: str) -> bytes:
    """What an acceptance says of the text read, keyed with the card's ``digest_key``:
    ``KDF(key, "vault/v1/rules-text", UTF-8 text)`` (the relay, without the key, cannot
    confirm a guess)."""
    return derive_key(key, labels.RULES_TEXT, rules.encode("utf-8"))


@dataclass(frozen=True)
class RulesAcceptance:
    """A member's signed acceptance of the rules at ``rules_ref``, whose text they read
    (``rules_digest``): admins compare it with what the METADATA entry holds, since a joiner
    cannot open that entry and takes the card's word for it."""

    group_id: bytes
    member: bytes
    rules_ref: bytes
    rules_digest: bytes
    accepted_at_ms: int
    signature: bytes
    raw: bytes = field(repr=False)

    ENCODED_SIZE: ClassVar[int] = 2 + GROUP_ID_SIZE + PUBLIC_KEY_SIZE + 2 * HASH_SIZE + 8 \
        + SIGNATURE_SIZE

    @classmethod
    def decode(cls, data: bytes) -> RulesAcceptance:
        """Strict decode, then the member's signature (``bad_signature``)."""
        reader = Reader(data, "rules acceptance", Tag.RULES_ACCEPTANCE)
        group_id = reader.fixed(GROUP_ID_SIZE, "group id")
        member = reader.fixed(PUBLIC_KEY_SIZE, "member")
        ref = reader.fixed(HASH_SIZE, "rules ref")
        digest = reader.fixed(HASH_SIZE, "rules digest")
        accepted_at_ms = reader.u64("accepted at")
        signed = reader.consumed()
        signature = reader.fixed(SIGNATURE_SIZE, "signature")
        reader.done()
        verify_signature(member, labels.RULES_ACCEPTANCE, signed, signature, "rules acceptance")
        return cls(group_id, member, ref, digest, accepted_at_ms, signature, reader.consumed())


def accept_rules(member: Identity, group_id: bytes, ref: bytes, rules: str, key: bytes, *,
                 now_ms: int | None = None) -> RulesAcceptance:
    """*member*'s acceptance of the rules text *rules*, read as the metadata at *ref*, with
    the card's digest *key*."""
    accepted_at_ms = default_clock() if now_ms is None else now_ms
    signed = (Writer(Tag.RULES_ACCEPTANCE).fixed(group_id, GROUP_ID_SIZE)
              .fixed(member.sign_pk, PUBLIC_KEY_SIZE).fixed(ref, HASH_SIZE)
              .fixed(rules_digest(key, rules), HASH_SIZE).u64(accepted_at_ms).finish())
    return RulesAcceptance.decode(signed + sign(member.sign_sk, labels.RULES_ACCEPTANCE, signed))
