"""What a client keeps on its own disk, sealed under a key from its keystore.

A client's local database keeps what it verified and decrypted (epoch keys, opened posts,
posts waiting to be uploaded) so it does not have to fetch and decrypt everything again.
Everything secret in it is a *local record*, sealed under a key that only the unlocked
keystore yields, so a copied database alone reveals no content and no key.

Keys::

    secret    = 32 random bytes, kept in the keystore (see :func:`new_local_store_secret`)
    store key = derive_key(secret, "vault/v1/local-store-key", b"records")

LocalRecord (``Tag.LOCAL_RECORD``)::

    nonce[24] var(ciphertext)
    ciphertext = XChaCha20-Poly1305-IETF(store key, nonce, plaintext,
                 aad = tag || version || text(kind) || var(record_id))

``kind`` names the table or purpose and ``record_id`` the row (for example a group id and an
epoch), so a record cannot be moved to another row or table without failing to open.

Record contents defined here (each with its own tag):

* StoredPost (``Tag.STORED_POST``): ``var(envelope) var(signed body) signature[64]``, an
  :class:`~vault.crypto.posts.OpenedPost` as it was verified on arrival;
* PostStub (``Tag.POST_STUB``): ``post_id[16] author[32] author_seq u64``, what remains of an
  expired post, so its place in its author's sequence is not mistaken for a withheld post;
* PendingJoin (``Tag.PENDING_JOIN``): ``text(invite uri) opt var(join request)``, a join
  that waits for an admin's approval;
* MutedMembers (``Tag.MUTED_MEMBERS``): ``u32 count`` then ``count`` signing keys of 32
  bytes, strictly increasing: the members whose posts this device shows collapsed (a choice
  of this device's owner, never sent anywhere).
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from itertools import pairwise
from typing import Final

from vault.crypto import labels
from vault.crypto.encoding import Reader, Tag, Writer
from vault.crypto.errors import MalformedError, PostError
from vault.crypto.invites import JoinRequest
from vault.crypto.limits import (
    MAX_PENDING_REQUEST_FIELD,
    MAX_RECORD_ID,
    MAX_RECORD_KIND,
    MAX_RECORD_SIZE,
    MAX_STORED_BODY_FIELD,
    MAX_STORED_ENVELOPE_FIELD,
    MAX_URI_LENGTH,
)
from vault.crypto.post_body import PostBody
from vault.crypto.posts import OpenedPost, PostEnvelope
from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    KEY_SIZE,
    PUBLIC_KEY_SIZE,
    SIGNATURE_SIZE,
    RandomSource,
    aead_open,
    aead_seal,
    default_random,
    derive_key,
    draw,
)

__all__ = [
    "MAX_MUTED_MEMBERS",
    "DeletedGroup",
    "PendingJoin",
    "PostStub",
    "decode_deleted_group",
    "decode_muted_members",
    "decode_pending_join",
    "decode_post_stub",
    "decode_stored_post",
    "encode_deleted_group",
    "encode_muted_members",
    "encode_pending_join",
    "encode_post_stub",
    "encode_stored_post",
    "local_store_key",
    "new_local_store_secret",
    "open_record",
    "record_id",
    "seal_record",
]

_POST_ID_SIZE: Final = 16


def new_local_store_secret(random: RandomSource = default_random) -> bytes:
    """A fresh secret for a new local store (keep it in the keystore)."""
    return draw(random, KEY_SIZE)


def local_store_key(secret: bytes) -> bytes:
    """The key local records are sealed under, derived from the keystore's secret."""
    return derive_key(secret, labels.LOCAL_STORE_KEY, b"records")


def record_id(*parts: bytes | int) -> bytes:
    """An unambiguous record id from byte strings (``var``) and integers (``u64``)."""
    writer = Writer()
    for part in parts:
        if isinstance(part, int):
            writer.u8(0).u64(part)
        else:
            writer.u8(1).var(part)
    return writer.finish()


def _aad(kind: str, record_id: bytes) -> bytes:
    if not 0 < len(kind.encode("utf-8")) <= MAX_RECORD_KIND:
        raise ValueError(f"a record kind is 1 to {MAX_RECORD_KIND} bytes")
    if len(record_id) > MAX_RECORD_ID:
        raise ValueError(f"a record id is at most {MAX_RECORD_ID} bytes")
    return Writer(Tag.LOCAL_RECORD).text(kind).var(record_id).finish()


def seal_record(
    key: bytes,
    kind: str,
    record_id: bytes,
    plaintext: bytes,
    *,
    random: RandomSource = default_random,
) -> bytes:
    """Seal *plaintext* as the record *kind*/*record_id* of a local store."""
    if len(key) != KEY_SIZE:
        raise ValueError("the local store key is 32 bytes")
    if len(plaintext) > MAX_RECORD_SIZE:
        raise ValueError(f"a local record holds at most {MAX_RECORD_SIZE} bytes")
    nonce = draw(random, AEAD_NONCE_SIZE)
    ciphertext = aead_seal(key, nonce, plaintext, _aad(kind, record_id))
    return Writer(Tag.LOCAL_RECORD).fixed(nonce, AEAD_NONCE_SIZE).var(ciphertext).finish()


def open_record(key: bytes, kind: str, record_id: bytes, sealed: bytes) -> bytes:
    """Open a record sealed by :func:`seal_record` for the same *kind* and *record_id*.

    A record of another store, kind or row, or altered bytes: :class:`DecryptionError`;
    bytes that are not a local record at all: :class:`MalformedError`.
    """
    reader = Reader(sealed, "local record", Tag.LOCAL_RECORD)
    nonce = reader.fixed(AEAD_NONCE_SIZE, "nonce")
    ciphertext = reader.var(MAX_RECORD_SIZE + AEAD_TAG_SIZE, "ciphertext")
    reader.done()
    return aead_open(key, nonce, ciphertext, _aad(kind, record_id))


# --- record contents -------------------------------------------------------------------------


def encode_stored_post(post: OpenedPost) -> bytes:
    """The bytes a client seals to keep a verified post."""
    return (
        Writer(Tag.STORED_POST)
        .var(post.envelope.encode())
        .var(post.body.encode())
        .fixed(post.signature, SIGNATURE_SIZE)
        .finish()
    )


def decode_stored_post(data: bytes) -> OpenedPost:
    """Rebuild a post kept by :func:`encode_stored_post`.

    The signature is **not** verified again: use this only on bytes that came out of
    :func:`open_record` (authenticated by the store key), never on bytes from a relay.
    The envelope and the body must still agree on their shared fields.
    """
    reader = Reader(data, "stored post", Tag.STORED_POST)
    raw_envelope = reader.var(MAX_STORED_ENVELOPE_FIELD, "envelope")
    raw_body = reader.var(MAX_STORED_BODY_FIELD, "body")
    signature = reader.fixed(SIGNATURE_SIZE, "signature")
    reader.done()
    # Its own structure first, then the nested objects in field order (protocol §1.1).
    envelope = PostEnvelope.decode(raw_envelope)
    body = PostBody.decode(raw_body)
    if (body.post_id != envelope.post_id or body.group_id != envelope.group_id
            or body.epoch != envelope.epoch or body.log_seq != envelope.log_seq
            or body.log_head != envelope.log_head
            or body.expires_at_ms != envelope.expires_at_ms):
        raise PostError("stored post: body and envelope disagree")
    return OpenedPost(body, envelope, signature)


@dataclass(frozen=True)
class PostStub:
    """What a client keeps of a post that expired: where it sat in its author's sequence."""

    post_id: bytes
    author: bytes
    author_seq: int


def encode_post_stub(stub: PostStub) -> bytes:
    return (
        Writer(Tag.POST_STUB)
        .fixed(stub.post_id, _POST_ID_SIZE)
        .fixed(stub.author, PUBLIC_KEY_SIZE)
        .u64(stub.author_seq)
        .finish()
    )


def decode_post_stub(data: bytes) -> PostStub:
    reader = Reader(data, "post stub", Tag.POST_STUB)
    stub = PostStub(
        reader.fixed(_POST_ID_SIZE, "post id"),
        reader.fixed(PUBLIC_KEY_SIZE, "author"),
        reader.u64("author sequence number"),
    )
    reader.done()
    return stub


@dataclass(frozen=True, repr=False)
class PendingJoin:
    """A join waiting for approval: the invite it used and the request sent (if any)."""

    invite_uri: str = field(repr=False)
    request: JoinRequest | None = None

    def __repr__(self) -> str:
        return "PendingJoin(<invite hidden>)"


def encode_pending_join(pending: PendingJoin) -> bytes:
    writer = Writer(Tag.PENDING_JOIN).text(pending.invite_uri)
    writer.flag(pending.request is not None)
    if pending.request is not None:
        writer.var(pending.request.encode())
    return writer.finish()


def decode_pending_join(data: bytes) -> PendingJoin:
    reader = Reader(data, "pending join", Tag.PENDING_JOIN)
    uri = reader.text(MAX_URI_LENGTH, "invite")
    raw_request = reader.var(MAX_PENDING_REQUEST_FIELD, "join request") if reader.flag() else None
    reader.done()
    request = None if raw_request is None else JoinRequest.decode(raw_request)
    return PendingJoin(uri, request)


MAX_MUTED_MEMBERS: Final = 1000
"""Members one device may mute in one group (MUTE-1)."""


def encode_muted_members(members: Collection[bytes]) -> bytes:
    """The members (signing keys) a device mutes in one group, in one record's bytes."""
    ordered = sorted(set(members))
    if len(ordered) > MAX_MUTED_MEMBERS:
        raise ValueError(f"at most {MAX_MUTED_MEMBERS} members are muted in one group")
    writer = Writer(Tag.MUTED_MEMBERS).u32(len(ordered))
    for member in ordered:
        writer.fixed(member, PUBLIC_KEY_SIZE)
    return writer.finish()


def decode_muted_members(data: bytes) -> frozenset[bytes]:
    """Read back :func:`encode_muted_members`: MUTE-1 (at most :data:`MAX_MUTED_MEMBERS`),
    MUTE-2 (strictly increasing, so one set has one encoding)."""
    reader = Reader(data, "muted members", Tag.MUTED_MEMBERS)
    count = reader.u32("count")
    if count > MAX_MUTED_MEMBERS:
        raise MalformedError(f"muted members: {count}, at most {MAX_MUTED_MEMBERS}")
    members = [reader.fixed(PUBLIC_KEY_SIZE, "member") for _ in range(count)]
    reader.done()
    if any(a >= b for a, b in pairwise(members)):
        raise MalformedError("muted members: not in increasing order, or repeated")
    return frozenset(members)


MAX_NOTICE_TEXT: Final = 1024
"""Bytes of each text of a DeletedGroup record (a group name, a member's label)."""


@dataclass(frozen=True)
class DeletedGroup:
    """What a device keeps of a group an owner deleted, once its copy is gone: enough to
    tell the person what happened, until they dismiss it."""

    name: str
    """The group's name as this device knew it ("" if it never held the key to read it)."""
    deleted_by: str
    """How this device showed the owner who deleted it."""
    deleted_at_ms: int
    """The DELETE_GROUP entry's timestamp (its author's clock)."""
    unsent_posts: int
    """Posts of this device's that were still waiting to be sent, and now never will be."""
    by_me: bool
    """This device deleted it."""


def encode_deleted_group(notice: DeletedGroup) -> bytes:
    for text in (notice.name, notice.deleted_by):
        if len(text.encode("utf-8")) > MAX_NOTICE_TEXT:
            raise ValueError(f"a deleted group's texts are at most {MAX_NOTICE_TEXT} bytes")
    return (Writer(Tag.DELETED_GROUP).text(notice.name).text(notice.deleted_by)
            .u64(notice.deleted_at_ms).u32(notice.unsent_posts).flag(notice.by_me).finish())


def decode_deleted_group(data: bytes) -> DeletedGroup:
    reader = Reader(data, "deleted group", Tag.DELETED_GROUP)
    notice = DeletedGroup(reader.text(MAX_NOTICE_TEXT, "name"),
                          reader.text(MAX_NOTICE_TEXT, "deleted by"),
                          reader.u64("deleted at"), reader.u32("unsent posts"),
                          reader.flag("by me"))
    reader.done()
    return notice
