"""The rules every membership-log entry must pass, applied by a mutable state builder.

:class:`StateBuilder` applies entries to drafts of the state's persistent collections
(:mod:`vault.crypto.persistent`) and is frozen into a
:class:`~vault.crypto.group_state.GroupState`. Thawing a state and freezing the builder
are O(1) and each entry changes only the records it touches (O(log members)), so one
entry costs the same in a group of 10 or 10,000 and verifying a whole log is linear.
Each rule validates completely before it changes anything. The entry points that drive
it are in :mod:`vault.crypto.log_verify`; :func:`touched_by` names the records an entry
may change, so the relay and the SDK compare only those between two states.

Rules (error class in brackets):

Chain, for every entry after the genesis:
  same group id as the genesis [ChainBrokenError]; ``seq == previous seq + 1``
  [ChainBrokenError]; ``prev_hash == hash of the previous entry`` [ChainBrokenError];
  timestamp not before the previous entry's [InvalidEntryError]; when the caller gives
  ``now_ms``, timestamp at most 5 minutes ahead of it [InvalidEntryError]; CREATE only
  as the genesis [InvalidEntryError]; the author is a current member, except in JOIN
  [UnauthorizedEntryError]. Signatures are checked when decoding [SignatureError].

Genesis: kind CREATE, seq 0, zero group id and predecessor hash [InvalidEntryError;
ChainBrokenError for seq]; signed by the creator it names [UnauthorizedEntryError];
hashes to the expected group id [GroupIdMismatchError]; with ``now_ms``, not more than
5 minutes in the future [InvalidEntryError]. The creator becomes the owner; epoch 0
starts with the body's commitment.

Timestamps are the author's claim. The chain forbids going backwards and (given a
clock) far into the future, but cannot stop an author backdating to the previous
entry's time; the relay bounds timestamps against its own clock when it accepts an
append.

Roles, highest first: OWNER > ADMIN > MODERATOR > MEMBER. Moderators have no log rights
beyond a member's (moderation acts on posts). "Admin" below means admin or owner.

* INVITE (admin): invite id unused in this group [InvalidEntryError];
  1 <= max_uses <= 10,000 [InvalidEntryError]; expires after the entry's timestamp
  [InvalidEntryError].
* INVITE_REVOKE (admin): the invite exists [UnknownInviteError] and is not already
  revoked [InviteRevokedError].
* JOIN (the joiner, author == joiner): joiner is not a current member and was never
  one (a removed or departed key can never come back; a person rejoins with a fresh
  identity) [InvalidEntryError]; invite checks (below); the invite does not require
  approval [UnauthorizedEntryError]. Joins as MEMBER.
* ADD (admin): the role is at most the author's own and only an owner adds admins or
  owners [UnauthorizedEntryError]; same "new key" rule as JOIN [InvalidEntryError];
  invite id and proof both present or both absent [InvalidEntryError]; with an invite,
  the invite checks (any invite, approval or not); without one, a direct add.
* ADD_ROTATE (admin): every ADD rule, then ``new_epoch == epoch + 1``
  [InvalidEntryError]. Admits the member and starts the new epoch at the same entry
  (clearing ``rotation_pending``): how an admin admits someone who must read nothing
  written before (history "none"), in one step that cannot half-happen.
* Invite checks: the invite exists [UnknownInviteError], is not revoked
  [InviteRevokedError], the entry's timestamp is before its expiry [InviteExpiredError],
  ``uses < max_uses`` [InviteExhaustedError], and the proof verifies
  ``Sign(invite key, "vault/v1/join-proof", group_id || invite_id || joiner)``
  [SignatureError]. A successful JOIN/ADD uses the invite once.
* REMOVE (admin): the target is a current member [InvalidEntryError] and not the author
  (leave instead) [InvalidEntryError]; removing an admin or owner needs an owner
  [UnauthorizedEntryError]; ``new_epoch == epoch + 1`` [InvalidEntryError]. Starts the
  new epoch with the body's commitment and clears ``rotation_pending``.
* LEAVE (any member): not the last owner [InvalidEntryError]. Sets ``rotation_pending``:
  the leaver cannot rotate for the others, so an admin's ROTATE starts the next epoch.
* ROLE (admin): the target is a current member [InvalidEntryError] and the role changes
  [InvalidEntryError]; the new role is at most the author's own, and only an owner
  changes the role of an admin or owner or makes one [UnauthorizedEntryError]; the last
  owner cannot be demoted [InvalidEntryError]. (Members may change their own role only
  within these rules, e.g. an owner stepping down while another owner remains.)
* ROTATE (admin): ``new_epoch == epoch + 1`` [InvalidEntryError]; clears
  ``rotation_pending``.
* METADATA: subject None (the group's metadata) needs an admin; otherwise the subject
  must be the author (a member's own profile) [UnauthorizedEntryError]; the epoch is the
  current one [InvalidEntryError], so members removed before it cannot read it.
* HISTORY (admin) [UnauthorizedEntryError]: the group's history policy from now on (the
  state's ``history``); every admin's device admits new members by it.
* DELETE_GROUP (owner) [UnauthorizedEntryError]: sets ``deleted``; no entry may follow it
  [InvalidEntryError].
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from vault.crypto import labels
from vault.crypto.errors import (
    ChainBrokenError,
    GroupIdMismatchError,
    InvalidEntryError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    MalformedError,
    TooLargeError,
    UnauthorizedEntryError,
    UnknownInviteError,
)
from vault.crypto.group_state import GroupState, InviteState, Member, RoleHistory
from vault.crypto.identity import PublicIdentity
from vault.crypto.limits import MAX_FUTURE_SKEW_MS, MAX_INVITE_USES
from vault.crypto.log import LogEntry, group_id_of, join_proof_message
from vault.crypto.log_entries import (
    AddBody,
    AddRotateBody,
    CreateBody,
    DeleteGroupBody,
    HistoryBody,
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
from vault.crypto.metadata import check_metadata_envelope
from vault.crypto.persistent import Entries, OrderedMap
from vault.crypto.primitives import ZERO_HASH, verify


def decode_entry(raw: bytes, position: int) -> LogEntry:
    """Decode one served entry, naming its position in the log in any error."""
    try:
        return LogEntry.decode(raw)
    except (MalformedError, TooLargeError) as exc:
        raise type(exc)(f"entry {position} of the membership log: {exc.message}") from None


def _where(entry: LogEntry) -> str:
    return f"log entry {entry.seq} ({entry.kind.name.lower()})"


def _key(sign_pk: bytes) -> str:
    return f"key {sign_pk[:6].hex()}"


@dataclass(frozen=True)
class Touched:
    """The records one entry may change: members (current or former, by signing key) and
    invites (by id). Every other record of the state after it is the one before it."""

    members: frozenset[bytes]
    invites: frozenset[bytes]


def touched_by(entry: LogEntry) -> Touched:
    """The members and invites whose records *entry* may change (its author, the member it
    names, the invite it creates, revokes or uses), whether or not it is valid."""
    body = entry.body
    members = {entry.author}
    if isinstance(body, AddBody | AddRotateBody):
        members.add(body.member.sign_pk)
    elif isinstance(body, JoinBody):
        members.add(body.joiner.sign_pk)
    elif isinstance(body, CreateBody):
        members.add(body.creator.sign_pk)
    elif isinstance(body, RemoveBody | RoleBody):
        members.add(body.member)
    invite_id = getattr(body, "invite_id", None)
    return Touched(frozenset(members), frozenset(() if invite_id is None else (invite_id,)))


class StateBuilder:
    """Mutable group state for applying many entries; :meth:`freeze` once at the end.

    Its collections are drafts of a state's persistent ones: thawing a state and freezing
    the builder cost O(1), and the state it was thawed from never changes.
    """

    def __init__(self, group_id: bytes) -> None:
        self.group_id = group_id
        self.seq = 0
        self.head = ZERO_HASH
        self.timestamp_ms = 0
        self.epoch = 0
        self.rotation_pending = False
        self.group_metadata: MetadataBody | None = None
        self.history: HistoryBody | None = None
        self.deleted = False
        self.owners: set[bytes] = set()
        self._open(OrderedMap(), OrderedMap(), OrderedMap(), OrderedMap(), OrderedMap(),
                   OrderedMap(), Entries(), OrderedMap())

    def _open(
        self,
        members: OrderedMap[bytes, Member],
        former: OrderedMap[bytes, Member],
        invites: OrderedMap[bytes, InviteState],
        commitments: OrderedMap[int, bytes],
        epoch_starts: OrderedMap[int, int],
        profiles: OrderedMap[bytes, MetadataBody],
        hashes: Entries[bytes],
        role_history: OrderedMap[bytes, RoleHistory],
    ) -> None:
        """Drafts of a state's collections, to change in place (O(1))."""
        self.members = members.mutate()
        self.former = former.mutate()
        self.invites = invites.mutate()
        self.commitments = commitments.mutate()
        self.epoch_starts = epoch_starts.mutate()
        self.profiles = profiles.mutate()
        self.hashes = hashes.mutate()
        self.role_history = role_history.mutate()

    # --- construction -----------------------------------------------------------------

    @classmethod
    def from_genesis(
        cls, genesis: LogEntry, expected_group_id: bytes | None, now_ms: int | None
    ) -> StateBuilder:
        group_id = group_id_of(genesis)
        if expected_group_id is not None and group_id != expected_group_id:
            raise GroupIdMismatchError(
                "the first entry of this log is not the genesis of the expected group: "
                "the relay served another group's log, or altered its first entry"
            )
        body = genesis.body
        if not isinstance(body, CreateBody):
            raise InvalidEntryError("the first entry of a group's log must create the group")
        if genesis.seq != 0:
            raise ChainBrokenError(f"the genesis entry has sequence number {genesis.seq}, not 0")
        if genesis.group_id != ZERO_HASH or genesis.prev_hash != ZERO_HASH:
            raise InvalidEntryError(
                "the genesis entry must have an all-zero group id and predecessor hash"
            )
        if genesis.author != body.creator.sign_pk:
            raise UnauthorizedEntryError("the genesis entry is not signed by the creator it names")
        builder = cls(group_id)
        builder._check_future(genesis, now_ms)
        builder.members[genesis.author] = Member(body.creator, Role.OWNER, 0, None)
        builder.owners = {genesis.author}
        builder.commitments[0] = body.epoch_commitment
        builder.epoch_starts[0] = 0
        builder._advance(genesis)
        return builder

    @classmethod
    def thaw(cls, state: GroupState) -> StateBuilder:
        """A builder that goes on from *state* (O(1); *state* itself never changes)."""
        builder = cls.__new__(cls)
        builder.group_id = state.group_id
        builder._resume(state)
        return builder

    def _resume(self, state: GroupState) -> None:
        self.seq, self.head, self.timestamp_ms = state.seq, state.head, state.timestamp_ms
        self.epoch = state.epoch
        self.rotation_pending = state.rotation_pending
        self.group_metadata = state.group_metadata
        self.history = state.history
        self.deleted = state.deleted
        self.owners = set(state.owners)
        hashes = state.hashes if isinstance(state.hashes, Entries) else Entries(state.hashes)
        self._open(state.members, state.former_members, state.invites,
                   state.epoch_commitments, state.epoch_start_seq, state.profiles, hashes,
                   state.role_history)

    def freeze(self) -> GroupState:
        """The frozen state (O(1)). The builder must not be used afterwards."""
        return GroupState(
            group_id=self.group_id,
            seq=self.seq,
            head=self.head,
            timestamp_ms=self.timestamp_ms,
            members=self.members.finish(),
            former_members=self.former.finish(),
            invites=self.invites.finish(),
            epoch=self.epoch,
            epoch_commitments=self.commitments.finish(),
            epoch_start_seq=self.epoch_starts.finish(),
            rotation_pending=self.rotation_pending,
            group_metadata=self.group_metadata,
            profiles=self.profiles.finish(),
            hashes=self.hashes.finish(),
            role_history=self.role_history.finish(),
            owners=frozenset(self.owners),
            history=self.history,
            deleted=self.deleted,
        )

    def snapshot(self) -> GroupState:
        """The frozen state so far; the builder stays usable (O(1))."""
        state = self.freeze()
        self._resume(state)
        return state

    def _advance(self, entry: LogEntry) -> None:
        self.seq = entry.seq
        self.head = entry.hash
        self.timestamp_ms = entry.timestamp_ms
        self.hashes.append(self.head)

    # --- one entry ----------------------------------------------------------------------

    def apply(self, entry: LogEntry, now_ms: int | None) -> None:
        self._check_chain(entry, now_ms)
        body = entry.body
        if isinstance(body, JoinBody):
            self._join(entry, body)
        else:
            author = self._author(entry)
            if isinstance(body, InviteBody):
                self._invite(entry, author, body)
            elif isinstance(body, InviteRevokeBody):
                self._revoke_invite(entry, author, body)
            elif isinstance(body, AddBody):
                self._add(entry, author, body)
            elif isinstance(body, AddRotateBody):
                self._add_rotate(entry, author, body)
            elif isinstance(body, RemoveBody):
                self._remove(entry, author, body)
            elif isinstance(body, LeaveBody):
                self._leave(entry, author)
            elif isinstance(body, RoleBody):
                self._role(entry, author, body)
            elif isinstance(body, RotateBody):
                self._rotate(entry, author, body)
            elif isinstance(body, MetadataBody):
                self._metadata(entry, author, body)
            elif isinstance(body, HistoryBody):
                self._history(entry, author)
                self.history = body
            elif isinstance(body, DeleteGroupBody):
                if author.role != Role.OWNER:
                    raise UnauthorizedEntryError(
                        f"{_where(entry)}: only an owner may delete the group"
                    )
                self.deleted = True
            else:
                raise InvalidEntryError(
                    f"{_where(entry)}: a group is created only once, by its first entry"
                )
        self._advance(entry)

    def _check_chain(self, entry: LogEntry, now_ms: int | None) -> None:
        if entry.group_id != self.group_id:
            raise ChainBrokenError(f"log entry {entry.seq} belongs to another group")
        if self.deleted:
            raise InvalidEntryError(
                f"{_where(entry)} follows the entry that deleted the group"
            )
        if entry.seq != self.seq + 1:
            raise ChainBrokenError(
                f"log entry has sequence number {entry.seq} where {self.seq + 1} was expected: "
                "entries are missing, repeated or out of order"
            )
        if entry.prev_hash != self.head:
            raise ChainBrokenError(
                f"log entry {entry.seq} does not follow entry {self.seq} (its predecessor "
                "hash differs): the log was altered or forked"
            )
        if entry.timestamp_ms < self.timestamp_ms:
            raise InvalidEntryError(
                f"{_where(entry)} is dated before the entry it follows"
            )
        self._check_future(entry, now_ms)

    def _check_future(self, entry: LogEntry, now_ms: int | None) -> None:
        if now_ms is not None and entry.timestamp_ms > now_ms + MAX_FUTURE_SKEW_MS:
            raise InvalidEntryError(
                f"{_where(entry)} is dated more than 5 minutes in the future; "
                "if this device's clock is wrong, correct it and sync again"
            )

    def _author(self, entry: LogEntry) -> Member:
        author = self.members.get(entry.author)
        if author is not None:
            return author
        former = self.former.get(entry.author)
        if former is not None:
            raise UnauthorizedEntryError(
                f"{_where(entry)} is signed by {_key(entry.author)}, who left or was removed "
                f"at entry {former.removed_seq}"
            )
        raise UnauthorizedEntryError(
            f"{_where(entry)} is signed by {_key(entry.author)}, who is not a member"
        )

    def _require_admin(self, entry: LogEntry, author: Member, action: str) -> None:
        if author.role < Role.ADMIN:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: only admins and owners may {action}; the author is a "
                f"{author.role.name.lower()}"
            )

    def _check_new_key(self, entry: LogEntry, sign_pk: bytes) -> None:
        if sign_pk in self.members:
            raise InvalidEntryError(f"{_where(entry)}: {_key(sign_pk)} is already a member")
        former = self.former.get(sign_pk)
        if former is not None:
            raise InvalidEntryError(
                f"{_where(entry)}: {_key(sign_pk)} left or was removed at entry "
                f"{former.removed_seq} and can never be re-added; a person who comes back "
                "joins with a fresh identity"
            )

    def _check_invite(
        self, entry: LogEntry, invite_id: bytes, joiner: PublicIdentity, proof: bytes
    ) -> InviteState:
        invite = self.invites.get(invite_id)
        if invite is None:
            raise UnknownInviteError(f"{_where(entry)} uses an invite this group never created")
        if invite.revoked:
            raise InviteRevokedError(f"{_where(entry)} uses an invite that was revoked")
        creator = self.members.get(invite.created_by)
        if creator is None or creator.role < Role.ADMIN:
            # An invite carries its creator's authority: it dies when that authority does,
            # so a removed or demoted admin cannot keep admitting people.
            raise InviteRevokedError(
                f"{_where(entry)} uses an invite whose creator is no longer an admin; "
                "ask a current admin for a new invite"
            )
        if entry.timestamp_ms >= invite.expires_at_ms:
            raise InviteExpiredError(f"{_where(entry)} uses an invite that had expired")
        if invite.uses >= invite.max_uses:
            raise InviteExhaustedError(
                f"{_where(entry)} uses an invite that was already used {invite.max_uses} "
                "times (its limit)"
            )
        message = join_proof_message(self.group_id, invite_id, joiner)
        verify(invite.invite_pk, labels.JOIN_PROOF, message, proof, f"{_where(entry)}: join proof")
        return invite

    def _check_next_epoch(self, entry: LogEntry, new_epoch: int) -> None:
        if new_epoch != self.epoch + 1:
            raise InvalidEntryError(
                f"{_where(entry)} starts epoch {new_epoch}, but the next epoch is {self.epoch + 1}"
            )

    def _start_epoch(self, entry: LogEntry, new_epoch: int, commitment: bytes) -> None:
        self.epoch = new_epoch
        self.commitments[new_epoch] = commitment
        self.epoch_starts[new_epoch] = entry.seq
        self.rotation_pending = False

    def _admit(self, entry: LogEntry, identity: PublicIdentity, role: Role) -> None:
        self.members[identity.sign_pk] = Member(identity, role, entry.seq, None)
        if role == Role.OWNER:
            self.owners.add(identity.sign_pk)

    def _depart(self, entry: LogEntry, member: Member) -> None:
        del self.members[member.sign_pk]
        self.former[member.sign_pk] = replace(member, removed_seq=entry.seq,
                                              removed_at_ms=entry.timestamp_ms)
        self.owners.discard(member.sign_pk)

    # --- kinds --------------------------------------------------------------------------

    def _invite(self, entry: LogEntry, author: Member, body: InviteBody) -> None:
        self._require_admin(entry, author, "create invites")
        if body.invite_id in self.invites:
            raise InvalidEntryError(f"{_where(entry)}: this invite id is already used in the group")
        if not 1 <= body.max_uses <= MAX_INVITE_USES:
            raise InvalidEntryError(
                f"{_where(entry)}: an invite allows 1 to {MAX_INVITE_USES} uses, "
                f"not {body.max_uses}"
            )
        if body.expires_at_ms <= entry.timestamp_ms:
            raise InvalidEntryError(f"{_where(entry)}: the invite expires before it is created")
        self.invites[body.invite_id] = InviteState(
            body.invite_id, body.invite_pk, body.max_uses, body.expires_at_ms,
            body.requires_approval, 0, False, entry.author,
        )

    def _revoke_invite(self, entry: LogEntry, author: Member, body: InviteRevokeBody) -> None:
        self._require_admin(entry, author, "revoke invites")
        invite = self.invites.get(body.invite_id)
        if invite is None:
            raise UnknownInviteError(f"{_where(entry)} revokes an invite this group never created")
        if invite.revoked:
            raise InviteRevokedError(f"{_where(entry)} revokes an invite that is already revoked")
        self.invites[body.invite_id] = replace(invite, revoked=True)

    def _join(self, entry: LogEntry, body: JoinBody) -> None:
        if entry.author != body.joiner.sign_pk:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: a join must be signed by the joiner themself"
            )
        self._check_new_key(entry, entry.author)
        invite = self._check_invite(entry, body.invite_id, body.joiner, body.proof)
        if invite.requires_approval:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: this invite needs an admin's approval, so only an admin's "
                "add entry can admit its holder"
            )
        self.invites[invite.invite_id] = replace(invite, uses=invite.uses + 1)
        self._admit(entry, body.joiner, Role.MEMBER)

    def _add(self, entry: LogEntry, author: Member, body: AddBody) -> None:
        invite = self._check_add(entry, author, body)
        self._admit_with(entry, body, invite)

    def _add_rotate(self, entry: LogEntry, author: Member, body: AddRotateBody) -> None:
        # Every rule of ADD and of ROTATE is checked before anything changes. The member is
        # then admitted by the very entry that starts the next epoch: the epoch in force at
        # their admission begins with it, so no key from before they joined is theirs.
        add = body.as_add()
        invite = self._check_add(entry, author, add)
        self._check_next_epoch(entry, body.new_epoch)
        self._admit_with(entry, add, invite)
        self._start_epoch(entry, body.new_epoch, body.epoch_commitment)

    def _check_add(self, entry: LogEntry, author: Member, body: AddBody) -> InviteState | None:
        """The ADD rules (an ADD_ROTATE's too); returns the invite it uses, if any."""
        self._require_admin(entry, author, "add members")
        self._check_grant(entry, author, body.role)
        self._check_new_key(entry, body.member.sign_pk)
        if (body.invite_id is None) != (body.proof is None):
            raise InvalidEntryError(
                f"{_where(entry)}: an add carries both an invite id and a join proof, or neither"
            )
        if body.invite_id is not None and body.proof is not None:
            return self._check_invite(entry, body.invite_id, body.member, body.proof)
        return None

    def _admit_with(self, entry: LogEntry, body: AddBody, invite: InviteState | None) -> None:
        if invite is not None:
            self.invites[invite.invite_id] = replace(invite, uses=invite.uses + 1)
        self._admit(entry, body.member, body.role)

    def _check_grant(self, entry: LogEntry, author: Member, role: Role) -> None:
        if role > author.role:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: a {author.role.name.lower()} cannot grant the role "
                f"{role.name.lower()}, which is above their own"
            )
        if role >= Role.ADMIN and author.role != Role.OWNER:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: only an owner may make someone an admin or owner"
            )

    def _remove(self, entry: LogEntry, author: Member, body: RemoveBody) -> None:
        self._require_admin(entry, author, "remove members")
        target = self._target(entry, body.member)
        if body.member == entry.author:
            raise InvalidEntryError(
                f"{_where(entry)}: nobody can remove themself; a member who wants to go leaves"
            )
        if target.role >= Role.ADMIN and author.role != Role.OWNER:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: only an owner may remove an admin or owner"
            )
        self._check_next_epoch(entry, body.new_epoch)
        self._depart(entry, target)
        self._start_epoch(entry, body.new_epoch, body.epoch_commitment)

    def _target(self, entry: LogEntry, sign_pk: bytes) -> Member:
        target = self.members.get(sign_pk)
        if target is not None:
            return target
        former = self.former.get(sign_pk)
        if former is not None:
            raise InvalidEntryError(
                f"{_where(entry)}: {_key(sign_pk)} already left or was removed at entry "
                f"{former.removed_seq}"
            )
        raise InvalidEntryError(f"{_where(entry)}: {_key(sign_pk)} is not a member")

    def _leave(self, entry: LogEntry, author: Member) -> None:
        if author.role == Role.OWNER and len(self.owners) == 1:
            raise InvalidEntryError(
                f"{_where(entry)}: the last owner cannot leave; make another member an owner first"
            )
        self._depart(entry, author)
        self.rotation_pending = True

    def _history(self, entry: LogEntry, author: Member) -> None:
        if author.role < Role.ADMIN:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: only admins set what new members may read"
            )

    def _role(self, entry: LogEntry, author: Member, body: RoleBody) -> None:
        self._require_admin(entry, author, "change roles")
        target = self._target(entry, body.member)
        if body.role == target.role:
            raise InvalidEntryError(
                f"{_where(entry)}: {_key(body.member)} already has the role "
                f"{body.role.name.lower()}"
            )
        self._check_grant(entry, author, body.role)
        if target.role >= Role.ADMIN and author.role != Role.OWNER:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: only an owner may change the role of an admin or owner"
            )
        if target.role == Role.OWNER and len(self.owners) == 1:
            raise InvalidEntryError(
                f"{_where(entry)}: the last owner cannot be demoted; make another member an "
                "owner first"
            )
        self.members[body.member] = replace(target, role=body.role)
        if body.role == Role.OWNER:
            self.owners.add(body.member)
        else:
            self.owners.discard(body.member)
        # Role changes are rare: keep each one so rights can be judged at any past seq.
        history = self.role_history.get(body.member, ((target.joined_seq, target.role),))
        self.role_history[body.member] = (*history, (entry.seq, body.role))

    def _rotate(self, entry: LogEntry, author: Member, body: RotateBody) -> None:
        self._require_admin(entry, author, "start a new epoch")
        self._check_next_epoch(entry, body.new_epoch)
        self._start_epoch(entry, body.new_epoch, body.epoch_commitment)

    def _metadata(self, entry: LogEntry, author: Member, body: MetadataBody) -> None:
        if body.subject is None:
            self._require_admin(entry, author, "change the group's name and description")
        elif body.subject != entry.author:
            raise UnauthorizedEntryError(
                f"{_where(entry)}: a member may change only their own profile"
            )
        if body.epoch != self.epoch:
            # Always the current epoch: metadata under an older key would be readable by
            # the members removed since, and a later epoch has no key yet.
            raise InvalidEntryError(
                f"{_where(entry)} is encrypted for epoch {body.epoch}, but the current "
                f"epoch is {self.epoch}: metadata must be encrypted under the current epoch"
            )
        try:
            check_metadata_envelope(body.ciphertext)
        except MalformedError as exc:
            raise InvalidEntryError(f"{_where(entry)} carries no valid metadata envelope "
                                    f"({exc.message})") from None
        if body.subject is None:
            self.group_metadata = body
        else:
            self.profiles[body.subject] = body
