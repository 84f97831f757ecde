"""The moderators' inbox (protocol §8.8): a member reports a post or asks the moderators for
support; moderators reply privately and record how they resolved it. Each item is sealed to
the group's moderators and admins at the log position it names (and the member it concerns),
never to the group, and never to the member a report is about.

Wire layouts (each starts with its tag and the protocol version)::

    InboxMessage (Tag.INBOX_MESSAGE, signed by its sender)
        group_id[32] item_id[16] sender[32] log_seq:u64 log_head[32] timestamp_ms:u64 kind:u8
        thread:opt_fixed[16]  post:opt_fixed[16]  subject:opt_fixed[32]  to:opt_fixed[32]
        outcome:u8  text:text(<=4096)  recipients_digest[32]

    InboxEnvelope (Tag.INBOX_ENVELOPE)
        group_id[32] item_id[16] log_seq:u64
        recipients: u32 count (1..256), count x (sign_pk[32] sealed_key[80]), ascending sign_pk
        nonce[24] ciphertext:var
        sealed_key = crypto_box_seal(content_key, recipient's box_pk)
        ciphertext = XChaCha20-Poly1305(content_key, nonce, pad(message || signature),
                                        aad = the envelope up to and including the nonce)

The recipients are a function of the verified log (INBOX-8): the members who were MODERATOR
or above at ``log_seq``, the sender, and for a REPLY the member it is ``to`` -- less the
``subject`` (the member a report is about), who reads nothing of it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import IntEnum
from itertools import pairwise
from typing import TYPE_CHECKING, Final

import nacl.bindings
import nacl.exceptions

from vault.crypto import labels
from vault.crypto.encoding import Reader, Tag, Writer
from vault.crypto.errors import (
    DecryptionError,
    InboxError,
    InboxNotForYouError,
    MalformedError,
    NotAMemberError,
    SignatureError,
    TooLargeError,
)
from vault.crypto.log_entries import Role
from vault.crypto.padding import pad, unpad
from vault.crypto.primitives import (
    AEAD_NONCE_SIZE,
    AEAD_TAG_SIZE,
    HASH_SIZE,
    PUBLIC_KEY_SIZE,
    SEALED_BOX_OVERHEAD,
    SIGNATURE_SIZE,
    RandomSource,
    aead_open,
    aead_seal,
    default_clock,
    default_random,
    draw,
    labelled_hash,
    sign,
    verify,
)

if TYPE_CHECKING:
    from vault.crypto.group_state import GroupState
    from vault.crypto.identity import Identity, PublicIdentity

ITEM_ID_SIZE: Final = 16
CONTENT_KEY_SIZE: Final = 32
SEALED_KEY_SIZE: Final = CONTENT_KEY_SIZE + SEALED_BOX_OVERHEAD
MAX_INBOX_TEXT: Final = 4096
"""Longest text of an inbox item (a reason, a request, a reply, a note), in UTF-8 bytes."""
MAX_INBOX_RECIPIENTS: Final = 256
MAX_INBOX_CIPHERTEXT: Final = 8192 + AEAD_TAG_SIZE
"""The padded message (at most 4,096 bytes of text and the fields around it: the 8 KiB
bucket) with its tag."""
MAX_INBOX_ENVELOPE_SIZE: Final = (2 + 32 + ITEM_ID_SIZE + 8 + 4
                                  + MAX_INBOX_RECIPIENTS * (PUBLIC_KEY_SIZE + SEALED_KEY_SIZE)
                                  + AEAD_NONCE_SIZE + 4 + MAX_INBOX_CIPHERTEXT)

_box_seal = nacl.bindings.crypto_box_seal
_box_seal_open = nacl.bindings.crypto_box_seal_open


class InboxKind(IntEnum):
    REPORT = 1
    """A member reports a post (``post``) by ``subject``, with a reason."""
    SUPPORT = 2
    """A member asks the moderators for support (or writes again in a thread: ``thread``)."""
    REPLY = 3
    """A moderator answers privately, ``to`` the member of a thread."""
    RESOLUTION = 4
    """A moderator records how a thread was resolved (``outcome``), for the moderators."""


class Outcome(IntEnum):
    NONE = 0
    DISMISSED = 1
    POST_DELETED = 2
    MEMBER_REMOVED = 3
    ANSWERED = 4


_MODERATORS_WRITE: Final = frozenset({InboxKind.REPLY, InboxKind.RESOLUTION})


@dataclass(frozen=True)
class InboxMessage:
    """What a sender writes and signs. Construction enforces the kind's rules (INBOX-5)."""

    group_id: bytes
    item_id: bytes
    sender: bytes
    log_seq: int
    log_head: bytes
    timestamp_ms: int
    kind: InboxKind
    thread: bytes | None = None
    """The item that began the thread (absent on a REPORT and on a new SUPPORT)."""
    post: bytes | None = None
    """A REPORT's reported post."""
    subject: bytes | None = None
    """The member a report is about (the thread's, on every later item): never a recipient."""
    to: bytes | None = None
    """A REPLY's member."""
    outcome: Outcome = Outcome.NONE
    text: str = field(default="", repr=False)
    recipients_digest: bytes = bytes(HASH_SIZE)

    def __post_init__(self) -> None:
        if (len(self.group_id) != 32 or len(self.item_id) != ITEM_ID_SIZE
                or len(self.sender) != 32 or len(self.log_head) != 32
                or len(self.recipients_digest) != HASH_SIZE):
            raise ValueError("inbox message: a field has the wrong size")
        for value, size in ((self.thread, ITEM_ID_SIZE), (self.post, 16),
                            (self.subject, 32), (self.to, 32)):
            if value is not None and len(value) != size:
                raise ValueError("inbox message: a field has the wrong size")
        kind = InboxKind(self.kind)
        outcome = Outcome(self.outcome)
        object.__setattr__(self, "kind", kind)
        object.__setattr__(self, "outcome", outcome)
        try:
            size = len(self.text.encode("utf-8"))
        except UnicodeEncodeError:
            raise InboxError("inbox message: the text is not valid Unicode") from None
        if size > MAX_INBOX_TEXT:
            raise TooLargeError(f"a message to the moderators is at most {MAX_INBOX_TEXT} "
                                "bytes")
        problem = _kind_problem(self, kind, outcome)
        if problem is not None:
            raise InboxError(f"inbox message: {problem}")

    def encode(self) -> bytes:
        return (Writer(Tag.INBOX_MESSAGE).fixed(self.group_id, 32)
                .fixed(self.item_id, ITEM_ID_SIZE).fixed(self.sender, 32).u64(self.log_seq)
                .fixed(self.log_head, 32).u64(self.timestamp_ms).u8(self.kind)
                .opt_fixed(self.thread, ITEM_ID_SIZE).opt_fixed(self.post, 16)
                .opt_fixed(self.subject, 32).opt_fixed(self.to, 32).u8(self.outcome)
                .text(self.text).fixed(self.recipients_digest, HASH_SIZE).finish())

    @classmethod
    def decode(cls, data: bytes) -> InboxMessage:
        reader = Reader(data, "inbox message", Tag.INBOX_MESSAGE)
        fields = (reader.fixed(32, "group id"), reader.fixed(ITEM_ID_SIZE, "item id"),
                  reader.fixed(32, "sender"), reader.u64("log seq"), reader.fixed(32, "log head"),
                  reader.u64("timestamp"))
        kind_value = reader.u8("kind")
        thread = reader.opt_fixed(ITEM_ID_SIZE, "thread")
        post = reader.opt_fixed(16, "post")
        subject = reader.opt_fixed(32, "subject")
        to = reader.opt_fixed(32, "to")
        outcome_value = reader.u8("outcome")
        text = reader.text(MAX_INBOX_TEXT, "text")
        digest = reader.fixed(HASH_SIZE, "recipients digest")
        reader.done()
        if kind_value not in tuple(InboxKind) or outcome_value not in tuple(Outcome):
            raise MalformedError("inbox message: unknown kind or outcome (update Vault)")
        return cls(*fields, InboxKind(kind_value), thread, post, subject, to,
                   Outcome(outcome_value), text, digest)


def _kind_problem(m: InboxMessage, kind: InboxKind, outcome: Outcome) -> str | None:
    """INBOX-5: which fields each kind carries."""
    if kind is InboxKind.REPORT:
        if m.thread is not None or m.post is None or m.subject is None or m.to is not None:
            return "a report names a post and its author, and begins a thread"
        if m.subject == m.sender:
            return "a member cannot report their own post"
    elif kind is InboxKind.SUPPORT:
        if m.post is not None or m.to is not None:
            return "a request for support names no post and no addressee"
        if m.thread is None and m.subject is not None:
            return "a new request for support is about nobody (only a report names a member)"
    elif kind is InboxKind.REPLY:
        if m.thread is None or m.to is None or m.post is not None:
            return "a reply answers a thread, to one member"
        if m.to == m.subject:
            return "a reply cannot go to the member a report is about"
    elif m.thread is None or m.to is not None or m.post is not None:
        return "a resolution closes a thread"
    if (kind is InboxKind.RESOLUTION) != (outcome is not Outcome.NONE):
        return "only a resolution has an outcome, and it has one"
    if kind is not InboxKind.RESOLUTION and not m.text.strip():
        return "the text is empty"
    if m.subject is not None and m.sender == m.subject:
        return "the member a report is about cannot write in its thread"
    return None


@dataclass(frozen=True)
class InboxEnvelope:
    group_id: bytes
    item_id: bytes
    log_seq: int
    recipients: tuple[tuple[bytes, bytes], ...]
    """``(sign_pk, sealed content key)``, in ascending order of ``sign_pk``."""
    nonce: bytes
    ciphertext: bytes

    def __post_init__(self) -> None:
        keys = [pk for pk, _ in self.recipients]
        if not 1 <= len(keys) <= MAX_INBOX_RECIPIENTS:
            raise TooLargeError(f"an inbox item goes to 1 to {MAX_INBOX_RECIPIENTS} people")
        if any(len(pk) != 32 or len(s) != SEALED_KEY_SIZE for pk, s in self.recipients) \
                or any(a >= b for a, b in pairwise(keys)):
            raise MalformedError("inbox envelope: recipients are distinct 32-byte keys in "
                                 "ascending order, each with an 80-byte sealed key")

    @property
    def recipient_keys(self) -> tuple[bytes, ...]:
        return tuple(pk for pk, _ in self.recipients)

    def header(self) -> bytes:
        """The associated data: every byte of the envelope before the ciphertext."""
        writer = (Writer(Tag.INBOX_ENVELOPE).fixed(self.group_id, 32)
                  .fixed(self.item_id, ITEM_ID_SIZE).u64(self.log_seq).u32(len(self.recipients)))
        for pk, sealed in self.recipients:
            writer.fixed(pk, 32).fixed(sealed, SEALED_KEY_SIZE)
        return writer.fixed(self.nonce, AEAD_NONCE_SIZE).finish()

    def encode(self) -> bytes:
        return self.header() + Writer().var(self.ciphertext).finish()

    @classmethod
    def decode(cls, data: bytes) -> InboxEnvelope:
        """INBOX-1: the structure."""
        if len(data) > MAX_INBOX_ENVELOPE_SIZE:
            raise TooLargeError(f"an inbox item is at most {MAX_INBOX_ENVELOPE_SIZE} bytes")
        reader = Reader(data, "inbox envelope", Tag.INBOX_ENVELOPE)
        group_id = reader.fixed(32, "group id")
        item_id = reader.fixed(ITEM_ID_SIZE, "item id")
        log_seq = reader.u64("log seq")
        count = reader.u32("recipient count")
        if not 1 <= count <= MAX_INBOX_RECIPIENTS:
            raise MalformedError(f"inbox envelope: {count} recipients; 1 to "
                                 f"{MAX_INBOX_RECIPIENTS}")
        recipients = tuple((reader.fixed(32, "recipient"), reader.fixed(SEALED_KEY_SIZE,
                                                                        "sealed key"))
                           for _ in range(count))
        nonce = reader.fixed(AEAD_NONCE_SIZE, "nonce")
        ciphertext = reader.var(MAX_INBOX_CIPHERTEXT, "ciphertext")
        reader.done()
        return cls(group_id, item_id, log_seq, recipients, nonce, ciphertext)


@dataclass(frozen=True)
class OpenedItem:
    envelope: InboxEnvelope
    message: InboxMessage
    signature: bytes


def recipients_digest(recipients: Sequence[bytes]) -> bytes:
    """H("vault/v1/inbox-recipients", the recipients' sign_pk in ascending order)."""
    return labelled_hash(labels.INBOX_RECIPIENTS, b"".join(sorted(recipients)))


def moderators_at(state: GroupState, seq: int) -> list[bytes]:
    """Who was MODERATOR or above in the state after entry *seq* (current and former
    members alike), in ascending order of key."""
    keys = [*state.members.keys(), *state.former_members.keys()]
    return sorted(pk for pk in keys
                  if (role := state.role_at(pk, seq)) is not None and role >= Role.MODERATOR)


def recipients_for(state: GroupState, seq: int, sender: bytes, to: bytes | None,
                   subject: bytes | None) -> tuple[bytes, ...]:
    """INBOX-8: the moderators and admins at *seq*, the sender and *to*, less *subject*."""
    chosen = set(moderators_at(state, seq)) | {sender}
    if to is not None:
        chosen.add(to)
    if subject is not None:
        chosen.discard(subject)
    return tuple(sorted(chosen))


def seal_item(sender: Identity, state: GroupState, kind: InboxKind, text: str, *,
              thread: bytes | None = None, post: bytes | None = None,
              subject: bytes | None = None, to: bytes | None = None,
              outcome: Outcome = Outcome.NONE, random: RandomSource = default_random,
              now_ms: int | None = None) -> InboxEnvelope:
    """Write, sign and seal an item at the head of *state* (which the caller has just
    synced and verified), to the recipients INBOX-8 names there."""
    me = sender.sign_pk
    role = state.role_of(me)
    if role is None:
        raise NotAMemberError("only members write to the moderators")
    if kind in _MODERATORS_WRITE and role < Role.MODERATOR:
        raise InboxError("only moderators and admins reply to members and resolve reports")
    recipients = recipients_for(state, state.seq, me, to, subject)
    if len(recipients) > MAX_INBOX_RECIPIENTS:
        raise TooLargeError(f"an inbox item goes to at most {MAX_INBOX_RECIPIENTS} people")
    identities = []
    for pk in recipients:
        record = state.member_record(pk)
        if record is None or not state.is_member(pk):
            raise InboxError("a message to the moderators goes to current members only")
        identities.append(record.identity)
    message = InboxMessage(state.group_id, draw(random, ITEM_ID_SIZE), me, state.seq,
                           state.head, default_clock() if now_ms is None else now_ms, kind,
                           thread, post, subject, to, outcome, text,
                           recipients_digest(recipients))
    return seal_to(sender, message, identities, random=random)


def seal_to(sender: Identity, message: InboxMessage, recipients: Sequence[PublicIdentity], *,
            random: RandomSource = default_random) -> InboxEnvelope:
    """Sign *message* and seal it to *recipients* as they are given (the digest in the message
    is the caller's): :func:`seal_item` calls it with the recipients INBOX-8 names; tests and
    vectors, with others."""
    signed = message.encode()
    signature = sign(sender.sign_sk, labels.INBOX_MESSAGE, signed)
    content_key = draw(random, CONTENT_KEY_SIZE)
    ordered = sorted(recipients, key=lambda identity: identity.sign_pk)
    sealed = tuple((identity.sign_pk, _box_seal(content_key, identity.box_pk))
                   for identity in ordered)
    shell = InboxEnvelope(message.group_id, message.item_id, message.log_seq, sealed,
                          draw(random, AEAD_NONCE_SIZE), b"")
    ciphertext = aead_seal(content_key, shell.nonce, pad(signed + signature), shell.header())
    return InboxEnvelope(shell.group_id, shell.item_id, shell.log_seq, shell.recipients,
                         shell.nonce, ciphertext)


def open_item(envelope: InboxEnvelope, me: Identity, state: GroupState) -> OpenedItem:
    """Open an item sealed to *me* and check it against the verified *state* (INBOX-2 to
    INBOX-8, in order). Everything after INBOX-2 is one :class:`InboxError`."""
    sealed = dict(envelope.recipients).get(me.sign_pk)
    if sealed is None:  # INBOX-2
        raise InboxNotForYouError("this item of the moderators' inbox is not addressed to you")
    try:  # INBOX-3
        content_key = _box_seal_open(sealed, me.public.box_pk, me.box_sk)
        plain = unpad(aead_open(content_key, envelope.nonce, envelope.ciphertext,
                                envelope.header()))
    except (nacl.exceptions.CryptoError, DecryptionError, ValueError):
        raise InboxError("an item of the moderators' inbox could not be decrypted") from None
    if len(plain) <= SIGNATURE_SIZE:
        raise InboxError("an item of the moderators' inbox is damaged")
    signed, signature = plain[:-SIGNATURE_SIZE], plain[-SIGNATURE_SIZE:]
    try:  # INBOX-4 (and INBOX-5, the kind's fields, on construction)
        message = InboxMessage.decode(signed)
    except (MalformedError, InboxError, TooLargeError, ValueError) as error:
        raise InboxError(f"an item of the moderators' inbox is invalid: {error}") from None
    if (message.group_id, message.item_id, message.log_seq) != (
            envelope.group_id, envelope.item_id, envelope.log_seq):
        raise InboxError("an item of the moderators' inbox was moved from where it was sealed")
    if message.recipients_digest != recipients_digest(envelope.recipient_keys):
        raise InboxError("an item of the moderators' inbox lists other recipients than its "
                         "sender sealed it to")
    if state.hash_at(message.log_seq) != message.log_head:  # INBOX-6
        raise InboxError("an item of the moderators' inbox names a membership log this "
                         "device does not have (sync, or it was written on another version "
                         "of the group)")
    role = state.role_at(message.sender, message.log_seq)  # INBOX-7
    if role is None:
        raise InboxError("an item of the moderators' inbox is from someone who was not a "
                         "member")
    try:
        verify(message.sender, labels.INBOX_MESSAGE, signed, signature, "inbox item")
    except SignatureError:
        raise InboxError("an item of the moderators' inbox has a bad signature") from None
    if message.kind in _MODERATORS_WRITE and role < Role.MODERATOR:
        raise InboxError("a reply or resolution from someone who was not a moderator")
    expected = recipients_for(state, message.log_seq, message.sender, message.to,
                              message.subject)
    if envelope.recipient_keys != expected:  # INBOX-8
        raise InboxError("an item of the moderators' inbox was not sealed to exactly the "
                         "moderators and admins of its time (and the member it concerns)")
    return OpenedItem(envelope, message, signature)
