"""Membership-log entry kinds, roles and the body of each kind.

The entry itself (header, signature, hash) is :mod:`vault.crypto.log`, one layer up.

A body is the kind-specific part of a log entry. It travels inside the entry as one
``var`` field and has no header of its own (the entry's ``kind`` byte says which body it
is). Bodies are decoded strictly: every field is bounded and trailing bytes are
:class:`~vault.crypto.errors.MalformedError`. A public identity nested in a body is
written with its own header (``Tag.PUBLIC_IDENTITY``, version) followed by its fields,
and its binding signature is checked while decoding.

Body wire layouts (``u8``/``u64``/``u32`` big-endian, ``[n]`` = fixed bytes,
``opt`` = ``u8`` flag 0/1 then the value, ``identity`` = the 130-byte public identity):

========== ==============================================================================
CREATE      creator identity, group_nonce[16], epoch_commitment[32]
INVITE      invite_id[16], invite_pk[32], max_uses u32, expires_at_ms u64,
            requires_approval u8(0/1)
INVITE_REV  invite_id[16]
JOIN        invite_id[16], joiner identity, proof[64]
ADD         member identity, role u8, opt invite_id[16], opt proof[64]
REMOVE      member sign_pk[32], new_epoch u64, epoch_commitment[32]
LEAVE       (empty)
ROLE        member sign_pk[32], role u8
ROTATE      new_epoch u64, epoch_commitment[32]
METADATA    opt subject sign_pk[32], epoch u64, ciphertext var (at most 16 KiB)
ADD_ROTATE  member identity, role u8, opt invite_id[16], opt proof[64], new_epoch u64,
            epoch_commitment[32]  (an ADD that also starts the next epoch, so a member
            admitted under history "none" never holds a key from before their admission)
========== ==============================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from typing import ClassVar, Final, TypeAlias

from vault.crypto.commitments import COMMITMENT_SIZE
from vault.crypto.encoding import PROTOCOL_VERSION, U64_MAX, Reader, Tag, Writer
from vault.crypto.errors import MalformedError, TooLargeError
from vault.crypto.identity import PublicIdentity
from vault.crypto.limits import MAX_METADATA_ENVELOPE_SIZE
from vault.crypto.primitives import HASH_SIZE, PUBLIC_KEY_SIZE, SIGNATURE_SIZE

GROUP_ID_SIZE: Final = HASH_SIZE
"""A group id is the hash of the group's genesis entry."""
INVITE_ID_SIZE: Final = 16
GROUP_NONCE_SIZE: Final = 16

_IDENTITY_HEADER: Final = bytes((Tag.PUBLIC_IDENTITY, PROTOCOL_VERSION))


class EntryKind(IntEnum):
    CREATE = 1
    INVITE = 2
    INVITE_REVOKE = 3
    JOIN = 4
    ADD = 5
    REMOVE = 6
    LEAVE = 7
    ROLE = 8
    ROTATE = 9
    METADATA = 10
    ADD_ROTATE = 11
    HISTORY = 12
    DELETE_GROUP = 13


class HistoryPolicy(IntEnum):
    """What a newly admitted member may read (a HISTORY entry, protocol §4.3)."""

    NONE = 0
    """Nothing written before their admission (admitted with a new epoch)."""
    CURRENT = 1
    """The current epoch (everything since the last epoch change)."""
    ALL = 2
    """Every epoch the admitting admin's device holds."""
    FROM_EPOCH = 3
    """Every epoch from ``from_epoch`` on."""


class Role(IntEnum):
    """Roles, ordered: a higher value has every right of a lower one."""

    MEMBER = 0
    MODERATOR = 1
    ADMIN = 2
    OWNER = 3


def write_identity(writer: Writer, identity: PublicIdentity) -> None:
    writer.raw(identity.encode())


def read_identity(reader: Reader, field: str) -> PublicIdentity:
    """A nested public identity's header and fields; its binding is checked by
    :func:`decode_body` once the whole body has been read (protocol §1.1, decoding order)."""
    if reader.fixed(2, field) != _IDENTITY_HEADER:
        raise MalformedError(f"log entry: {field} is not a version-1 public identity")
    return PublicIdentity.read_unchecked(reader)


def read_role(reader: Reader) -> Role:
    value = reader.u8("role")
    try:
        return Role(value)
    except ValueError:
        raise MalformedError(f"log entry: unknown role {value}") from None


class _Body:
    """Shared encode/decode plumbing; subclasses define KIND, write_to and read_from."""

    KIND: ClassVar[EntryKind]

    def write_to(self, writer: Writer) -> None:
        raise NotImplementedError

    def encode(self) -> bytes:
        writer = Writer()
        self.write_to(writer)
        return writer.finish()


@dataclass(frozen=True)
class CreateBody(_Body):
    creator: PublicIdentity
    group_nonce: bytes
    epoch_commitment: bytes

    KIND: ClassVar[EntryKind] = EntryKind.CREATE

    def write_to(self, writer: Writer) -> None:
        write_identity(writer, self.creator)
        writer.fixed(self.group_nonce, GROUP_NONCE_SIZE)
        writer.fixed(self.epoch_commitment, COMMITMENT_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> CreateBody:
        creator = read_identity(reader, "creator")
        nonce = reader.fixed(GROUP_NONCE_SIZE, "group nonce")
        return cls(creator, nonce, reader.fixed(COMMITMENT_SIZE, "epoch commitment"))


@dataclass(frozen=True)
class InviteBody(_Body):
    invite_id: bytes
    invite_pk: bytes
    max_uses: int
    expires_at_ms: int
    requires_approval: bool

    KIND: ClassVar[EntryKind] = EntryKind.INVITE

    def write_to(self, writer: Writer) -> None:
        writer.fixed(self.invite_id, INVITE_ID_SIZE).fixed(self.invite_pk, PUBLIC_KEY_SIZE)
        writer.u32(self.max_uses).u64(self.expires_at_ms).flag(self.requires_approval)

    @classmethod
    def read_from(cls, reader: Reader) -> InviteBody:
        return cls(
            reader.fixed(INVITE_ID_SIZE, "invite id"),
            reader.fixed(PUBLIC_KEY_SIZE, "invite key"),
            reader.u32("max uses"),
            reader.u64("expiry"),
            reader.flag("requires approval"),
        )


@dataclass(frozen=True)
class InviteRevokeBody(_Body):
    invite_id: bytes

    KIND: ClassVar[EntryKind] = EntryKind.INVITE_REVOKE

    def write_to(self, writer: Writer) -> None:
        writer.fixed(self.invite_id, INVITE_ID_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> InviteRevokeBody:
        return cls(reader.fixed(INVITE_ID_SIZE, "invite id"))


@dataclass(frozen=True)
class JoinBody(_Body):
    """A joiner admits themself with a pre-authorised invite (``requires_approval`` off)."""

    invite_id: bytes
    joiner: PublicIdentity
    proof: bytes

    KIND: ClassVar[EntryKind] = EntryKind.JOIN

    def write_to(self, writer: Writer) -> None:
        writer.fixed(self.invite_id, INVITE_ID_SIZE)
        write_identity(writer, self.joiner)
        writer.fixed(self.proof, SIGNATURE_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> JoinBody:
        invite_id = reader.fixed(INVITE_ID_SIZE, "invite id")
        joiner = read_identity(reader, "joiner")
        return cls(invite_id, joiner, reader.fixed(SIGNATURE_SIZE, "join proof"))


@dataclass(frozen=True)
class AddBody(_Body):
    """An admin adds a member: approving a join request (invite id + proof) or directly."""

    member: PublicIdentity
    role: Role
    invite_id: bytes | None = None
    proof: bytes | None = None

    KIND: ClassVar[EntryKind] = EntryKind.ADD

    def write_to(self, writer: Writer) -> None:
        write_identity(writer, self.member)
        writer.u8(self.role)
        writer.opt_fixed(self.invite_id, INVITE_ID_SIZE)
        writer.opt_fixed(self.proof, SIGNATURE_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> AddBody:
        member = read_identity(reader, "member")
        role = read_role(reader)
        invite_id = reader.opt_fixed(INVITE_ID_SIZE, "invite id")
        return cls(member, role, invite_id, reader.opt_fixed(SIGNATURE_SIZE, "join proof"))


@dataclass(frozen=True)
class AddRotateBody(_Body):
    """An ADD and a ROTATE in one entry: the member is admitted by the entry that starts the
    next epoch, so admission and the new key are one indivisible step for every device."""

    member: PublicIdentity
    role: Role
    invite_id: bytes | None
    proof: bytes | None
    new_epoch: int
    epoch_commitment: bytes

    KIND: ClassVar[EntryKind] = EntryKind.ADD_ROTATE

    def write_to(self, writer: Writer) -> None:
        write_identity(writer, self.member)
        writer.u8(self.role)
        writer.opt_fixed(self.invite_id, INVITE_ID_SIZE)
        writer.opt_fixed(self.proof, SIGNATURE_SIZE)
        writer.u64(self.new_epoch).fixed(self.epoch_commitment, COMMITMENT_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> AddRotateBody:
        member = read_identity(reader, "member")
        role = read_role(reader)
        invite_id = reader.opt_fixed(INVITE_ID_SIZE, "invite id")
        proof = reader.opt_fixed(SIGNATURE_SIZE, "join proof")
        new_epoch = reader.u64("new epoch")
        return cls(member, role, invite_id, proof, new_epoch,
                   reader.fixed(COMMITMENT_SIZE, "epoch commitment"))

    def as_add(self) -> AddBody:
        """The admission part, checked by the same rules as an ADD."""
        return AddBody(self.member, self.role, self.invite_id, self.proof)


@dataclass(frozen=True)
class RemoveBody(_Body):
    """Removal of another member; always starts a new epoch."""

    member: bytes
    new_epoch: int
    epoch_commitment: bytes

    KIND: ClassVar[EntryKind] = EntryKind.REMOVE

    def write_to(self, writer: Writer) -> None:
        writer.fixed(self.member, PUBLIC_KEY_SIZE).u64(self.new_epoch)
        writer.fixed(self.epoch_commitment, COMMITMENT_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> RemoveBody:
        return cls(
            reader.fixed(PUBLIC_KEY_SIZE, "member"),
            reader.u64("new epoch"),
            reader.fixed(COMMITMENT_SIZE, "epoch commitment"),
        )


@dataclass(frozen=True)
class LeaveBody(_Body):
    """The author leaves. The next ROTATE (by an admin) starts the new epoch."""

    KIND: ClassVar[EntryKind] = EntryKind.LEAVE

    def write_to(self, writer: Writer) -> None:
        return None

    @classmethod
    def read_from(cls, reader: Reader) -> LeaveBody:
        return cls()


@dataclass(frozen=True)
class RoleBody(_Body):
    member: bytes
    role: Role

    KIND: ClassVar[EntryKind] = EntryKind.ROLE

    def write_to(self, writer: Writer) -> None:
        writer.fixed(self.member, PUBLIC_KEY_SIZE).u8(self.role)

    @classmethod
    def read_from(cls, reader: Reader) -> RoleBody:
        return cls(reader.fixed(PUBLIC_KEY_SIZE, "member"), read_role(reader))


@dataclass(frozen=True)
class RotateBody(_Body):
    new_epoch: int
    epoch_commitment: bytes

    KIND: ClassVar[EntryKind] = EntryKind.ROTATE

    def write_to(self, writer: Writer) -> None:
        writer.u64(self.new_epoch).fixed(self.epoch_commitment, COMMITMENT_SIZE)

    @classmethod
    def read_from(cls, reader: Reader) -> RotateBody:
        return cls(reader.u64("new epoch"), reader.fixed(COMMITMENT_SIZE, "epoch commitment"))


@dataclass(frozen=True)
class MetadataBody(_Body):
    """Encrypted metadata: ``subject`` None = the group's, else that member's own profile."""

    subject: bytes | None
    epoch: int
    ciphertext: bytes

    KIND: ClassVar[EntryKind] = EntryKind.METADATA

    def __post_init__(self) -> None:
        if len(self.ciphertext) > MAX_METADATA_ENVELOPE_SIZE:
            raise TooLargeError(
                f"encrypted metadata is {len(self.ciphertext)} bytes; "
                f"at most {MAX_METADATA_ENVELOPE_SIZE} fit in a log entry"
            )

    def write_to(self, writer: Writer) -> None:
        writer.opt_fixed(self.subject, PUBLIC_KEY_SIZE).u64(self.epoch).var(self.ciphertext)

    @classmethod
    def read_from(cls, reader: Reader) -> MetadataBody:
        subject = reader.opt_fixed(PUBLIC_KEY_SIZE, "subject")
        epoch = reader.u64("epoch")
        return cls(subject, epoch, reader.var(MAX_METADATA_ENVELOPE_SIZE, "metadata ciphertext"))


@dataclass(frozen=True)
class HistoryBody(_Body):
    """The group's history policy, set by an admin: every admin's device admits by it."""

    policy: HistoryPolicy
    from_epoch: int = 0
    """The first epoch shared (FROM_EPOCH only; 0 for every other policy)."""

    KIND: ClassVar[EntryKind] = EntryKind.HISTORY

    def __post_init__(self) -> None:
        if not 0 <= self.from_epoch <= U64_MAX:
            raise ValueError("history entry: epoch out of range")
        if self.policy is not HistoryPolicy.FROM_EPOCH and self.from_epoch != 0:
            raise MalformedError("history entry: only FROM_EPOCH names an epoch (0 otherwise)")

    def write_to(self, writer: Writer) -> None:
        writer.u8(self.policy).u64(self.from_epoch)

    @classmethod
    def read_from(cls, reader: Reader) -> HistoryBody:
        value = reader.u8("history policy")
        try:
            policy = HistoryPolicy(value)
        except ValueError:
            raise MalformedError(f"log entry: unknown history policy {value}") from None
        return cls(policy, reader.u64("first epoch shared"))


@dataclass(frozen=True)
class DeleteGroupBody(_Body):
    """An owner deletes the group: the last entry its log can hold. The relay then purges
    what it keeps for the group; members' devices that verify this entry drop their copy."""

    KIND: ClassVar[EntryKind] = EntryKind.DELETE_GROUP

    def write_to(self, writer: Writer) -> None:
        return None

    @classmethod
    def read_from(cls, reader: Reader) -> DeleteGroupBody:
        return cls()


EntryBody: TypeAlias = (
    CreateBody
    | InviteBody
    | InviteRevokeBody
    | JoinBody
    | AddBody
    | RemoveBody
    | LeaveBody
    | RoleBody
    | RotateBody
    | MetadataBody
    | AddRotateBody
    | HistoryBody
    | DeleteGroupBody
)

BODY_TYPES: Final[dict[EntryKind, type[EntryBody]]] = {
    cls.KIND: cls
    for cls in (
        CreateBody,
        InviteBody,
        InviteRevokeBody,
        JoinBody,
        AddBody,
        RemoveBody,
        LeaveBody,
        RoleBody,
        RotateBody,
        MetadataBody,
        AddRotateBody,
        HistoryBody,
        DeleteGroupBody,
    )
}


def nested_identity(body: EntryBody) -> PublicIdentity | None:
    """The public identity a body carries (CREATE, JOIN, ADD, ADD_ROTATE), if any."""
    if isinstance(body, CreateBody):
        return body.creator
    if isinstance(body, JoinBody):
        return body.joiner
    if isinstance(body, AddBody | AddRotateBody):
        return body.member
    return None


def decode_body(kind: EntryKind, data: bytes) -> EntryBody:
    """Strictly decode the body of an entry of *kind*: every field and no trailing bytes
    (``malformed``), then the binding of a nested identity (``bad_signature``)."""
    reader = Reader(data, f"{kind.name.lower()} entry body")
    body = BODY_TYPES[kind].read_from(reader)
    reader.done()
    identity = nested_identity(body)
    if identity is not None:
        identity.check_binding()
    return body
