"""Build membership logs for tests: groups with N members, invites, removals, rotations.

Everything is deterministic (seeded randomness, a clock that ticks 1 s per entry), and
every entry the factory appends is validated by the real rules as it goes, so a factory
log always verifies. Appending is O(1) per entry, so groups of thousands are cheap.

    f = LogFactory()                        # owner + genesis, epoch 0
    alice = f.add_member()                  # direct add by the owner
    admin = f.add_member(Role.ADMIN)
    ticket = f.invite(by=admin)             # what the QR code would carry
    bob = f.join(ticket)                    # self-join with a pre-authorised invite
    key1 = f.remove(alice)                  # new epoch 1; returns its key
    raw = f.raw                             # list[bytes] as the relay serves it
    state = f.state                         # GroupState after the last entry
"""

from __future__ import annotations

import hashlib
import itertools
import struct
from dataclasses import dataclass, replace

import nacl.bindings

from vault.crypto import labels
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import Tag
from vault.crypto.epochs import new_epoch_key
from vault.crypto.group_state import GroupState, new_entry
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.log import LogEntry, create_group, join_proof_message
from vault.crypto.log_entries import (
    AddBody,
    AddRotateBody,
    EntryBody,
    InviteBody,
    InviteRevokeBody,
    JoinBody,
    LeaveBody,
    MetadataBody,
    RemoveBody,
    Role,
    RoleBody,
    RotateBody,
)
from vault.crypto.log_rules import StateBuilder
from vault.crypto.log_verify import genesis_state
from vault.crypto.primitives import RandomSource, sign

T0 = 1_700_000_000_000
"""Pinned start time of every factory log (ms since the Unix epoch)."""
DAY_MS = 86_400_000


def seeded_random(seed: str | bytes) -> RandomSource:
    """A deterministic RandomSource (BLAKE2b in counter mode): same seed, same bytes."""
    seed_bytes = seed.encode() if isinstance(seed, str) else seed
    counter = itertools.count()

    def random(size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            block = next(counter).to_bytes(8, "big")
            out += hashlib.blake2b(block, key=seed_bytes[:64], digest_size=64).digest()
        return bytes(out[:size])

    return random


def opaque_metadata(fill: int = 0) -> bytes:
    """A metadata envelope of the right shape (256 bytes) whose content nobody can open:
    the log checks only the shape; tests of the rules need no real encryption."""
    return bytes((Tag.METADATA_ENVELOPE, 1)) + bytes([fill]) * 24 + struct.pack(">I", 226) + (
        bytes([fill]) * 226)


@dataclass(frozen=True)
class InviteTicket:
    """What an invite QR code gives its holder: the id and the invite signing key."""

    group_id: bytes
    invite_id: bytes
    invite_sk: bytes
    invite_pk: bytes

    def proof(self, joiner: PublicIdentity, *, group_id: bytes | None = None) -> bytes:
        message = join_proof_message(group_id or self.group_id, self.invite_id, joiner)
        return sign(self.invite_sk, labels.JOIN_PROOF, message)


class LogFactory:
    def __init__(self, seed: str = "vault-tests", *, now_ms: int = T0) -> None:
        self.random = seeded_random(seed)
        self.now_ms = now_ms
        self.owner = Identity.generate(self.random)
        self.identities: dict[bytes, Identity] = {self.owner.sign_pk: self.owner}
        key = new_epoch_key(self.random)
        genesis = create_group(self.owner, key, now_ms=now_ms, random=self.random)
        self.genesis = genesis
        self._cursor = genesis_state(genesis)
        self.group_id = self._cursor.group_id
        self.epoch_keys: dict[int, bytes] = {0: key}
        self.entries: list[LogEntry] = [genesis]
        self._builder = StateBuilder.thaw(self._cursor)
        self._state: GroupState | None = self._cursor

    # --- reading ------------------------------------------------------------------------

    @property
    def state(self) -> GroupState:
        """The verified state after the last appended entry (a snapshot)."""
        if self._state is None:
            self._state = self._builder.snapshot()
        return self._state

    @property
    def raw(self) -> list[bytes]:
        """The log as a relay would serve it."""
        return [entry.raw for entry in self.entries]

    def identity(self) -> Identity:
        """A fresh identity (not yet a member), remembered by signing key."""
        me = Identity.generate(self.random)
        self.identities[me.sign_pk] = me
        return me

    def tick(self, ms: int = 1000) -> int:
        self.now_ms += ms
        return self.now_ms

    def commitment(self, epoch: int, key: bytes) -> bytes:
        return epoch_commitment(commitment_group_id(self.group_id, epoch), epoch, key)

    # --- writing ------------------------------------------------------------------------

    def make(self, author: Identity, body: EntryBody, *, now_ms: int | None = None) -> LogEntry:
        """Sign the entry that would come next, without appending or validating it."""
        cursor = replace(
            self._cursor,
            seq=self._builder.seq,
            head=self._builder.head,
            timestamp_ms=self._builder.timestamp_ms,
        )
        return new_entry(cursor, author, body, now_ms=self.tick() if now_ms is None else now_ms)

    def append(self, author: Identity, body: EntryBody, *, now_ms: int | None = None) -> LogEntry:
        """Sign, validate (raising the rule's error) and append the next entry."""
        entry = self.make(author, body, now_ms=now_ms)
        self._builder.apply(entry, None)
        self.entries.append(entry)
        self._state = None
        return entry

    def add_member(
        self, role: Role = Role.MEMBER, *, by: Identity | None = None,
        identity: Identity | None = None,
    ) -> Identity:
        member = identity or self.identity()
        self.append(by or self.owner, AddBody(member.public, role))
        return member

    def add_members(self, count: int, role: Role = Role.MEMBER, *,
                    by: Identity | None = None) -> list[Identity]:
        return [self.add_member(role, by=by) for _ in range(count)]

    def invite(
        self,
        *,
        by: Identity | None = None,
        max_uses: int = 10,
        expires_in_ms: int = DAY_MS,
        requires_approval: bool = False,
        invite_id: bytes | None = None,
    ) -> InviteTicket:
        invite_sk, invite_pk = self.invite_keys()
        ticket = InviteTicket(self.group_id, invite_id or self.random(16), invite_sk, invite_pk)
        body = InviteBody(ticket.invite_id, invite_pk, max_uses, self.now_ms + expires_in_ms,
                          requires_approval)
        self.append(by or self.owner, body)
        return ticket

    def invite_keys(self) -> tuple[bytes, bytes]:
        """(sk64, pk32) of a fresh invite key."""
        pk, sk = nacl.bindings.crypto_sign_seed_keypair(self.random(32))
        return sk, pk

    def join(self, ticket: InviteTicket, *, identity: Identity | None = None) -> Identity:
        joiner = identity or self.identity()
        body = JoinBody(ticket.invite_id, joiner.public, ticket.proof(joiner.public))
        self.append(joiner, body)
        return joiner

    def approve(
        self, ticket: InviteTicket, *, identity: Identity | None = None,
        role: Role = Role.MEMBER, by: Identity | None = None,
    ) -> Identity:
        """An admin adds the holder of *ticket* (the approval path of a join request)."""
        joiner = identity or self.identity()
        body = AddBody(joiner.public, role, ticket.invite_id, ticket.proof(joiner.public))
        self.append(by or self.owner, body)
        return joiner

    def add_rotating(
        self, ticket: InviteTicket | None = None, *, identity: Identity | None = None,
        role: Role = Role.MEMBER, by: Identity | None = None,
    ) -> tuple[Identity, bytes]:
        """An admin admits a member (with *ticket*'s proof, or directly) in the entry that
        starts the next epoch (ADD_ROTATE); returns the member and the new epoch's key."""
        member = identity or self.identity()
        epoch, key, commitment = self.next_epoch()
        invite_id = None if ticket is None else ticket.invite_id
        proof = None if ticket is None else ticket.proof(member.public)
        self.append(by or self.owner,
                    AddRotateBody(member.public, role, invite_id, proof, epoch, commitment))
        self.epoch_keys[epoch] = key
        return member, key

    def revoke(self, ticket: InviteTicket, *, by: Identity | None = None) -> None:
        self.append(by or self.owner, InviteRevokeBody(ticket.invite_id))

    def next_epoch(self) -> tuple[int, bytes, bytes]:
        """(epoch number, key, commitment) for the epoch after the current one."""
        epoch = self._builder.epoch + 1
        key = new_epoch_key(self.random)
        return epoch, key, self.commitment(epoch, key)

    def remove(self, member: Identity, *, by: Identity | None = None) -> bytes:
        """Remove *member*, starting the next epoch; returns its key."""
        epoch, key, commitment = self.next_epoch()
        self.append(by or self.owner, RemoveBody(member.sign_pk, epoch, commitment))
        self.epoch_keys[epoch] = key
        return key

    def leave(self, member: Identity) -> None:
        self.append(member, LeaveBody())

    def rotate(self, *, by: Identity | None = None) -> bytes:
        epoch, key, commitment = self.next_epoch()
        self.append(by or self.owner, RotateBody(epoch, commitment))
        self.epoch_keys[epoch] = key
        return key

    def set_role(self, member: Identity, role: Role, *, by: Identity | None = None) -> None:
        self.append(by or self.owner, RoleBody(member.sign_pk, role))

    def set_metadata(
        self, ciphertext: bytes | None = None, *, by: Identity | None = None,
        profile: bool = False, epoch: int | None = None,
    ) -> None:
        """Group metadata (by an admin), or with ``profile=True`` the author's own profile."""
        author = by or self.owner
        subject = author.sign_pk if profile else None
        current = self._builder.epoch if epoch is None else epoch
        self.append(author, MetadataBody(subject, current, ciphertext or opaque_metadata()))
