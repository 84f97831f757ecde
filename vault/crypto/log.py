"""The membership log: signed, hash-chained entries that define who is in a group.

Wire form of one entry (``Tag.LOG_ENTRY``, then the fields in this order)::

    group_id[32]      all zero in the genesis entry (the group id is its hash)
    seq u64           0 for the genesis entry, then +1 per entry
    prev_hash[32]     hash of the previous entry; all zero in the genesis entry
    author[32]        Ed25519 signing key of the member who wrote the entry
    timestamp_ms u64  author's clock, never earlier than the previous entry
    kind u8           an :class:`EntryKind`
    body var          the kind's body (see :mod:`vault.crypto.log_entries`)
    signature[64]     Sign(author, "vault/v1/log-entry", every byte above, header included)

* entry hash = ``labelled_hash("vault/v1/log-entry-hash", raw entry bytes)``;
* group id   = ``labelled_hash("vault/v1/group-id", raw genesis bytes)``, so the group id
  commits to the creator, a random 16-byte nonce and the first epoch's key commitment;
* an encoded entry is at most 64 KiB (:data:`~vault.crypto.limits.MAX_LOG_ENTRY_SIZE`).

Decoding keeps the exact bytes (``raw``) and verifies the signature over them; entries
are never re-encoded to be checked. Decoding checks only the bytes and the signature;
whether the entry may follow the chain (and whether its author had the right to write
it) is decided by :mod:`vault.crypto.log_rules`.

The genesis entry commits to epoch 0's key (:mod:`vault.crypto.commitments`).

Join proofs: a joiner who holds an invite secret signs, with the invite key,
``join_proof_message(group_id, invite_id, joiner)`` = ``group_id[32] || invite_id[16] ||
joiner public identity (130 bytes, with its header)`` under label ``vault/v1/join-proof``.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from vault.crypto import labels
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import Reader, Tag, Writer
from vault.crypto.errors import MalformedError, TooLargeError
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.limits import MAX_LOG_ENTRY_SIZE
from vault.crypto.log_entries import (
    GROUP_NONCE_SIZE,
    INVITE_ID_SIZE,
    CreateBody,
    EntryBody,
    EntryKind,
    decode_body,
)
from vault.crypto.primitives import (
    HASH_SIZE,
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    ZERO_HASH,
    RandomSource,
    default_clock,
    default_random,
    draw,
    labelled_hash,
    sign,
    verify,
)

__all__ = [
    "LogEntry",
    "create_group",
    "group_id_of",
    "join_proof_message",
    "sign_entry",
]


def join_proof_message(group_id: bytes, invite_id: bytes, joiner: PublicIdentity) -> bytes:
    """The exact bytes an invite key signs to admit *joiner* (label ``JOIN_PROOF``)."""
    if len(group_id) != HASH_SIZE or len(invite_id) != INVITE_ID_SIZE:
        raise ValueError("group id is 32 bytes and invite id 16 bytes")
    return group_id + invite_id + joiner.encode()


@dataclass(frozen=True)
class LogEntry:
    """One signed log entry. ``raw`` is the exact encoding (what is hashed and signed)."""

    group_id: bytes
    seq: int
    prev_hash: bytes
    author: bytes
    timestamp_ms: int
    kind: EntryKind
    body: EntryBody
    signature: bytes
    raw: bytes

    @cached_property
    def hash(self) -> bytes:
        return labelled_hash(labels.LOG_ENTRY_HASH, self.raw)

    def encode(self) -> bytes:
        return self.raw

    @classmethod
    def decode(cls, data: bytes) -> LogEntry:
        """Decode strictly and verify the author's signature (:class:`SignatureError`)."""
        if len(data) > MAX_LOG_ENTRY_SIZE:
            raise TooLargeError(
                f"log entry is {len(data)} bytes; entries are at most {MAX_LOG_ENTRY_SIZE} bytes"
            )
        reader = Reader(data, "log entry", Tag.LOG_ENTRY)
        group_id = reader.fixed(HASH_SIZE, "group id")
        seq = reader.u64("sequence number")
        prev_hash = reader.fixed(HASH_SIZE, "previous hash")
        author = reader.fixed(PUBLIC_KEY_SIZE, "author")
        timestamp_ms = reader.u64("timestamp")
        kind_value = reader.u8("kind")
        try:
            kind = EntryKind(kind_value)
        except ValueError:
            raise MalformedError(f"log entry: unknown entry kind {kind_value}") from None
        body_bytes = reader.var(MAX_LOG_ENTRY_SIZE, "body")
        signed = reader.consumed()
        signature = reader.fixed(SIGNATURE_SIZE, "signature")
        reader.done()
        verify(author, labels.LOG_ENTRY_SIGNATURE, signed, signature, f"log entry {seq}")
        body = decode_body(kind, body_bytes)
        return cls(group_id, seq, prev_hash, author, timestamp_ms, kind, body, signature,
                   bytes(data))


def group_id_of(genesis: LogEntry) -> bytes:
    """The group id: a hash of the exact genesis bytes."""
    return labelled_hash(labels.GROUP_ID, genesis.raw)


def sign_entry(
    author: Identity,
    body: EntryBody,
    *,
    group_id: bytes,
    seq: int,
    prev_hash: bytes,
    timestamp_ms: int,
) -> LogEntry:
    """Encode and sign an entry with every header field given (no rule is checked).

    Use :func:`create_group` / :func:`vault.crypto.group_state.new_entry`; this is their
    common core, public for
    tools and tests that must build entries a chain would refuse.
    """
    writer = (
        Writer(Tag.LOG_ENTRY)
        .fixed(group_id, HASH_SIZE)
        .u64(seq)
        .fixed(prev_hash, HASH_SIZE)
        .fixed(author.sign_pk, PUBLIC_KEY_SIZE)
        .u64(timestamp_ms)
        .u8(body.KIND)
        .var(body.encode())
    )
    signed = writer.finish()
    signature = sign(author.sign_sk, labels.LOG_ENTRY_SIGNATURE, signed)
    raw = signed + signature
    if len(raw) > MAX_LOG_ENTRY_SIZE:
        raise TooLargeError(
            f"log entry would be {len(raw)} bytes; entries are at most {MAX_LOG_ENTRY_SIZE} bytes"
        )
    return LogEntry(group_id, seq, prev_hash, author.sign_pk, timestamp_ms, body.KIND, body,
                    signature, raw)


def create_group(
    creator: Identity,
    epoch_key: bytes,
    *,
    now_ms: int | None = None,
    random: RandomSource = default_random,
) -> LogEntry:
    """The genesis entry of a new group, with *creator* as its owner and epoch 0 committed."""
    commitment = epoch_commitment(commitment_group_id(ZERO_HASH, 0), 0, epoch_key)
    body = CreateBody(creator.public, draw(random, GROUP_NONCE_SIZE), commitment)
    timestamp = default_clock() if now_ms is None else now_ms
    return sign_entry(
        creator, body, group_id=ZERO_HASH, seq=0, prev_hash=ZERO_HASH, timestamp_ms=timestamp
    )

