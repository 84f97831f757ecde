"""Epoch keys, their commitments and subkeys, and the grants that deliver them.

A group's content is encrypted under a fresh random 32-byte *epoch key*; a new epoch
starts on every removal, leave and device revocation. The log entry that starts an
epoch carries the key's commitment (:mod:`vault.crypto.commitments`), so a key that an
admin or the relay made up is caught by every member.

Each member receives the key in an :class:`EpochGrant`: a libsodium sealed box to the
member's X25519 key. Sealed boxes are anonymous, so the sealed :class:`GrantContent`
is signed by the granting admin and names group, epoch and recipient (both keys).

Wire layouts (every object starts with its tag byte and the protocol version byte)::

    GrantContent (Tag.GRANT_CONTENT, 234 bytes)
        group_id[32] epoch:u64 recipient_sign_pk[32] recipient_box_pk[32]
        granter_sign_pk[32] epoch_key[32] signature[64]
        signature = Sign(granter, "vault/v1/epoch-grant", all bytes before it)

    EpochGrant (Tag.EPOCH_GRANT, 360 bytes)
        group_id[32] epoch:u64 recipient_sign_pk[32] var(sealed[282])
        sealed = crypto_box_seal(GrantContent, recipient_box_pk)
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from hmac import compare_digest
from typing import TYPE_CHECKING, Final

import nacl.bindings
import nacl.exceptions

from vault.crypto import labels
from vault.crypto.commitments import (
    EPOCH_KEY_SIZE,
    commitment_group_id,
    epoch_commitment,
    epoch_context,
)
from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag, Writer
from vault.crypto.errors import DecryptionError, GrantError, MalformedError, SignatureError
from vault.crypto.log_entries import GROUP_ID_SIZE, Role
from vault.crypto.primitives import (
    PUBLIC_KEY_SIZE,
    SEALED_BOX_OVERHEAD,
    SIGNATURE_SIZE,
    RandomSource,
    default_random,
    derive_key,
    draw,
    sign,
    verify,
)

if TYPE_CHECKING:
    from vault.crypto.group_state import GroupState
    from vault.crypto.identity import Identity, PublicIdentity

GRANT_CONTENT_SIZE: Final = 2 + 32 + 8 + 32 * 4 + SIGNATURE_SIZE
SEALED_GRANT_SIZE: Final = GRANT_CONTENT_SIZE + SEALED_BOX_OVERHEAD

# An epoch grant's wire layout (all grants have it): see EpochGrant.decode.
_GRANT_HEADER: Final = bytes((Tag.EPOCH_GRANT, PROTOCOL_VERSION))
_GRANT_EPOCH_AT: Final = 2 + GROUP_ID_SIZE
_GRANT_RECIPIENT_AT: Final = _GRANT_EPOCH_AT + 8
_GRANT_LEN_AT: Final = _GRANT_RECIPIENT_AT + PUBLIC_KEY_SIZE
_GRANT_SEALED_AT: Final = _GRANT_LEN_AT + 4
_GRANT_SEALED_LEN: Final = struct.pack(">I", SEALED_GRANT_SIZE)
EPOCH_GRANT_SIZE: Final = _GRANT_SEALED_AT + SEALED_GRANT_SIZE

_box_seal = nacl.bindings.crypto_box_seal
_box_seal_open = nacl.bindings.crypto_box_seal_open


# --- keys ---------------------------------------------------------------------------------


def new_epoch_key(random: RandomSource = default_random) -> bytes:
    """A fresh random epoch key (32 bytes)."""
    return draw(random, EPOCH_KEY_SIZE)


@lru_cache(maxsize=128)
def _subkey(label: bytes, epoch_key: bytes, group_id: bytes, epoch: int) -> bytes:
    return derive_key(epoch_key, label, epoch_context(group_id, epoch))


def post_key(epoch_key: bytes, group_id: bytes, epoch: int) -> bytes:
    """The AEAD key for posts of one epoch (derived once per epoch, then cached)."""
    return _subkey(labels.POST_KEY, epoch_key, group_id, epoch)


def metadata_key(epoch_key: bytes, group_id: bytes, epoch: int) -> bytes:
    """The AEAD key for group metadata and profiles of one epoch."""
    return _subkey(labels.METADATA_KEY, epoch_key, group_id, epoch)


def forget_cached_subkeys() -> None:
    """Drop the in-memory cache of derived subkeys (e.g. when a client locks)."""
    _subkey.cache_clear()


# --- grants -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GrantContent:
    """The signed plaintext inside a grant's sealed box."""

    group_id: bytes
    epoch: int
    recipient_sign_pk: bytes
    recipient_box_pk: bytes
    granter_sign_pk: bytes
    epoch_key: bytes
    signature: bytes
    raw: bytes

    @classmethod
    def decode(cls, data: bytes) -> GrantContent:
        reader = Reader(data, "grant content", Tag.GRANT_CONTENT)
        group_id = reader.fixed(GROUP_ID_SIZE, "group id")
        epoch = reader.u64("epoch")
        recipient_sign_pk = reader.fixed(PUBLIC_KEY_SIZE, "recipient signing key")
        recipient_box_pk = reader.fixed(PUBLIC_KEY_SIZE, "recipient box key")
        granter = reader.fixed(PUBLIC_KEY_SIZE, "granter signing key")
        epoch_key = reader.fixed(EPOCH_KEY_SIZE, "epoch key")
        signature = reader.fixed(SIGNATURE_SIZE, "signature")
        reader.done()
        return cls(group_id, epoch, recipient_sign_pk, recipient_box_pk, granter, epoch_key,
                   signature, bytes(data))

    @property
    def signed_bytes(self) -> bytes:
        return self.raw[:-SIGNATURE_SIZE]

    def __repr__(self) -> str:  # never show the epoch key
        return f"GrantContent(epoch={self.epoch}, recipient={self.recipient_sign_pk.hex()[:16]})"


@dataclass(frozen=True)
class EpochGrant:
    """One member's copy of an epoch key. The clear fields let the relay route it."""

    group_id: bytes
    epoch: int
    recipient: bytes
    sealed: bytes

    def encode(self) -> bytes:
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        return (
            Writer(Tag.EPOCH_GRANT)
            .fixed(self.group_id, GROUP_ID_SIZE)
            .u64(self.epoch)
            .fixed(self.recipient, PUBLIC_KEY_SIZE)
            .var(self.sealed)
            .finish()
        )

    @classmethod
    def decode(cls, data: bytes) -> EpochGrant:
        # Every valid grant has one size and one layout: read it by slicing (a relay
        # decodes a rotation's thousands at once); anything else is read field by field,
        # which says what is wrong.
        if type(data) is bytes and len(data) == EPOCH_GRANT_SIZE and \
                data.startswith(_GRANT_HEADER) and \
                data[_GRANT_LEN_AT:_GRANT_SEALED_AT] == _GRANT_SEALED_LEN:
            return cls(data[len(_GRANT_HEADER):_GRANT_EPOCH_AT],
                       int.from_bytes(data[_GRANT_EPOCH_AT:_GRANT_RECIPIENT_AT], "big"),
                       data[_GRANT_RECIPIENT_AT:_GRANT_LEN_AT], data[_GRANT_SEALED_AT:])
        reader = Reader(data, "epoch grant", Tag.EPOCH_GRANT)
        group_id = reader.fixed(GROUP_ID_SIZE, "group id")
        epoch = reader.u64("epoch")
        recipient = reader.fixed(PUBLIC_KEY_SIZE, "recipient")
        sealed = reader.var(SEALED_GRANT_SIZE, "sealed key")
        reader.done()
        if len(sealed) != SEALED_GRANT_SIZE:
            raise MalformedError(f"epoch grant: sealed key must be {SEALED_GRANT_SIZE} bytes")
        return cls(group_id, epoch, recipient, sealed)


GRANT_BATCH: Final = 256
"""Recipients sealed per task when :func:`build_grants` is handed a *map_batches*."""

MapBatches = Callable[
    [Callable[[Sequence[tuple[bytes, bytes]]], list[EpochGrant]],
     Sequence[Sequence[tuple[bytes, bytes]]]],
    Iterable[list[EpochGrant]],
]
"""``map(fn, batches)`` that yields each batch's result in the batches' order (such as
``ThreadPoolExecutor.map``)."""


def build_grants(
    granter: Identity,
    group_id: bytes,
    epoch: int,
    epoch_key: bytes,
    recipients: Iterable[PublicIdentity],
    *,
    map_batches: MapBatches | None = None,
) -> tuple[EpochGrant, ...]:
    """Seal *epoch_key* to every recipient, signed by *granter*: the grants come back in
    the recipients' order.

    Recipients' identities are taken as verified (they come from the verified log);
    their binding signatures are not re-checked here. A recipient listed twice is a
    caller bug (``ValueError``), refused before anything is sealed.

    *map_batches* (optional) spreads the work: the recipients are cut into batches of
    :data:`GRANT_BATCH`, sealed by ``map_batches(seal, batches)`` (libsodium releases the
    GIL, so a thread pool's ``map`` seals on every core) and put back in order. The bytes
    are the same construction either way; only the sealed boxes' ephemeral keys differ,
    as they do between any two calls.
    """
    if len(epoch_key) != EPOCH_KEY_SIZE:
        raise ValueError("epoch key must be 32 bytes")
    context = epoch_context(group_id, epoch)
    header = bytes((Tag.GRANT_CONTENT, PROTOCOL_VERSION)) + context
    suffix = granter.sign_pk + epoch_key
    sign_sk = granter.sign_sk
    outer_prefix = _GRANT_HEADER + context
    seen: set[bytes] = set()
    keys: list[tuple[bytes, bytes]] = []
    for recipient in recipients:
        sign_pk = recipient.sign_pk
        box_pk = recipient.box_pk
        if sign_pk in seen:
            raise ValueError("a recipient is listed twice")
        seen.add(sign_pk)
        if len(sign_pk) != PUBLIC_KEY_SIZE or len(box_pk) != PUBLIC_KEY_SIZE:
            raise ValueError("recipient keys must be 32 bytes")
        keys.append((sign_pk, box_pk))

    def seal_batch(batch: Sequence[tuple[bytes, bytes]]) -> list[EpochGrant]:
        grants: list[EpochGrant] = []
        append = grants.append
        for sign_pk, box_pk in batch:
            signed = header + sign_pk + box_pk + suffix
            sealed: bytes = _box_seal(signed + sign(sign_sk, labels.EPOCH_GRANT, signed),
                                      box_pk)
            grant = EpochGrant(group_id, epoch, sign_pk, sealed)
            grant.__dict__["_encoded"] = outer_prefix + sign_pk + _GRANT_SEALED_LEN + sealed
            append(grant)
        return grants

    if map_batches is None or len(keys) <= GRANT_BATCH:
        return tuple(seal_batch(keys))
    batches = [keys[i:i + GRANT_BATCH] for i in range(0, len(keys), GRANT_BATCH)]
    out: list[EpochGrant] = []
    for sealed_batch in map_batches(seal_batch, batches):
        out.extend(sealed_batch)
    if [g.recipient for g in out] != [pk for pk, _ in keys]:
        # A map that lost, added or reordered a batch: never a partial or shuffled rotation.
        raise RuntimeError("build_grants: the batches did not come back in order")
    return tuple(out)


def _may_grant(state: GroupState, sign_pk: bytes, epoch: int) -> bool:
    """An admin or owner now, or at some point while *epoch* was in force.

    So a since-removed or demoted admin's grants of epochs it administered stay valid
    and a current admin may share history, but a former admin cannot vouch for epochs
    from before or after its time as admin, and someone never an admin vouches for none.
    """
    current = state.role_of(sign_pk)
    if current is not None and current >= Role.ADMIN:
        return True
    record = state.member_record(sign_pk)
    if record is None:
        return False
    epoch_from = state.epoch_start_seq.get(epoch, 0)
    epoch_until = state.epoch_start_seq.get(epoch + 1, state.seq + 1)
    member_until = record.removed_seq if record.removed_seq is not None else state.seq + 1
    history = state.role_history.get(sign_pk) or ((record.joined_seq, record.role),)
    for index, (role_from, role) in enumerate(history):
        role_until = history[index + 1][0] if index + 1 < len(history) else member_until
        if role >= Role.ADMIN and role_from < epoch_until and role_until > epoch_from:
            return True
    return False


def open_grant(grant: EpochGrant, me: Identity, state: GroupState) -> bytes:
    """Open a grant addressed to *me* and return the epoch key it carries.

    Every check failure is a :class:`GrantError` with its own message (never key
    material); an unopenable sealed box is the opaque :class:`DecryptionError`.
    """
    public = me.public
    if grant.recipient != public.sign_pk:
        raise GrantError("epoch grant is addressed to another member")
    try:
        plaintext: bytes = _box_seal_open(grant.sealed, public.box_pk, me.box_sk)
    except (nacl.exceptions.CryptoError, nacl.exceptions.TypeError, nacl.exceptions.ValueError):
        raise DecryptionError() from None
    try:
        content = GrantContent.decode(plaintext)
    except MalformedError:
        raise GrantError("epoch grant: the sealed content is not a valid grant") from None
    if content.group_id != grant.group_id:
        raise GrantError("epoch grant: sealed group differs from the grant's header")
    if content.epoch != grant.epoch:
        raise GrantError("epoch grant: sealed epoch differs from the grant's header")
    if content.recipient_sign_pk != grant.recipient:
        raise GrantError("epoch grant: sealed recipient differs from the grant's header")
    if content.recipient_box_pk != public.box_pk:
        raise GrantError("epoch grant: sealed for a different box key than this member's")
    if content.group_id != state.group_id:
        raise GrantError("epoch grant is for another group")
    if content.epoch not in state.epoch_commitments:
        raise GrantError(
            f"epoch grant is for epoch {content.epoch}, which this device's membership log "
            "does not contain (sync the log and retry)"
        )
    if not _may_grant(state, content.granter_sign_pk, content.epoch):
        raise GrantError("epoch grant was made by someone who is not an admin of this group")
    try:
        verify(content.granter_sign_pk, labels.EPOCH_GRANT, content.signed_bytes,
               content.signature, "epoch grant")
    except SignatureError:
        raise GrantError("epoch grant: the granter's signature does not verify") from None
    if not key_matches_log(state, content.epoch, content.epoch_key):  # (group checked above)
        raise GrantError(
            "epoch grant: the key does not match the commitment in the membership log "
            "(the granter or the relay supplied a wrong key)"
        )
    return content.epoch_key


def key_matches_log(state: GroupState, epoch: int, key: bytes) -> bool:
    """Whether *key* is the key the membership log committed to for *epoch* (a key from
    elsewhere than a grant, such as a backup, is believed only then)."""
    expected = state.epoch_commitments.get(epoch)
    if expected is None or len(key) != EPOCH_KEY_SIZE:
        return False
    bound_group = commitment_group_id(state.group_id, epoch)
    return compare_digest(epoch_commitment(bound_group, epoch, key), expected)
