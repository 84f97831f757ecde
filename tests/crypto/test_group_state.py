"""Group state: every rule of the membership log, both ways, and rollback/fork detection."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import DAY_MS, T0, LogFactory, opaque_metadata, seeded_random
from vault.crypto.errors import (
    ChainBrokenError,
    ForkError,
    GroupIdMismatchError,
    InvalidEntryError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    LogError,
    MalformedError,
    RollbackError,
    SignatureError,
    UnauthorizedEntryError,
    UnknownInviteError,
    VaultError,
)
from vault.crypto.group_state import GroupState, LogCheckpoint
from vault.crypto.identity import Identity
from vault.crypto.log import LogEntry, create_group, sign_entry
from vault.crypto.log_entries import (
    AddBody,
    CreateBody,
    EntryBody,
    EntryKind,
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
from vault.crypto.log_verify import (
    apply_entry,
    check_checkpoint,
    check_same_entry,
    extend_log,
    genesis_state,
    verify_log,
)
from vault.crypto.primitives import ZERO_HASH

# --- helpers --------------------------------------------------------------------------------


def refused(f: LogFactory, author: Identity, body: EntryBody, error: type[Exception],
            match: str | None = None, **kwargs: int) -> None:
    """The next entry is refused with *error*, by apply_entry and by verify_log."""
    entry = f.make(author, body, **kwargs)
    state = f.state
    with pytest.raises(error, match=match):
        apply_entry(state, entry)
    with pytest.raises(error, match=match):
        verify_log(f.group_id, [*f.raw, entry.raw])


def accepted(f: LogFactory, author: Identity, body: EntryBody) -> GroupState:
    f.append(author, body)
    state = verify_log(f.group_id, f.raw)
    assert state == f.state
    return state


def entry_after(f: LogFactory, author: Identity, body: EntryBody, **fields: object) -> LogEntry:
    """An entry with header fields overridden (signed by *author*)."""
    state = f.state
    header: dict[str, object] = {
        "group_id": state.group_id, "seq": state.seq + 1, "prev_hash": state.head,
        "timestamp_ms": f.tick(),
    }
    header.update(fields)
    return sign_entry(author, body, **header)  # type: ignore[arg-type]


@pytest.fixture
def f() -> LogFactory:
    return LogFactory()


def roles_group() -> tuple[LogFactory, dict[Role, Identity]]:
    """A group with one member of every role (owner = the creator)."""
    f = LogFactory("roles")
    people = {Role.OWNER: f.owner}
    for role in (Role.ADMIN, Role.MODERATOR, Role.MEMBER):
        people[role] = f.add_member(role)
    return f, people


def rotate_body(f: LogFactory, skip: int = 0) -> RotateBody:
    epoch = f.state.epoch + 1 + skip
    return RotateBody(epoch, f.commitment(epoch, b"\x01" * 32))


def remove_body(f: LogFactory, member: Identity, skip: int = 0) -> RemoveBody:
    epoch = f.state.epoch + 1 + skip
    return RemoveBody(member.sign_pk, epoch, f.commitment(epoch, b"\x01" * 32))


# --- genesis ------------------------------------------------------------------------------


def test_genesis_state(f: LogFactory) -> None:
    state = f.state
    assert state.seq == 0 and state.epoch == 0
    assert state.head == f.genesis.hash == state.hash_at(0)
    assert state.hashes == (f.genesis.hash,)
    assert state.timestamp_ms == T0
    assert state.role_of(f.owner.sign_pk) is Role.OWNER
    assert state.is_member(f.owner.sign_pk) and state.is_admin(f.owner.sign_pk)
    assert state.epoch_commitments == {0: f.commitment(0, f.epoch_keys[0])}
    assert state.epoch_start_seq == {0: 0}
    assert not state.rotation_pending and state.group_metadata is None
    assert state.checkpoint() == LogCheckpoint(f.group_id, 0, f.genesis.hash)
    assert genesis_state(f.genesis, f.group_id) == state


def test_genesis_must_match_the_group_id(f: LogFactory) -> None:
    other = LogFactory("another group")
    with pytest.raises(GroupIdMismatchError, match="not the genesis of the expected group"):
        genesis_state(other.genesis, f.group_id)
    with pytest.raises(GroupIdMismatchError):
        verify_log(f.group_id, other.raw)


def test_genesis_must_create_the_group(f: LogFactory) -> None:
    body = InviteBody(b"\x01" * 16, b"\x02" * 32, 1, T0 + DAY_MS, False)
    entry = sign_entry(f.owner, body, group_id=ZERO_HASH, seq=0, prev_hash=ZERO_HASH,
                       timestamp_ms=T0)
    with pytest.raises(InvalidEntryError, match="must create the group"):
        genesis_state(entry)


def test_genesis_shape(f: LogFactory) -> None:
    body = f.genesis.body
    assert isinstance(body, CreateBody)
    for fields, error in (
        ({"seq": 1, "group_id": ZERO_HASH, "prev_hash": ZERO_HASH}, ChainBrokenError),
        ({"seq": 0, "group_id": b"\x01" * 32, "prev_hash": ZERO_HASH}, InvalidEntryError),
        ({"seq": 0, "group_id": ZERO_HASH, "prev_hash": b"\x01" * 32}, InvalidEntryError),
    ):
        entry = sign_entry(f.owner, body, timestamp_ms=T0, **fields)  # type: ignore[arg-type]
        with pytest.raises(error):
            genesis_state(entry)
        with pytest.raises(error):
            verify_log(labelled_group_id(entry), [entry.raw])


def labelled_group_id(entry: LogEntry) -> bytes:
    from vault.crypto.log import group_id_of

    return group_id_of(entry)


def test_genesis_must_be_signed_by_its_creator(f: LogFactory) -> None:
    mallory = f.identity()
    body = f.genesis.body
    entry = sign_entry(mallory, body, group_id=ZERO_HASH, seq=0, prev_hash=ZERO_HASH,
                       timestamp_ms=T0)
    with pytest.raises(UnauthorizedEntryError, match="creator"):
        genesis_state(entry)


def test_genesis_from_the_future() -> None:
    me = Identity.generate(seeded_random("future"))
    entry = create_group(me, b"\x01" * 32, now_ms=T0 + 300_001, random=seeded_random("n"))
    assert genesis_state(entry, now_ms=T0 + 1).seq == 0
    with pytest.raises(InvalidEntryError, match="future"):
        genesis_state(entry, now_ms=T0)
    with pytest.raises(InvalidEntryError, match="future"):
        verify_log(labelled_group_id(entry), [entry.raw], now_ms=T0)


def test_empty_log_is_refused(f: LogFactory) -> None:
    with pytest.raises(LogError, match="empty"):
        verify_log(f.group_id, [])


# --- the chain ----------------------------------------------------------------------------


def test_a_valid_log_verifies_and_extends(f: LogFactory) -> None:
    f.add_member()
    middle = f.state
    f.add_member(Role.ADMIN)
    f.rotate()
    full = verify_log(f.group_id, f.raw, now_ms=f.now_ms)
    assert full == f.state
    assert extend_log(middle, f.raw[middle.seq + 1 :], now_ms=f.now_ms) == full
    assert extend_log(full, []) is full


def test_bad_prev_hash(f: LogFactory) -> None:
    entry = entry_after(f, f.owner, rotate_body(f), prev_hash=b"\x00" * 32)
    with pytest.raises(ChainBrokenError, match="predecessor hash"):
        apply_entry(f.state, entry)


@pytest.mark.parametrize("seq", [0, 2, 5])
def test_wrong_seq(f: LogFactory, seq: int) -> None:
    entry = entry_after(f, f.owner, rotate_body(f), seq=seq)
    with pytest.raises(ChainBrokenError, match="sequence number"):
        apply_entry(f.state, entry)


def test_wrong_group_id(f: LogFactory) -> None:
    other = LogFactory("another group")
    entry = entry_after(f, f.owner, rotate_body(f), group_id=other.group_id)
    with pytest.raises(ChainBrokenError, match="another group"):
        apply_entry(f.state, entry)


def test_dropped_repeated_and_reordered_entries(f: LogFactory) -> None:
    for _ in range(4):
        f.add_member()
    raw = f.raw
    for broken in (raw[:2] + raw[3:], raw[:3] + raw[2:], [raw[0], raw[2], raw[1], *raw[3:]]):
        with pytest.raises(ChainBrokenError):
            verify_log(f.group_id, broken)
    with pytest.raises(ChainBrokenError):
        extend_log(f.state, raw[2:])  # entries the state already has


def test_an_entry_from_another_view_cannot_be_spliced_in(f: LogFactory) -> None:
    twin = LogFactory("vault-tests")  # same creator and genesis...
    twin.add_member()
    f.add_member(Role.MODERATOR)  # ...then a different history
    with pytest.raises(ChainBrokenError):
        verify_log(f.group_id, [*f.raw, twin.raw[1]])


def test_time_cannot_go_backwards(f: LogFactory) -> None:
    f.add_member()
    stamp = f.state.timestamp_ms
    entry = entry_after(f, f.owner, rotate_body(f), timestamp_ms=stamp - 1)
    with pytest.raises(InvalidEntryError, match="dated before"):
        apply_entry(f.state, entry)
    same = entry_after(f, f.owner, rotate_body(f), timestamp_ms=stamp)
    assert apply_entry(f.state, same).timestamp_ms == stamp


def test_future_timestamps(f: LogFactory) -> None:
    now = f.now_ms
    ok = f.make(f.owner, rotate_body(f), now_ms=now + 300_000)
    assert apply_entry(f.state, ok, now_ms=now).seq == 1
    assert apply_entry(f.state, ok).seq == 1  # without a clock, no future check
    late = f.make(f.owner, rotate_body(f), now_ms=now + 300_001)
    with pytest.raises(InvalidEntryError, match="future"):
        apply_entry(f.state, late, now_ms=now)
    with pytest.raises(InvalidEntryError, match="future"):
        verify_log(f.group_id, [*f.raw, late.raw], now_ms=now)


def test_create_only_at_genesis(f: LogFactory) -> None:
    body = f.genesis.body
    assert isinstance(body, CreateBody)
    refused(f, f.owner, body, InvalidEntryError, "created only once")


def test_tampered_or_resigned_entries(f: LogFactory) -> None:
    member = f.add_member()
    raw = f.raw
    tampered = bytearray(raw[1])
    tampered[-100] ^= 1
    with pytest.raises(SignatureError):
        verify_log(f.group_id, [raw[0], bytes(tampered)])
    garbage = raw[1][:50]
    with pytest.raises(MalformedError, match="entry 1 of the membership log"):
        verify_log(f.group_id, [raw[0], garbage])
    # The relay (or anyone outside the group) signs an add itself: not a member.
    relay = Identity.generate(seeded_random("relay"))
    fake = entry_after(f, relay, AddBody(relay.public, Role.OWNER))
    with pytest.raises(UnauthorizedEntryError, match="not a member"):
        apply_entry(f.state, fake)
    assert f.state.is_member(member.sign_pk)


def test_apply_entry_checks_fields_against_bytes(f: LogFactory) -> None:
    entry = f.make(f.owner, rotate_body(f))
    forged = replace(entry, body=RotateBody(5, b"\x00" * 32))
    with pytest.raises(LogError, match="do not match"):
        apply_entry(f.state, forged)


@given(data=st.data())
@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow], deadline=None)
def test_any_single_byte_change_in_a_log_is_caught(data: st.DataObject) -> None:
    raw = LOG_SAMPLE.raw
    which = data.draw(st.integers(0, len(raw) - 1))
    index = data.draw(st.integers(0, len(raw[which]) - 1))
    tampered = bytearray(raw[which])
    tampered[index] ^= data.draw(st.integers(1, 255))
    log = [*raw[:which], bytes(tampered), *raw[which + 1 :]]
    with pytest.raises(VaultError):
        verify_log(LOG_SAMPLE.group_id, log)


def _log_sample() -> LogFactory:
    f = LogFactory("sample log")
    admin = f.add_member(Role.ADMIN)
    ticket = f.invite(by=admin)
    f.join(ticket)
    f.remove(f.add_member(), by=admin)
    f.set_metadata()
    return f


LOG_SAMPLE = _log_sample()


# --- who may write what ---------------------------------------------------------------------

ADMIN_BODIES = {
    "invite": lambda f, p: InviteBody(b"\x0a" * 16, b"\x0b" * 32, 5, f.now_ms + DAY_MS, False),
    "revoke": lambda f, p: InviteRevokeBody(p["invite"].invite_id),
    "add": lambda f, p: AddBody(f.identity().public, Role.MEMBER),
    "remove": lambda f, p: remove_body(f, p["victim"]),
    "rotate": lambda f, p: rotate_body(f),
    "role": lambda f, p: RoleBody(p["victim"].sign_pk, Role.MODERATOR),
    "group metadata": lambda f, p: MetadataBody(None, 0, opaque_metadata()),
}


@pytest.mark.parametrize("action", list(ADMIN_BODIES))
@pytest.mark.parametrize("role", list(Role))
def test_admin_actions_need_an_admin(action: str, role: Role) -> None:
    f, people = roles_group()
    extra = {"invite": f.invite(), "victim": f.add_member()}
    body = ADMIN_BODIES[action](f, {**people, **extra})
    author = people[role]
    if role >= Role.ADMIN:
        accepted(f, author, body)
    else:
        refused(f, author, body, UnauthorizedEntryError, "only admins and owners")


def test_outsiders_removed_and_departed_members_cannot_write(f: LogFactory) -> None:
    outsider = f.identity()
    removed = f.add_member(Role.ADMIN)
    departed = f.add_member(Role.ADMIN)
    f.remove(removed)
    f.leave(departed)
    refused(f, outsider, rotate_body(f), UnauthorizedEntryError, "not a member")
    refused(f, removed, rotate_body(f), UnauthorizedEntryError, "left or was removed")
    refused(f, departed, MetadataBody(departed.sign_pk, 0, b""), UnauthorizedEntryError)
    refused(f, removed, LeaveBody(), UnauthorizedEntryError)


# --- adding and roles -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "granted", "ok"),
    [
        (Role.OWNER, Role.OWNER, True),
        (Role.OWNER, Role.ADMIN, True),
        (Role.OWNER, Role.MEMBER, True),
        (Role.ADMIN, Role.MODERATOR, True),
        (Role.ADMIN, Role.MEMBER, True),
        (Role.ADMIN, Role.ADMIN, False),
        (Role.ADMIN, Role.OWNER, False),
    ],
)
def test_add_grants_at_most_what_the_author_may(author: Role, granted: Role, ok: bool) -> None:
    f, people = roles_group()
    body = AddBody(f.identity().public, granted)
    if ok:
        state = accepted(f, people[author], body)
        assert state.role_of(body.member.sign_pk) is granted
    else:
        refused(f, people[author], body, UnauthorizedEntryError)


def test_add_records_the_member(f: LogFactory) -> None:
    member = f.add_member(Role.MODERATOR)
    record = f.state.members[member.sign_pk]
    assert record.identity == member.public and record.role is Role.MODERATOR
    assert record.joined_seq == 1 and record.removed_seq is None


def test_current_members_and_old_keys_cannot_be_added(f: LogFactory) -> None:
    current = f.add_member()
    removed = f.add_member()
    departed = f.add_member()
    f.remove(removed)
    f.leave(departed)
    refused(f, f.owner, AddBody(current.public, Role.MEMBER), InvalidEntryError, "already")
    for old in (removed, departed):
        refused(f, f.owner, AddBody(old.public, Role.MEMBER), InvalidEntryError,
                "never be re-added")
    ticket = f.invite()
    for old in (removed, departed):
        body = JoinBody(ticket.invite_id, old.public, ticket.proof(old.public))
        refused(f, old, body, InvalidEntryError, "never be re-added")
    f.join(ticket)  # the same person with a fresh identity is welcome


@pytest.mark.parametrize(
    ("author", "target", "new", "error"),
    [
        (Role.OWNER, Role.ADMIN, Role.OWNER, None),
        (Role.OWNER, Role.ADMIN, Role.MEMBER, None),
        (Role.OWNER, Role.MEMBER, Role.ADMIN, None),
        (Role.ADMIN, Role.MEMBER, Role.MODERATOR, None),
        (Role.ADMIN, Role.MODERATOR, Role.MEMBER, None),
        (Role.ADMIN, Role.MEMBER, Role.ADMIN, UnauthorizedEntryError),
        (Role.ADMIN, Role.MEMBER, Role.OWNER, UnauthorizedEntryError),
        (Role.ADMIN, Role.OWNER, Role.MEMBER, UnauthorizedEntryError),
        (Role.MODERATOR, Role.MEMBER, Role.MODERATOR, UnauthorizedEntryError),
        (Role.OWNER, Role.MEMBER, Role.MEMBER, InvalidEntryError),
    ],
)
def test_role_changes(author: Role, target: Role, new: Role,
                      error: type[Exception] | None) -> None:
    f, people = roles_group()
    other_admin = f.add_member(Role.ADMIN)
    victims = {**people, Role.ADMIN: other_admin, Role.MEMBER: f.add_member()}
    body = RoleBody(victims[target].sign_pk, new)
    if error is None:
        assert accepted(f, people[author], body).role_of(body.member) is new
    else:
        refused(f, people[author], body, error)


def test_admin_cannot_demote_another_admin_or_themself() -> None:
    f, people = roles_group()
    admin = people[Role.ADMIN]
    refused(f, admin, RoleBody(admin.sign_pk, Role.MEMBER), UnauthorizedEntryError,
            "only an owner")


def test_the_last_owner_cannot_be_demoted_or_leave(f: LogFactory) -> None:
    refused(f, f.owner, RoleBody(f.owner.sign_pk, Role.ADMIN), InvalidEntryError,
            "last owner cannot be demoted")
    refused(f, f.owner, LeaveBody(), InvalidEntryError, "last owner cannot leave")
    second = f.add_member(Role.OWNER)
    assert accepted(f, f.owner, RoleBody(f.owner.sign_pk, Role.ADMIN)).role_of(
        f.owner.sign_pk) is Role.ADMIN
    refused(f, second, LeaveBody(), InvalidEntryError, "last owner")
    f.set_role(f.owner, Role.OWNER, by=second)
    state = accepted(f, second, LeaveBody())
    assert not state.is_member(second.sign_pk)


def test_role_at_follows_every_role_change() -> None:
    f, people = roles_group()  # seqs 1..3 add an admin, a moderator and a member
    admin, mod, member = people[Role.ADMIN], people[Role.MODERATOR], people[Role.MEMBER]
    f.set_role(member, Role.MODERATOR)       # seq 4
    f.set_role(mod, Role.MEMBER, by=admin)   # seq 5
    f.set_role(member, Role.ADMIN)           # seq 6
    f.remove(member)                         # seq 7
    late = f.add_member()                    # seq 8
    state = verify_log(f.group_id, f.raw)
    assert state == f.state
    roles = lambda who: [state.role_at(who.sign_pk, seq) for seq in range(9)]  # noqa: E731
    assert roles(member) == [None, None, None, Role.MEMBER, Role.MODERATOR, Role.MODERATOR,
                             Role.ADMIN, None, None]
    assert roles(mod) == [None, None, Role.MODERATOR, Role.MODERATOR, Role.MODERATOR,
                          Role.MEMBER, Role.MEMBER, Role.MEMBER, Role.MEMBER]
    assert roles(admin) == [None, *[Role.ADMIN] * 8]
    assert roles(f.owner) == [Role.OWNER] * 9
    assert roles(late) == [None] * 8 + [Role.MEMBER]
    assert state.role_at(member.sign_pk, 99) is None and state.role_at(b"\x01" * 32, 3) is None
    assert state.role_history == {
        member.sign_pk: ((3, Role.MEMBER), (4, Role.MODERATOR), (6, Role.ADMIN)),
        mod.sign_pk: ((2, Role.MODERATOR), (5, Role.MEMBER)),
    }
    assert state.former_members[member.sign_pk].role is Role.ADMIN  # the last role
    # Built incrementally (apply_entry, extend_log) it is the same history.
    stepwise = genesis_state(f.genesis, f.group_id)
    for entry in f.entries[1:5]:
        stepwise = apply_entry(stepwise, entry)
    assert extend_log(stepwise, f.raw[5:]) == state


def test_role_history_stays_small_in_a_large_group() -> None:
    f = LogFactory("large roles")
    members = f.add_members(2000)
    f.set_role(members[7], Role.MODERATOR)
    state = verify_log(f.group_id, f.raw)
    assert list(state.role_history) == [members[7].sign_pk]
    assert state.role_at(members[8].sign_pk, state.seq) is Role.MEMBER


def test_role_of_someone_not_in_the_group(f: LogFactory) -> None:
    gone = f.add_member()
    f.remove(gone)
    refused(f, f.owner, RoleBody(gone.sign_pk, Role.MODERATOR), InvalidEntryError, "already")
    refused(f, f.owner, RoleBody(b"\x05" * 32, Role.MODERATOR), InvalidEntryError,
            "not a member")


# --- removal, leaving, epochs -------------------------------------------------------------


@pytest.mark.parametrize(
    ("author", "target", "error"),
    [
        (Role.OWNER, Role.OWNER, None),
        (Role.OWNER, Role.ADMIN, None),
        (Role.ADMIN, Role.MODERATOR, None),
        (Role.ADMIN, Role.MEMBER, None),
        (Role.ADMIN, Role.ADMIN, UnauthorizedEntryError),
        (Role.ADMIN, Role.OWNER, UnauthorizedEntryError),
    ],
)
def test_who_may_remove_whom(author: Role, target: Role, error: type[Exception] | None) -> None:
    f, people = roles_group()
    victims = {**people, Role.OWNER: f.add_member(Role.OWNER),
               Role.ADMIN: f.add_member(Role.ADMIN)}
    body = remove_body(f, victims[target])
    if error is None:
        state = accepted(f, people[author], body)
        gone = state.former_members[body.member]
        assert gone.removed_seq == state.seq and gone.role is target
        assert not state.is_member(body.member) and state.epoch == 1
    else:
        refused(f, people[author], body, error, "only an owner")


def test_nobody_removes_themself(f: LogFactory) -> None:
    admin = f.add_member(Role.ADMIN)
    refused(f, admin, remove_body(f, admin), InvalidEntryError, "leaves")
    refused(f, f.owner, remove_body(f, f.owner), InvalidEntryError, "leaves")


def test_remove_someone_not_in_the_group(f: LogFactory) -> None:
    gone = f.add_member()
    f.remove(gone)
    refused(f, f.owner, remove_body(f, gone), InvalidEntryError, "already")
    refused(f, f.owner, remove_body(f, f.identity()), InvalidEntryError, "not a member")


def test_epochs_advance_one_at_a_time(f: LogFactory) -> None:
    member = f.add_member()
    for skip in (-1, 1, 5):
        refused(f, f.owner, rotate_body(f, skip), InvalidEntryError, "next epoch is 1")
        refused(f, f.owner, remove_body(f, member, skip), InvalidEntryError, "next epoch is 1")
    key = f.rotate()
    state = f.state
    assert state.epoch == 1 and state.epoch_start_seq[1] == state.seq
    assert state.epoch_commitments[1] == f.commitment(1, key)
    refused(f, f.owner, rotate_body(f, -1), InvalidEntryError, "next epoch is 2")


def test_leave_sets_rotation_pending_and_rotate_or_remove_clears_it(f: LogFactory) -> None:
    leaver, other, victim = f.add_member(), f.add_member(), f.add_member()
    state = accepted(f, leaver, LeaveBody())
    assert state.rotation_pending and state.epoch == 0
    assert state.former_members[leaver.sign_pk].removed_seq == state.seq
    assert accepted(f, f.owner, rotate_body(f)).rotation_pending is False
    f.leave(other)
    assert f.state.rotation_pending
    f.remove(victim)
    assert not f.state.rotation_pending and f.state.epoch == 2
    assert f.state.can(f.owner.sign_pk, EntryKind.ROTATE)


def test_history_queries(f: LogFactory) -> None:
    early = f.add_member()              # seq 1, epoch 0
    f.remove(early)                     # seq 2 starts epoch 1
    late = f.add_member()               # seq 3
    f.rotate()                          # seq 4 starts epoch 2
    state = f.state
    assert [state.epoch_at(seq) for seq in range(5)] == [0, 0, 1, 1, 2]
    assert [state.was_member_at(early.sign_pk, s) for s in range(5)] == [
        False, True, False, False, False]
    assert [state.was_member_at(late.sign_pk, s) for s in range(5)] == [
        False, False, False, True, True]
    assert state.was_member_at(late.sign_pk, 99) is False
    assert state.hash_at(99) is None and state.hash_at(-1) is None
    assert state.member_record(early.sign_pk) == state.former_members[early.sign_pk]
    assert state.role_of(early.sign_pk) is None
    with pytest.raises(LogError, match="sync the log"):
        state.epoch_at(5)


def test_can_helper() -> None:
    f, people = roles_group()
    member, owner = people[Role.MEMBER], people[Role.OWNER]
    outsider = f.identity()
    state = f.state
    assert state.can(owner.sign_pk, EntryKind.REMOVE)
    assert not state.can(member.sign_pk, EntryKind.INVITE)
    assert state.can(member.sign_pk, EntryKind.LEAVE)
    assert not state.can(owner.sign_pk, EntryKind.LEAVE)  # last owner
    assert state.can(member.sign_pk, EntryKind.METADATA)
    assert state.can(outsider.sign_pk, EntryKind.JOIN)
    assert not state.can(member.sign_pk, EntryKind.JOIN)
    assert not state.can(owner.sign_pk, EntryKind.CREATE)


# --- metadata -----------------------------------------------------------------------------


def test_metadata_rights_and_epochs(f: LogFactory) -> None:
    member, admin = f.add_member(), f.add_member(Role.ADMIN)
    f.rotate()
    group = MetadataBody(None, 1, opaque_metadata(1))
    assert accepted(f, admin, group).group_metadata == group
    refused(f, member, MetadataBody(None, 1, b""), UnauthorizedEntryError)
    own = MetadataBody(member.sign_pk, 1, opaque_metadata(2))
    assert accepted(f, member, own).profiles[member.sign_pk] == own
    for author in (member, admin, f.owner):
        refused(f, author, MetadataBody(f.identity().sign_pk, 1, b""), UnauthorizedEntryError,
                "their own profile")
    refused(f, admin, MetadataBody(member.sign_pk, 1, b""), UnauthorizedEntryError)
    refused(f, admin, MetadataBody(None, 2, b""), InvalidEntryError, "current epoch is 1")
    refused(f, member, MetadataBody(member.sign_pk, 2, b""), InvalidEntryError)


def test_metadata_must_use_the_current_epoch(f: LogFactory) -> None:
    """Under an older epoch's key, members removed since could read it."""
    member, removed = f.add_member(), f.add_member()
    f.remove(removed)  # epoch 1: `removed` still holds epoch 0's key
    refused(f, f.owner, MetadataBody(None, 0, b"\x01" * 40), InvalidEntryError,
            "encrypted for epoch 0, but the current epoch is 1")
    refused(f, member, MetadataBody(member.sign_pk, 0, b"\x01" * 40), InvalidEntryError,
            "current epoch")
    accepted(f, f.owner, MetadataBody(None, 1, opaque_metadata(1)))
    accepted(f, member, MetadataBody(member.sign_pk, 1, opaque_metadata(2)))


# --- invites ------------------------------------------------------------------------------


def invite_body(f: LogFactory, **overrides: object) -> InviteBody:
    body = InviteBody(b"\x0c" * 16, b"\x0d" * 32, 10, f.now_ms + DAY_MS, False)
    return replace(body, **overrides)  # type: ignore[arg-type]


def test_invite_is_recorded(f: LogFactory) -> None:
    ticket = f.invite(max_uses=3, requires_approval=True)
    invite = f.state.invites[ticket.invite_id]
    assert invite.invite_pk == ticket.invite_pk and invite.max_uses == 3
    assert invite.requires_approval and invite.uses == 0 and not invite.revoked
    assert invite.created_by == f.owner.sign_pk


def test_invite_rules(f: LogFactory) -> None:
    ticket = f.invite()
    refused(f, f.owner, invite_body(f, invite_id=ticket.invite_id), InvalidEntryError,
            "already used")
    for uses in (0, 10_001):
        refused(f, f.owner, invite_body(f, max_uses=uses), InvalidEntryError, "1 to 10000")
    refused(f, f.owner, invite_body(f, expires_at_ms=0), InvalidEntryError, "expires before")
    stamp = f.now_ms + 1000
    refused(f, f.owner, invite_body(f, expires_at_ms=stamp), InvalidEntryError,
            now_ms=stamp)
    accepted(f, f.owner, invite_body(f, max_uses=1))
    accepted(f, f.owner, invite_body(f, invite_id=b"\x0e" * 16, max_uses=10_000))


def test_revoke_rules(f: LogFactory) -> None:
    refused(f, f.owner, InviteRevokeBody(b"\x01" * 16), UnknownInviteError)
    ticket = f.invite()
    f.revoke(ticket)
    assert f.state.invites[ticket.invite_id].revoked
    refused(f, f.owner, InviteRevokeBody(ticket.invite_id), InviteRevokedError)


def test_join_with_an_invite(f: LogFactory) -> None:
    ticket = f.invite(max_uses=2)
    joiner = f.join(ticket)
    state = f.state
    assert state.role_of(joiner.sign_pk) is Role.MEMBER
    assert state.invites[ticket.invite_id].uses == 1
    assert verify_log(f.group_id, f.raw) == state


def join_body(ticket: object, joiner: Identity, proof: bytes | None = None) -> JoinBody:
    from tests.crypto.logfactory import InviteTicket

    assert isinstance(ticket, InviteTicket)
    return JoinBody(ticket.invite_id, joiner.public, proof or ticket.proof(joiner.public))


def test_join_misuse(f: LogFactory) -> None:
    ticket = f.invite(max_uses=1, expires_in_ms=60_000)
    joiner = f.identity()
    # unknown invite
    unknown = replace(join_body(ticket, joiner), invite_id=b"\x00" * 16)
    refused(f, joiner, unknown, UnknownInviteError)
    # someone else signs the joiner's join
    refused(f, f.owner, join_body(ticket, joiner), UnauthorizedEntryError, "joiner themself")
    # proof for another joiner, another group, or by another key
    other = f.identity()
    refused(f, joiner, join_body(ticket, joiner, ticket.proof(other.public)), SignatureError)
    refused(f, joiner, join_body(ticket, joiner, ticket.proof(joiner.public, group_id=b"\x01"
                                                             * 32)), SignatureError)
    refused(f, joiner, join_body(ticket, joiner, b"\x00" * 64), SignatureError, "join proof")
    # expired: at and after the expiry
    expiry = f.state.invites[ticket.invite_id].expires_at_ms
    refused(f, joiner, join_body(ticket, joiner), InviteExpiredError, now_ms=expiry)
    # exhausted
    f.join(ticket)
    refused(f, joiner, join_body(ticket, joiner), InviteExhaustedError)


def test_join_with_a_revoked_invite(f: LogFactory) -> None:
    ticket = f.invite()
    f.revoke(ticket)
    joiner = f.identity()
    refused(f, joiner, join_body(ticket, joiner), InviteRevokedError)


def test_join_needs_a_preauthorised_invite(f: LogFactory) -> None:
    ticket = f.invite(requires_approval=True)
    joiner = f.identity()
    refused(f, joiner, join_body(ticket, joiner), UnauthorizedEntryError, "approval")
    approved = f.approve(ticket, identity=joiner)
    assert f.state.is_member(approved.sign_pk)
    assert f.state.invites[ticket.invite_id].uses == 1


def test_add_with_an_invite_checks_the_invite(f: LogFactory) -> None:
    admin = f.add_member(Role.ADMIN)
    ticket = f.invite(max_uses=1, requires_approval=True)
    joiner = f.identity()
    proof = ticket.proof(joiner.public)
    refused(f, admin, AddBody(joiner.public, Role.MEMBER, ticket.invite_id, None),
            InvalidEntryError, "both")
    refused(f, admin, AddBody(joiner.public, Role.MEMBER, None, proof), InvalidEntryError)
    refused(f, admin, AddBody(joiner.public, Role.MEMBER, b"\x00" * 16, proof),
            UnknownInviteError)
    refused(f, admin, AddBody(joiner.public, Role.MEMBER, ticket.invite_id, b"\x01" * 64),
            SignatureError)
    f.approve(ticket, by=admin)
    refused(f, admin, AddBody(joiner.public, Role.MEMBER, ticket.invite_id, proof),
            InviteExhaustedError)
    ticket2 = f.invite(requires_approval=True)
    f.revoke(ticket2)
    refused(f, admin, AddBody(joiner.public, Role.MEMBER, ticket2.invite_id,
                              ticket2.proof(joiner.public)), InviteRevokedError)


# --- high-water marks: rollback and fork ---------------------------------------------------


def test_checkpoint_round_trip() -> None:
    cp = LogCheckpoint(b"\x01" * 32, 7, b"\x02" * 32)
    assert LogCheckpoint.decode(cp.encode()) == cp
    assert len(cp.encode()) == 74
    with pytest.raises(MalformedError):
        LogCheckpoint.decode(cp.encode() + b"\x00")
    with pytest.raises(MalformedError):
        LogCheckpoint.decode(cp.encode()[:-1])


def test_rollback_and_fork_are_distinct() -> None:
    assert not issubclass(RollbackError, ForkError)
    assert not issubclass(ForkError, RollbackError)
    assert RollbackError.code != ForkError.code


def test_verify_with_checkpoint(f: LogFactory) -> None:
    for _ in range(3):
        f.add_member()
    cp = f.state.checkpoint()
    assert verify_log(f.group_id, f.raw, checkpoint=cp) == f.state
    f.rotate()
    assert verify_log(f.group_id, f.raw, checkpoint=cp).seq == cp.seq + 1
    genesis_cp = LogCheckpoint(f.group_id, 0, f.genesis.hash)
    assert verify_log(f.group_id, f.raw, checkpoint=genesis_cp) == f.state


def test_rollback_is_detected(f: LogFactory) -> None:
    victim = f.add_member()
    f.remove(victim)
    cp = f.state.checkpoint()
    served = f.raw[:-1]  # the relay hides the removal
    with pytest.raises(RollbackError, match="older log than this device already verified"):
        verify_log(f.group_id, served, checkpoint=cp)
    with pytest.raises(RollbackError):
        check_checkpoint(verify_log(f.group_id, served), cp)
    with pytest.raises(RollbackError):
        check_checkpoint([e.hash for e in f.entries[:-1]], cp)
    with pytest.raises(RollbackError):
        verify_log(f.group_id, [], checkpoint=cp)


def forked_pair() -> tuple[LogFactory, LogFactory]:
    """Two views of one group that agree up to entry 2 and differ from entry 3 on."""
    a, b = LogFactory("fork"), LogFactory("fork")
    for view in (a, b):
        view.add_member()
        view.add_member()
    assert a.raw == b.raw
    a.add_member(Role.MODERATOR)
    b.add_member(Role.ADMIN)
    a.rotate()
    b.rotate()
    return a, b


def test_fork_is_detected() -> None:
    a, b = forked_pair()
    cp = a.state.checkpoint()
    with pytest.raises(ForkError, match="different entry 4"):
        verify_log(b.group_id, b.raw, checkpoint=cp)
    with pytest.raises(ForkError, match="fork"):
        check_checkpoint(b.state, cp)
    with pytest.raises(ForkError):
        check_same_entry(a.state, 3, b.entries[3].hash)
    check_same_entry(a.state, 2, b.entries[2].hash)  # shared history is fine
    check_same_entry(a.state, 50, b"\x00" * 32)  # beyond what we know: not a fork
    # A longer forked log is still a fork, not a rollback.
    b.add_member()
    with pytest.raises(ForkError):
        verify_log(b.group_id, b.raw, checkpoint=cp)


def test_fork_is_named_even_if_the_forked_branch_breaks_later() -> None:
    a, b = forked_pair()
    cp = LogCheckpoint(a.group_id, 3, a.entries[3].hash)
    broken = [*b.raw[:4], b.raw[0]]
    with pytest.raises(ForkError):
        verify_log(b.group_id, broken, checkpoint=cp)


def test_checkpoint_of_another_group(f: LogFactory) -> None:
    other = LogFactory("another group")
    with pytest.raises(GroupIdMismatchError):
        verify_log(f.group_id, f.raw, checkpoint=other.state.checkpoint())
    with pytest.raises(GroupIdMismatchError):
        check_checkpoint(f.state, other.state.checkpoint())


# --- size -----------------------------------------------------------------------------------


def test_a_two_thousand_member_group_verifies() -> None:
    f = LogFactory("big group")
    admins = f.add_members(3, Role.ADMIN)
    ticket = f.invite(by=admins[0], max_uses=999)
    for _ in range(999):
        f.join(ticket)
    f.add_members(1000, by=admins[1])
    f.remove(f.add_member(), by=admins[2])
    state = verify_log(f.group_id, f.raw, now_ms=f.now_ms)
    assert len(state.members) == 1 + 3 + 999 + 1000
    assert state == f.state
    assert state.invites[ticket.invite_id].uses == 999
    assert state.epoch == 1 and state.seq == len(f.entries) - 1
    latecomer = f.identity()
    refused(f, latecomer, join_body(ticket, latecomer), InviteExhaustedError)


def test_an_invite_dies_with_its_creators_admin_rights(f: LogFactory) -> None:
    removed_admin = f.add_member(Role.ADMIN)
    demoted_admin = f.add_member(Role.ADMIN)
    by_removed = f.invite(by=removed_admin)
    by_demoted = f.invite(by=demoted_admin)
    by_owner = f.invite()
    f.remove(removed_admin)
    f.set_role(demoted_admin, Role.MEMBER)
    with pytest.raises(InviteRevokedError, match="creator is no longer an admin"):
        f.join(by_removed)
    with pytest.raises(InviteRevokedError, match="creator is no longer an admin"):
        f.approve(by_demoted)
    joiner = f.join(by_owner)  # invites of a creator who keeps the right still work
    assert f.state.is_member(joiner.sign_pk)


def test_metadata_must_be_an_envelope(f: LogFactory) -> None:
    refused(f, f.owner, MetadataBody(None, 0, b"\x01" * 40), InvalidEntryError,
            "no valid metadata envelope")
