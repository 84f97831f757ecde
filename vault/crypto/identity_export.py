"""A portable identity: one group's private keys, sealed under a passphrase to move devices,
together with what the exporting device had verified, so the new device detects a relay
that rolls the group back to before the export just as the old one would.

It is a keystore file (:mod:`vault.crypto.keystore`: Argon2id + XChaCha20-Poly1305, the
same format and the same minimum cost) whose contents hold these entries::

    "vault/identity"       the private identity (Tag.PRIVATE_IDENTITY encoding)
    "vault/group"          the 32-byte group id
    "vault/relay"          the relay URL, UTF-8 (normalised as in invites)
    "vault/checkpoint"     optional: the exporting device's LogCheckpoint (Tag.LOG_CHECKPOINT)
    "vault/post-marks/0"   optional, then "/1", "/2", ... without holes: PostMarks chunks

PostMarks (``Tag.POST_MARKS``)::

    count u32 (<= 1,600), then count x (author[32] highest_author_seq u64)

the highest post number the exporting device had seen from each author (this identity's
own included, so the new device never numbers a post twice), authors in strictly
increasing byte order across all chunks. Chunks keep each keystore secret under 64 KiB.

Epoch keys are not exported: the new device fetches its own grants from the relay.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from vault.crypto.encoding import U64_MAX, Reader, Tag, Writer
from vault.crypto.errors import InviteUriError, KeystoreCorruptError, MalformedError
from vault.crypto.group_state import LogCheckpoint
from vault.crypto.identity import Identity
from vault.crypto.invites import normalize_relay_url
from vault.crypto.keystore import KdfParams, KeystoreContents, open_keystore, seal_keystore
from vault.crypto.primitives import HASH_SIZE, PUBLIC_KEY_SIZE, RandomSource, default_random

EXPORT_PREFIX: Final = "vault/"
"""Where an export's entry names begin (a backup names each group's under its own)."""
MARKS_PER_CHUNK: Final = 1600
_DEFAULT_PARAMS: Final = KdfParams()
_NO_MARKS: Final[Mapping[bytes, int]] = MappingProxyType({})


@dataclass(frozen=True, repr=False)
class ExportedIdentity:
    identity: Identity
    group_id: bytes
    relay_url: str
    checkpoint: LogCheckpoint | None = None
    """The log the exporting device had verified (None in exports made without one)."""
    post_marks: Mapping[bytes, int] = field(default_factory=lambda: _NO_MARKS)
    """Author signing key -> the highest ``author_seq`` the exporting device had seen."""

    def __repr__(self) -> str:
        return f"ExportedIdentity(relay_url={self.relay_url!r}, identity={self.identity!r})"


def encode_post_marks(marks: list[tuple[bytes, int]]) -> bytes:
    """One PostMarks chunk (at most :data:`MARKS_PER_CHUNK` pairs, authors increasing)."""
    if len(marks) > MARKS_PER_CHUNK:
        raise ValueError(f"a post-marks chunk holds at most {MARKS_PER_CHUNK} authors")
    writer = Writer(Tag.POST_MARKS).u32(len(marks))
    for author, seq in marks:
        if not 1 <= seq <= U64_MAX:
            raise ValueError("a post mark is a post number >= 1")
        writer.fixed(author, PUBLIC_KEY_SIZE).u64(seq)
    return writer.finish()


def decode_post_marks(data: bytes) -> list[tuple[bytes, int]]:
    reader = Reader(data, "post marks", Tag.POST_MARKS)
    count = reader.u32("count")
    if count > MARKS_PER_CHUNK:
        raise MalformedError(f"post marks: {count} authors, at most {MARKS_PER_CHUNK}")
    marks = [(reader.fixed(PUBLIC_KEY_SIZE, "author"), reader.u64("post number"))
             for _ in range(count)]
    reader.done()
    if any(seq < 1 for _, seq in marks):
        raise MalformedError("post marks: a post number is 0")
    return marks


def export_identity(
    exported: ExportedIdentity,
    passphrase: str,
    *,
    params: KdfParams = _DEFAULT_PARAMS,
    random: RandomSource = default_random,
) -> bytes:
    """Seal one group's identity (and what its device verified) under *passphrase*."""
    return seal_keystore(KeystoreContents(tuple(identity_entries(exported))), passphrase,
                         params=params, random=random)


def identity_entries(exported: ExportedIdentity,
                     prefix: str = EXPORT_PREFIX) -> list[tuple[str, bytes]]:
    """The keystore entries of one exported identity, their names under *prefix* (a
    backup, :mod:`vault.crypto.backup`, holds one set per group)."""
    if exported.checkpoint is not None and exported.checkpoint.group_id != exported.group_id:
        raise ValueError("the checkpoint belongs to another group")
    entries: list[tuple[str, bytes]] = [
        (prefix + "identity", exported.identity.encode_private()),
        (prefix + "group", exported.group_id),
        (prefix + "relay", normalize_relay_url(exported.relay_url).encode("utf-8")),
    ]
    if exported.checkpoint is not None:
        entries.append((prefix + "checkpoint", exported.checkpoint.encode()))
    marks = sorted(exported.post_marks.items())
    for index, start in enumerate(range(0, len(marks), MARKS_PER_CHUNK)):
        entries.append((f"{prefix}post-marks/{index}",
                        encode_post_marks(marks[start:start + MARKS_PER_CHUNK])))
    return entries


def import_identity(data: bytes, passphrase: str) -> ExportedIdentity:
    """Open an exported identity (keystore errors as :func:`open_keystore` raises them;
    anything inside that is not a valid export: :class:`KeystoreCorruptError`)."""
    return read_exported(open_keystore(data, passphrase))


def read_exported(contents: KeystoreContents, prefix: str = EXPORT_PREFIX,
                  what: str = "an exported Vault identity") -> ExportedIdentity:
    """The identity whose entries are named under *prefix* (EXP-1 ... EXP-7)."""
    raw_identity = contents.get(prefix + "identity")
    group_id = contents.get(prefix + "group")
    relay = contents.get(prefix + "relay")
    if raw_identity is None or group_id is None or relay is None or len(group_id) != HASH_SIZE:
        raise KeystoreCorruptError(f"this keystore file is not {what}")
    try:
        identity = Identity.decode_private(raw_identity)
        relay_url = normalize_relay_url(relay.decode("utf-8"))
        checkpoint = _checkpoint(contents.get(prefix + "checkpoint"), group_id)
        marks = _marks(contents, prefix + "post-marks/")
    except (MalformedError, InviteUriError, UnicodeDecodeError):
        raise KeystoreCorruptError(f"this file is {what}, but it is damaged") from None
    return ExportedIdentity(identity, group_id, relay_url, checkpoint,
                            MappingProxyType(marks))


def _checkpoint(raw: bytes | None, group_id: bytes) -> LogCheckpoint | None:
    if raw is None:
        return None
    checkpoint = LogCheckpoint.decode(raw)
    if checkpoint.group_id != group_id:
        raise MalformedError("the checkpoint belongs to another group")
    return checkpoint


def _marks(contents: KeystoreContents, prefix: str) -> dict[bytes, int]:
    marks: dict[bytes, int] = {}
    last = b""
    index = 0
    while (raw := contents.get(f"{prefix}{index}")) is not None:
        for author, seq in decode_post_marks(raw):
            if author <= last:
                raise MalformedError("post marks: authors out of order or repeated")
            marks[author] = seq
            last = author
        index += 1
    return marks
