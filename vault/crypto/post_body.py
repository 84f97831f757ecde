"""The post body: what an author writes and signs (see :mod:`vault.crypto.posts`).

Wire layout (``Tag.POST_BODY``, after the tag and version bytes)::

    author[32] group_id[32] epoch:u64 post_id[16] author_seq:u64 log_seq:u64
    log_head[32] timestamp_ms:u64 kind:u8
    refs: u32 count (<= 64), then count x post_id[16]
    text: text (<= 32 KiB UTF-8)
    content_warning: opt_text (<= 512 bytes)
    attachments: u32 count (<= 16), then count x Attachment (see attachments.py)
    expires_at_ms: opt_u64
    then, for a POLL only: options: u32 count (2..10), then count x text (<= 100 bytes);
                           closes_at_ms: opt_u64
    and for a VOTE only:   choice: u8 (the option's index in the poll, 0-based)
    and last, for a POST, POLL or REPLY only: nothing (the group's main channel) or
                           channel[16] (see :mod:`vault.crypto.channels`; PB-3)

Versions (protocol §6.1, PB-1 and PB-2). The version byte says how attachments are laid
out, so a body is read one way only:

* version 1: attachments without a ``file_name`` field (decoded with ``file_name`` ``""``).
  Every body written before attachments had names is version 1, and a body is still
  written as version 1 whenever none of its attachments has a name -- so a body without
  attachments is byte-identical to what every earlier build wrote;
* version 2: every attachment carries ``file_name``. Written exactly when at least one
  attachment has a non-empty name; a version-2 body without such an attachment (none at
  all, or only unnamed ones) is malformed, so each body has one encoding and
  ``PostBody.decode(b).encode() == b`` also holds field by field (a body rebuilt from a
  decoded one's fields, e.g. sealed again for a newer epoch, gets the same bytes);
* any other version is malformed (a later protocol: update Vault).

The version is therefore a function of the fields (:attr:`PostBody.version`), not state
kept beside them.

Rules (checked on construction, so also on every decode):

* ``author_seq`` starts at 1; references are distinct 16-byte post ids, never the post's
  own, at most 64;
* REPLY, REACTION, EDIT, DELETE, VOTE and PIN name their target as the first reference (a
  POST or POLL may carry causal references);
* a REACTION is 1 to 64 bytes of text without attachments; a DELETE or a PIN carries no
  text, warning or attachments;
* text <= 32 KiB, content warning <= 512 bytes, <= 16 attachments;
* an expiry, when present, is later than ``timestamp_ms``;
* only a POST, POLL or REPLY names a channel (a reply, its target's: TV-7; PB-3);
* a POLL asks a question (non-empty text) with 2 to 10 distinct options of 1 to 100 bytes,
  carries no attachments and closes, when it says so, after it was written; a VOTE names the
  poll as its target and an option index below 10, with no text, warning or attachments.
  Other kinds carry no poll fields.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field
from enum import IntEnum
from functools import cached_property
from typing import Final, TypeAlias

from vault.crypto.attachments import Attachment
from vault.crypto.channels import check_channel_id
from vault.crypto.encoding import U64_MAX, Reader, Tag, Writer
from vault.crypto.errors import MalformedError, PostError, TooLargeError
from vault.crypto.limits import (
    MAX_ATTACHMENTS,
    MAX_CONTENT_WARNING,
    MAX_POLL_OPTION,
    MAX_POLL_OPTIONS,
    MAX_REACTION,
    MAX_REFS,
    MAX_TEXT,
)

POST_ID_SIZE: Final = 16
BODY_VERSION_UNNAMED: Final = 1
"""PostBody version 1: attachments carry no file name field (PB-1)."""
BODY_VERSION_NAMED: Final = 2
"""PostBody version 2: every attachment carries a file name field (PB-1); written exactly when
some attachment has a non-empty name (PB-2)."""
BODY_VERSIONS: Final = (BODY_VERSION_UNNAMED, BODY_VERSION_NAMED)

_BODY_FIXED = struct.Struct(">BB32s32sQ16sQQ32sQB")
_BODY_FIXED_AFTER_HEADER: Final = _BODY_FIXED.size - 2
_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")
_NO_EXPIRY: Final = b"\x00"
_NO_ATTACHMENTS: Final = b"\x00\x00\x00\x00"
_NO_WARNING_NO_ATTACHMENTS: Final = b"\x00" + _NO_ATTACHMENTS


class PostKind(IntEnum):
    POST = 1
    REPLY = 2
    REACTION = 3
    EDIT = 4
    DELETE = 5
    POLL = 6
    VOTE = 7
    PIN = 8


_NEEDS_TARGET: Final = frozenset({PostKind.REPLY, PostKind.REACTION, PostKind.EDIT,
                                  PostKind.DELETE, PostKind.VOTE, PostKind.PIN})
_IN_CHANNELS: Final = frozenset({PostKind.POST, PostKind.POLL, PostKind.REPLY})
"""Kinds that may name a channel, as the body's last field (PB-3)."""
_WITH_TAIL: Final = frozenset({PostKind.POLL, PostKind.VOTE})
"""Kinds whose body carries fields after the expiry (the fast decode path leaves them)."""


def _utf8_len(text: str, cheap_limit: int) -> int:
    """Byte length of *text*, or a lower bound when it obviously fits (<= cheap_limit)."""
    if len(text) * 4 <= cheap_limit:
        return len(text)  # encodability is checked when the body is encoded
    return len(_utf8(text))


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise PostError("post text is not valid Unicode (an unpaired surrogate)") from None


@dataclass(frozen=True)
class PostBody:
    """What an author writes and signs. Construction enforces every rule of the kind."""

    author: bytes
    group_id: bytes
    epoch: int
    post_id: bytes
    author_seq: int
    log_seq: int
    log_head: bytes
    timestamp_ms: int
    kind: PostKind
    refs: tuple[bytes, ...] = ()
    text: str = field(default="", repr=False)  # never in logs: this is what members wrote
    content_warning: str | None = field(default=None, repr=False)
    attachments: tuple[Attachment, ...] = ()
    expires_at_ms: int | None = None
    poll_options: tuple[str, ...] = field(default=(), repr=False)
    """A POLL's options, in the order members see them (empty for every other kind)."""
    poll_closes_at_ms: int | None = None
    """When a POLL stops counting votes (votes written at or after it are not counted)."""
    vote_choice: int | None = None
    """A VOTE's option: an index into its poll's options."""
    channel: bytes | None = None
    """A POST's, POLL's or REPLY's channel id (:mod:`vault.crypto.channels`; a reply names
    its target's); None: the group's main channel."""

    def __post_init__(self) -> None:
        if (len(self.author) != 32 or len(self.group_id) != 32
                or len(self.post_id) != POST_ID_SIZE or len(self.log_head) != 32):
            raise ValueError("post body: author, group id and log head are 32 bytes, "
                             "post id 16 bytes")
        if not (0 <= self.epoch <= U64_MAX and 0 <= self.author_seq <= U64_MAX
                and 0 <= self.log_seq <= U64_MAX and 0 <= self.timestamp_ms <= U64_MAX):
            raise ValueError("post body: integer field out of range")
        kind = self.kind
        if type(kind) is not PostKind:
            try:
                object.__setattr__(self, "kind", kind := PostKind(kind))
            except ValueError:
                raise PostError(f"post body: unknown kind {kind}") from None
        if self.author_seq < 1:
            raise PostError("post body: author sequence numbers start at 1")
        refs = self.refs
        if refs:
            if len(refs) > MAX_REFS:
                raise TooLargeError(f"a post refers to at most {MAX_REFS} other posts")
            if any(len(ref) != POST_ID_SIZE for ref in refs):
                raise ValueError("post body: references are 16-byte post ids")
            if len(set(refs)) != len(refs):
                raise PostError("post body: a reference is listed twice")
            if self.post_id in refs:
                raise PostError("post body: a post cannot refer to itself")
        elif kind in _NEEDS_TARGET:
            raise PostError(f"post body: a {kind.name.lower()} must refer to its target post")
        text_len = _utf8_len(self.text, MAX_TEXT)
        if text_len > MAX_TEXT:
            raise TooLargeError(f"post text is {text_len} bytes; at most {MAX_TEXT} bytes")
        cw = self.content_warning
        if cw is not None and _utf8_len(cw, MAX_CONTENT_WARNING) > MAX_CONTENT_WARNING:
            raise TooLargeError(f"a content warning is at most {MAX_CONTENT_WARNING} bytes")
        if len(self.attachments) > MAX_ATTACHMENTS:
            raise TooLargeError(f"a post carries at most {MAX_ATTACHMENTS} attachments")
        if kind is PostKind.REACTION:
            if not 0 < len(_utf8(self.text)) <= MAX_REACTION:
                raise PostError(f"post body: a reaction is 1 to {MAX_REACTION} bytes of text")
            if self.attachments:
                raise PostError("post body: a reaction carries no attachments")
        elif kind is PostKind.DELETE and (self.text or self.attachments or cw is not None):
            raise PostError("post body: a delete carries no text, warning or attachments")
        elif kind is PostKind.PIN and (self.text or self.attachments or cw is not None):
            raise PostError("post body: a pin carries no text, warning or attachments")
        expiry = self.expires_at_ms
        if expiry is not None:
            if not 0 <= expiry <= U64_MAX:
                raise ValueError("post body: expiry out of range")
            if expiry <= self.timestamp_ms:
                raise PostError("post body: a post cannot expire before it was written")
        self._check_poll_fields(kind)
        if self.channel is not None:
            if kind not in _IN_CHANNELS:
                raise PostError(f"post body: a {kind.name.lower()} names no channel (it is in "
                                "its target's)")
            try:
                check_channel_id(self.channel, "post body")
            except MalformedError as error:
                raise ValueError(str(error)) from None

    def _check_poll_fields(self, kind: PostKind) -> None:
        """POST-7 (a poll) and POST-8 (a vote); other kinds carry no poll fields."""
        options, closes, choice = self.poll_options, self.poll_closes_at_ms, self.vote_choice
        if kind is PostKind.POLL:
            if not 2 <= len(options) <= MAX_POLL_OPTIONS:
                raise PostError(f"post body: a poll offers 2 to {MAX_POLL_OPTIONS} options")
            if not all(0 < len(_utf8(o)) <= MAX_POLL_OPTION for o in options):
                raise PostError(f"post body: a poll option is 1 to {MAX_POLL_OPTION} bytes")
            if len(set(options)) != len(options):
                raise PostError("post body: a poll lists an option twice")
            if not self.text:
                raise PostError("post body: a poll asks a question (its text)")
            if self.attachments:
                raise PostError("post body: a poll carries no attachments")
            if closes is not None:
                if not 0 <= closes <= U64_MAX:
                    raise ValueError("post body: closing time out of range")
                if closes <= self.timestamp_ms:
                    raise PostError("post body: a poll cannot close before it was asked")
            if choice is not None:
                raise PostError("post body: only a vote carries a choice")
        elif kind is PostKind.VOTE:
            if self.text or self.attachments or self.content_warning is not None:
                raise PostError("post body: a vote carries no text, warning or attachments")
            if choice is None or not 0 <= choice < MAX_POLL_OPTIONS:
                raise PostError(f"post body: a vote chooses option 0 to "
                                f"{MAX_POLL_OPTIONS - 1}")
            if options or closes is not None:
                raise PostError("post body: only a poll carries options and a closing time")
        elif options or closes is not None or choice is not None:
            raise PostError(f"post body: a {kind.name.lower()} carries no poll or vote")

    @property
    def version(self) -> int:
        """The body's version byte (PB-1, PB-2): 2 when an attachment has a file name, else 1."""
        return (BODY_VERSION_NAMED if any(a.file_name for a in self.attachments)
                else BODY_VERSION_UNNAMED)

    @property
    def target(self) -> bytes | None:
        """The post a reply, reaction, edit or delete is about (its first reference)."""
        return self.refs[0] if self.kind in _NEEDS_TARGET else None

    def encode(self) -> bytes:
        """The exact bytes the author signs (kept verbatim for decoded bodies)."""
        return self._encoded

    @cached_property
    def _encoded(self) -> bytes:
        version = self.version
        parts = [
            _BODY_FIXED.pack(Tag.POST_BODY, version, self.author, self.group_id,
                             self.epoch, self.post_id, self.author_seq, self.log_seq,
                             self.log_head, self.timestamp_ms, self.kind),
            _U32.pack(len(self.refs)),
            *self.refs,
        ]
        try:
            text = self.text.encode("utf-8")
            parts += (_U32.pack(len(text)), text)
            if self.content_warning is None and not self.attachments:
                parts.append(_NO_WARNING_NO_ATTACHMENTS)
            else:
                tail = Writer().opt_text(self.content_warning).u32(len(self.attachments))
                named = version == BODY_VERSION_NAMED
                for attachment in self.attachments:
                    attachment.write_to(tail, with_file_name=named)
                parts.append(tail.finish())
        except UnicodeEncodeError:
            raise PostError("post text is not valid Unicode (an unpaired surrogate)") from None
        expiry = self.expires_at_ms
        parts.append(_NO_EXPIRY if expiry is None else b"\x01" + _U64.pack(expiry))
        if self.kind is PostKind.POLL:
            tail = Writer().u32(len(self.poll_options))
            for option in self.poll_options:
                tail.text(option)
            parts.append(tail.opt_u64(self.poll_closes_at_ms).finish())
        elif self.kind is PostKind.VOTE:
            parts.append(bytes((self.vote_choice or 0,)))
        if self.channel is not None:
            parts.append(self.channel)
        return b"".join(parts)

    @classmethod
    def decode(cls, data: bytes) -> PostBody:
        """Strict decode; a kind rule broken by a well-formed body is a :class:`PostError`.

        Both versions are read (PB-1): a version-1 body's attachments have no file name
        field and decode with ``file_name`` ``""``. Common bodies (no attachments, so
        version 1) take a flat fast path; anything it does not accept goes through the
        generic :class:`Reader`, which gives the precise error.
        """
        raw = bytes(data)
        fields = _fast_fields(raw)
        body = cls(*fields) if fields is not None else cls._decode_with_reader(raw)
        body.__dict__["_encoded"] = raw
        return body

    @classmethod
    def _decode_with_reader(cls, data: bytes) -> PostBody:
        reader = Reader(data, "post body")
        header = reader.fixed(2, "header")
        if header[0] != Tag.POST_BODY:
            raise MalformedError(f"post body: this is not a post body (type tag {header[0]:#04x})")
        version = header[1]
        if version not in BODY_VERSIONS:  # PB-1
            raise MalformedError(
                f"post body: version {version} is not supported (this software reads versions "
                f"{BODY_VERSION_UNNAMED} and {BODY_VERSION_NAMED}; update Vault)"
            )
        (author, group_id, epoch, post_id, author_seq, log_seq, log_head, timestamp_ms,
         kind_value) = _BODY_FIXED.unpack(
            header + reader.fixed(_BODY_FIXED_AFTER_HEADER, "post header"))[2:]
        try:
            kind = PostKind(kind_value)
        except ValueError:
            raise MalformedError(f"post body: unknown kind {kind_value}") from None
        count = reader.u32("reference count")
        if count > MAX_REFS:
            raise MalformedError(f"post body: {count} references, at most {MAX_REFS}")
        packed = reader.fixed(count * POST_ID_SIZE, "references")
        refs = tuple(packed[i : i + POST_ID_SIZE] for i in range(0, len(packed), POST_ID_SIZE))
        text = reader.text(MAX_TEXT, "text")
        content_warning = reader.opt_text(MAX_CONTENT_WARNING, "content warning")
        count = reader.u32("attachment count")
        if count > MAX_ATTACHMENTS:
            raise MalformedError(f"post body: {count} attachments, at most {MAX_ATTACHMENTS}")
        named = version == BODY_VERSION_NAMED
        fields = [Attachment.read_fields(reader, with_file_name=named) for _ in range(count)]
        expires_at_ms = reader.opt_u64("expiry")
        options: tuple[str, ...] = ()
        closes_at_ms: int | None = None
        choice: int | None = None
        if kind is PostKind.POLL:
            count = reader.u32("option count")
            if count > MAX_POLL_OPTIONS:
                raise MalformedError(f"post body: {count} poll options, at most "
                                     f"{MAX_POLL_OPTIONS}")
            options = tuple(reader.text(MAX_POLL_OPTION, "poll option") for _ in range(count))
            closes_at_ms = reader.opt_u64("closing time")
        elif kind is PostKind.VOTE:
            choice = reader.u8("choice")
        channel: bytes | None = None
        if kind in _IN_CHANNELS:  # PB-3: nothing, or a channel id
            rest = reader.rest()
            if rest:
                channel = check_channel_id(rest, "post body")
        reader.done()
        if named and not any(f[5] for f in fields):  # PB-2: one encoding per body
            raise MalformedError("post body: version 2 is only for attachments with file "
                                 "names; this body is version 1")
        # The structure is complete: now each attachment's rules, then the kind rules.
        attachments = tuple(Attachment(*f) for f in fields)
        return cls(author, group_id, epoch, post_id, author_seq, log_seq, log_head,
                   timestamp_ms, kind, refs, text, content_warning, attachments, expires_at_ms,
                   options, closes_at_ms, choice, channel)


_FieldTuple: TypeAlias = tuple[bytes, bytes, int, bytes, int, int, bytes, int, PostKind,
                               tuple[bytes, ...], str, "str | None", tuple[Attachment, ...],
                               "int | None"]


def _fast_fields(data: bytes) -> _FieldTuple | None:
    """Parse a body without attachments in one flat pass; None means "use the Reader".

    Such a body is always version 1 (PB-2); any other version byte goes to the Reader, which
    reads version 2 and refuses a version-2 body without attachments (and unknown versions).

    Accepts exactly what :meth:`PostBody._decode_with_reader` accepts for such bodies (a
    property test holds the two together); every doubt is deferred to the Reader.
    """
    try:
        (tag, version, author, group_id, epoch, post_id, author_seq, log_seq, log_head,
         timestamp_ms, kind_value) = _BODY_FIXED.unpack_from(data)
        if tag != Tag.POST_BODY or version != BODY_VERSION_UNNAMED:
            return None
        pos = _BODY_FIXED.size
        (count,) = _U32.unpack_from(data, pos)
        pos += 4
        end = pos + count * POST_ID_SIZE
        if count > MAX_REFS or end > len(data):
            return None
        refs = tuple(data[i : i + POST_ID_SIZE] for i in range(pos, end, POST_ID_SIZE))
        (length,) = _U32.unpack_from(data, end)
        pos = end + 4
        if length > MAX_TEXT or pos + length > len(data):
            return None
        text = data[pos : pos + length].decode("utf-8")
        pos += length
        content_warning: str | None = None
        if data[pos] == 1:
            (length,) = _U32.unpack_from(data, pos + 1)
            pos += 5
            if length > MAX_CONTENT_WARNING or pos + length > len(data):
                return None
            content_warning = data[pos : pos + length].decode("utf-8")
            pos += length
        elif data[pos] != 0:
            return None
        else:
            pos += 1
        if data[pos : pos + 4] != _NO_ATTACHMENTS:
            return None
        pos += 4
        expires_at_ms: int | None = None
        if data[pos] == 1 and len(data) == pos + 9:
            (expires_at_ms,) = _U64.unpack_from(data, pos + 1)
        elif data[pos] != 0 or len(data) != pos + 1:
            return None
        kind = PostKind(kind_value)
        if kind in _WITH_TAIL:
            return None
    except (struct.error, IndexError, UnicodeDecodeError, ValueError):
        return None
    return (author, group_id, epoch, post_id, author_seq, log_seq, log_head, timestamp_ms, kind,
            refs, text, content_warning, (), expires_at_ms)
