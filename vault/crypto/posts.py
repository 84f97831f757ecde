"""Posts: the author's signed body, padded, inside an AEAD envelope under the epoch's post key.

Wire layouts (every object starts with its tag byte and the protocol version byte)::

    PostBody (Tag.POST_BODY)
        author[32] group_id[32] epoch:u64 post_id[16] author_seq:u64 log_seq:u64
        log_head[32] timestamp_ms:u64 kind:u8
        refs: u32 count (<= 64), then count x post_id[16]
        text: text (<= 32 KiB UTF-8)
        content_warning: opt_text (<= 512 bytes)
        attachments: u32 count (<= 16), then count x Attachment (see attachments.py)
        expires_at_ms: opt_u64

    plaintext  = pad(body || Sign(author, "vault/v1/post", body))   (64-byte signature)

    PostEnvelope (Tag.POST_ENVELOPE)
        group_id[32] epoch:u64 post_id[16] log_seq:u64 log_head[32] expires_at_ms:opt_u64
        nonce[24] ciphertext:var      (ciphertext = a padding bucket + 16 bytes)

    ciphertext = XChaCha20-Poly1305-IETF(post_key(epoch_key, group_id, epoch), nonce,
                                         plaintext, aad = every envelope byte before the nonce)

The associated data binds version, group, epoch, post id, the author's view of the log
(``log_seq``, ``log_head``) and the expiry; the body repeats them under the author's
signature and :func:`open_post` checks that both agree.

Before writing, a client calls :func:`check_can_post` on its verified log: it refuses a
stale epoch and the window after a LEAVE in which the leaver still holds the current key.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Final

from vault.crypto import labels
from vault.crypto.encoding import PROTOCOL_VERSION, Reader, Tag
from vault.crypto.epochs import post_key
from vault.crypto.errors import (
    EpochStaleError,
    MalformedError,
    NotAMemberError,
    PostError,
    RotationPendingError,
    TooLargeError,
    UnknownLogHeadError,
    VaultError,
)
from vault.crypto.limits import MAX_BUCKET
from vault.crypto.padding import is_bucket, pad, unpad
from vault.crypto.post_body import (
    POST_ID_SIZE,
    PostBody,
)
from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    SIGNATURE_SIZE,
    RandomSource,
    aead_open,
    aead_seal,
    default_random,
    draw,
    verify,
)

if TYPE_CHECKING:
    from vault.crypto.group_state import GroupState
    from vault.crypto.identity import Identity

__all__ = [
    "OpenedPost",
    "PostEnvelope",
    "check_can_post",
    "open_post",
    "open_posts",
    "seal_post",
]

_ENVELOPE_FIXED = struct.Struct(">BB32sQ16sQ32s")
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_NO_EXPIRY: Final = b"\x00"


@dataclass(frozen=True)
class PostEnvelope:
    """What the relay stores and serves. The clear header is authenticated as AAD."""

    group_id: bytes
    epoch: int
    post_id: bytes
    log_seq: int
    log_head: bytes
    expires_at_ms: int | None
    nonce: bytes
    ciphertext: bytes = field(repr=False)

    def __post_init__(self) -> None:
        if (len(self.group_id) != 32 or len(self.post_id) != POST_ID_SIZE
                or len(self.log_head) != 32 or len(self.nonce) != AEAD_NONCE_SIZE):
            raise ValueError("post envelope: group id and log head are 32 bytes, post id 16, "
                             "nonce 24")

    @cached_property
    def header(self) -> bytes:
        """The associated data: every encoded byte before the nonce."""
        return _envelope_header(self.group_id, self.epoch, self.post_id, self.log_seq,
                                self.log_head, self.expires_at_ms)

    def encode(self) -> bytes:
        return self.header + self.nonce + _U32.pack(len(self.ciphertext)) + self.ciphertext

    @classmethod
    def decode(cls, data: bytes) -> PostEnvelope:
        reader = Reader(data, "post envelope", Tag.POST_ENVELOPE)
        group_id = reader.fixed(32, "group id")
        epoch = reader.u64("epoch")
        post_id = reader.fixed(POST_ID_SIZE, "post id")
        log_seq = reader.u64("log sequence number")
        log_head = reader.fixed(32, "log head")
        expires_at_ms = reader.opt_u64("expiry")
        header = reader.consumed()
        nonce = reader.fixed(AEAD_NONCE_SIZE, "nonce")
        ciphertext = reader.var(MAX_BUCKET + AEAD_TAG_SIZE, "ciphertext")
        reader.done()
        if not is_bucket(len(ciphertext) - AEAD_TAG_SIZE):
            raise MalformedError("post envelope: ciphertext is not one of the padded sizes")
        envelope = cls(group_id, epoch, post_id, log_seq, log_head, expires_at_ms, nonce,
                       ciphertext)
        envelope.__dict__["header"] = header
        return envelope


def _envelope_header(group_id: bytes, epoch: int, post_id: bytes, log_seq: int,
                     log_head: bytes, expires_at_ms: int | None) -> bytes:
    fixed = _ENVELOPE_FIXED.pack(Tag.POST_ENVELOPE, PROTOCOL_VERSION, group_id, epoch, post_id,
                                 log_seq, log_head)
    if expires_at_ms is None:
        return fixed + _NO_EXPIRY
    return fixed + b"\x01" + _U64.pack(expires_at_ms)


@dataclass(frozen=True)
class OpenedPost:
    """A decrypted post whose every check passed."""

    body: PostBody
    envelope: PostEnvelope
    signature: bytes = field(repr=False)

    @property
    def post_id(self) -> bytes:
        return self.body.post_id

    @property
    def author(self) -> bytes:
        return self.body.author


def check_can_post(state: GroupState, epoch: int, *, author: bytes | None = None) -> None:
    """Refuse to write a post in *epoch* on top of the verified membership log *state*.

    Raises, in this order: :class:`NotAMemberError` when *author* (a signing key, if
    given) is not a current member; :class:`EpochStaleError` when *epoch* is not
    ``state.epoch`` (members removed since an older epoch still hold its key; a newer one
    is not in this log yet); :class:`RotationPendingError` when a member left and no
    admin has rotated yet (the leaver still holds the current key). The same check
    applies before sealing metadata. :func:`seal_post` does not call it: the caller
    decides when its log is fresh enough.
    """
    if author is not None and not state.is_member(author):
        raise NotAMemberError("this identity is not a member of the group any more")
    if epoch != state.epoch:
        raise EpochStaleError(
            f"this post would be encrypted for epoch {epoch}, but the membership log's "
            f"current epoch is {state.epoch}: sync the log and the epoch keys, then retry"
        )
    if state.rotation_pending:
        raise RotationPendingError(
            "a member left and no admin has started a new epoch yet; the member who left "
            "still holds the current key, so posting waits until an admin rotates"
        )


def seal_post(
    author: Identity, epoch_key: bytes, body: PostBody, *, random: RandomSource = default_random
) -> PostEnvelope:
    """Sign *body* as *author*, pad it and encrypt it under the epoch's post key."""
    if body.author != author.sign_pk:
        raise PostError("post body names another author than the identity sealing it")
    signed = body.encode()
    plaintext = pad(signed + author.sign(labels.POST_SIGNATURE, signed))
    nonce = draw(random, AEAD_NONCE_SIZE)
    group_id, epoch = body.group_id, body.epoch
    header = _envelope_header(group_id, epoch, body.post_id, body.log_seq, body.log_head,
                              body.expires_at_ms)
    ciphertext = aead_seal(post_key(epoch_key, group_id, epoch), nonce, plaintext, header)
    envelope = PostEnvelope(group_id, epoch, body.post_id, body.log_seq, body.log_head,
                            body.expires_at_ms, nonce, ciphertext)
    envelope.__dict__["header"] = header
    return envelope


def open_post(envelope: PostEnvelope, epoch_key: bytes, state: GroupState) -> OpenedPost:
    """Decrypt and check one post against the verified membership log *state*.

    Errors: another group -> PostError; cannot decrypt/unpad -> DecryptionError; body
    disagrees with envelope or log epoch -> PostError; unknown log head ->
    UnknownLogHeadError; author not a member at ``log_seq`` -> NotAMemberError; bad
    signature -> SignatureError.
    """
    if envelope.group_id != state.group_id:
        raise PostError("post belongs to another group")
    key = post_key(epoch_key, envelope.group_id, envelope.epoch)
    plaintext = unpad(aead_open(key, envelope.nonce, envelope.ciphertext, envelope.header))
    signed = plaintext[:-SIGNATURE_SIZE]
    signature = plaintext[-SIGNATURE_SIZE:]
    try:
        body = PostBody.decode(signed)
    except (MalformedError, TooLargeError, ValueError) as exc:
        raise PostError(f"decrypted post body is malformed ({exc})") from None
    if body.post_id != envelope.post_id:
        raise PostError("post body and envelope name different post ids")
    if body.group_id != envelope.group_id:
        raise PostError("post body and envelope name different groups")
    if body.epoch != envelope.epoch:
        raise PostError("post body and envelope name different epochs")
    if body.log_seq != envelope.log_seq or body.log_head != envelope.log_head:
        raise PostError("post body and envelope name different log positions")
    if body.expires_at_ms != envelope.expires_at_ms:
        raise PostError("post body and envelope name different expiry times")
    known_head = state.hash_at(body.log_seq)
    if known_head is None:
        raise UnknownLogHeadError(
            f"post was written at log entry {body.log_seq}, which this device has not seen "
            "(sync the membership log and retry)"
        )
    if known_head != body.log_head:
        raise UnknownLogHeadError(
            f"post names a different log entry {body.log_seq} than this device has: the "
            "author was shown another membership log (possible fork)"
        )
    if body.epoch != state.epoch_at(body.log_seq):
        raise PostError("post was encrypted for another epoch than the log had at its position")
    if not state.was_member_at(body.author, body.log_seq):
        raise NotAMemberError("post author was not a member of the group when it was written")
    verify(body.author, labels.POST_SIGNATURE, signed, signature, "post")
    return OpenedPost(body, envelope, signature)


OPEN_BATCH: Final = 32
"""Posts opened per task when :func:`open_posts` is handed a *map_batches*."""

Opened = OpenedPost | VaultError
"""What opening one post gave: the post, or the error :func:`open_post` raised."""

MapOpenBatches = Callable[
    [Callable[[Sequence[tuple[PostEnvelope, bytes]]], list[Opened]],
     Sequence[Sequence[tuple[PostEnvelope, bytes]]]],
    Iterable[list[Opened]],
]
"""``map(fn, batches)`` that yields each batch's result in the batches' order (such as
``ThreadPoolExecutor.map``)."""


def open_posts(items: Sequence[tuple[PostEnvelope, bytes]], state: GroupState, *,
               map_batches: MapOpenBatches | None = None) -> list[Opened]:
    """:func:`open_post` over many ``(envelope, epoch key)`` pairs against one *state*:
    one result per item, in the items' order, each the opened post or the
    :class:`VaultError` that opening it raised (any other exception is raised here).

    *map_batches* (optional) spreads the work: the items are cut into batches of
    :data:`OPEN_BATCH`, opened by ``map_batches(open, batches)`` (libsodium releases the
    GIL while it decrypts and verifies, so a thread pool's ``map`` opens on every core).
    Each post is opened exactly as :func:`open_post` opens it, either way.
    """
    def open_batch(batch: Sequence[tuple[PostEnvelope, bytes]]) -> list[Opened]:
        out: list[Opened] = []
        for envelope, epoch_key in batch:
            try:
                out.append(open_post(envelope, epoch_key, state))
            except VaultError as error:
                out.append(error)
        return out

    if map_batches is None or len(items) <= OPEN_BATCH:
        return open_batch(items)
    batches = [items[i:i + OPEN_BATCH] for i in range(0, len(items), OPEN_BATCH)]
    results: list[Opened] = []
    for opened in map_batches(open_batch, batches):
        results.extend(opened)
    if len(results) != len(items) or any(
            isinstance(result, OpenedPost) and result.envelope is not envelope
            for (envelope, _), result in zip(items, results, strict=True)):
        # A map that lost, added or reordered a batch: never a post paired with another's.
        raise RuntimeError("open_posts: the batches did not come back in order")
    return results
