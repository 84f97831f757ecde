"""Membership-log entries: wire format, signatures, strict decoding, builders."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.crypto.logfactory import T0, LogFactory, seeded_random
from vault.crypto import labels
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import PROTOCOL_VERSION, Tag, Writer
from vault.crypto.errors import MalformedError, SignatureError, TooLargeError, VaultError
from vault.crypto.group_state import new_entry
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.limits import MAX_LOG_ENTRY_SIZE as MAX_ENTRY_SIZE
from vault.crypto.limits import MAX_METADATA_ENVELOPE_SIZE as MAX_METADATA_CIPHERTEXT
from vault.crypto.log import LogEntry, create_group, group_id_of, join_proof_message, sign_entry
from vault.crypto.log_entries import (
    BODY_TYPES,
    AddBody,
    AddRotateBody,
    CreateBody,
    DeleteGroupBody,
    EntryBody,
    EntryKind,
    HistoryBody,
    HistoryPolicy,
    InviteBody,
    InviteRevokeBody,
    JoinBody,
    LeaveBody,
    MetadataBody,
    RemoveBody,
    Role,
    RoleBody,
    RotateBody,
    decode_body,
)
from vault.crypto.log_verify import genesis_state
from vault.crypto.primitives import ZERO_HASH, labelled_hash, sign, verify

ALICE = Identity(b"\x01" * 32, b"\x02" * 32)
BOB = Identity(b"\x03" * 32, b"\x04" * 32)
KEY = b"\x07" * 32
GROUP = b"\x09" * 32


def genesis(now_ms: int = T0, seed: str = "g") -> LogEntry:
    return create_group(ALICE, KEY, now_ms=now_ms, random=seeded_random(seed))


def raw_entry(
    author: Identity, kind: int, body: bytes, *, seq: int = 1, group_id: bytes = GROUP,
    prev_hash: bytes = ZERO_HASH, timestamp_ms: int = T0,
) -> bytes:
    """Hand-built entry bytes (for shapes the encoder refuses to produce)."""
    signed = (
        Writer(Tag.LOG_ENTRY).fixed(group_id, 32).u64(seq).fixed(prev_hash, 32)
        .fixed(author.sign_pk, 32).u64(timestamp_ms).u8(kind).var(body).finish()
    )
    return signed + sign(author.sign_sk, labels.LOG_ENTRY_SIGNATURE, signed)


# --- genesis and builders -----------------------------------------------------------------


def test_create_group_makes_a_signed_genesis() -> None:
    entry = genesis()
    assert entry.seq == 0
    assert entry.group_id == ZERO_HASH and entry.prev_hash == ZERO_HASH
    assert entry.author == ALICE.sign_pk
    assert entry.timestamp_ms == T0
    assert entry.kind is EntryKind.CREATE
    assert isinstance(entry.body, CreateBody)
    assert entry.body.creator == ALICE.public
    assert entry.body.group_nonce == seeded_random("g")(16)
    assert entry.body.epoch_commitment == epoch_commitment(ZERO_HASH, 0, KEY)
    assert LogEntry.decode(entry.raw) == entry
    assert entry.encode() is entry.raw


def test_group_id_commits_to_the_genesis_bytes() -> None:
    entry = genesis()
    assert group_id_of(entry) == labelled_hash(labels.GROUP_ID, entry.raw)
    assert group_id_of(genesis()) == group_id_of(entry)  # same inputs, same group
    assert group_id_of(genesis(seed="other")) != group_id_of(entry)  # fresh nonce, new group
    assert entry.hash == labelled_hash(labels.LOG_ENTRY_HASH, entry.raw)
    assert entry.hash != group_id_of(entry)


def test_commitment_group_id_is_zero_only_for_epoch_zero() -> None:
    assert commitment_group_id(GROUP, 0) == ZERO_HASH
    assert commitment_group_id(GROUP, 1) == GROUP


def test_new_entry_follows_the_state_and_never_goes_back_in_time() -> None:
    state = genesis_state(genesis(now_ms=T0))
    entry = new_entry(state, ALICE, LeaveBody(), now_ms=T0 + 5)
    assert (entry.group_id, entry.seq, entry.prev_hash) == (state.group_id, 1, state.head)
    assert entry.timestamp_ms == T0 + 5
    slow_clock = new_entry(state, ALICE, LeaveBody(), now_ms=T0 - 60_000)
    assert slow_clock.timestamp_ms == T0


def test_join_proof_message_layout() -> None:
    invite_id = b"\x05" * 16
    message = join_proof_message(GROUP, invite_id, BOB.public)
    assert message == GROUP + invite_id + BOB.public.encode()
    with pytest.raises(ValueError):
        join_proof_message(GROUP[:31], invite_id, BOB.public)


# --- every body round-trips -----------------------------------------------------------------

identities = st.sampled_from([ALICE.public, BOB.public])
b16 = st.binary(min_size=16, max_size=16)
b32 = st.binary(min_size=32, max_size=32)
b64 = st.binary(min_size=64, max_size=64)
u64 = st.integers(min_value=0, max_value=2**64 - 1)
roles = st.sampled_from(list(Role))

bodies: st.SearchStrategy[EntryBody] = st.one_of(
    st.builds(CreateBody, identities, b16, b32),
    st.builds(InviteBody, b16, b32, st.integers(0, 2**32 - 1), u64, st.booleans()),
    st.builds(InviteRevokeBody, b16),
    st.builds(JoinBody, b16, identities, b64),
    st.builds(AddBody, identities, roles, st.none() | b16, st.none() | b64),
    st.builds(AddRotateBody, identities, roles, st.none() | b16, st.none() | b64, u64, b32),
    st.builds(RemoveBody, b32, u64, b32),
    st.just(LeaveBody()),
    st.builds(RoleBody, b32, roles),
    st.builds(RotateBody, u64, b32),
    st.builds(MetadataBody, st.none() | b32, u64, st.binary(max_size=300)),
    st.builds(HistoryBody, st.sampled_from([p for p in HistoryPolicy
                                            if p is not HistoryPolicy.FROM_EPOCH])),
    st.builds(HistoryBody, st.just(HistoryPolicy.FROM_EPOCH), u64),
    st.just(DeleteGroupBody()),
)


def test_every_kind_has_a_body_type() -> None:
    assert set(BODY_TYPES) == set(EntryKind)
    assert all(cls.KIND is kind for kind, cls in BODY_TYPES.items())


@given(body=bodies, seq=u64, timestamp=u64, group_id=b32, prev=b32)
@settings(max_examples=200, suppress_health_check=[HealthCheck.too_slow])
def test_entry_round_trip_for_every_body(
    body: EntryBody, seq: int, timestamp: int, group_id: bytes, prev: bytes
) -> None:
    entry = sign_entry(BOB, body, group_id=group_id, seq=seq, prev_hash=prev,
                       timestamp_ms=timestamp)
    decoded = LogEntry.decode(entry.raw)
    assert decoded == entry
    assert decoded.raw == entry.raw
    assert decoded.kind is body.KIND
    assert decode_body(body.KIND, body.encode()) == body
    verify(BOB.sign_pk, labels.LOG_ENTRY_SIGNATURE, entry.raw[:-64], entry.signature, "entry")


def sample_entries() -> list[LogEntry]:
    """One valid entry of every kind, from a real log."""
    f = LogFactory("sample")
    member = f.add_member()
    ticket = f.invite(max_uses=3)
    f.join(ticket)
    f.approve(ticket)
    f.set_role(member, Role.MODERATOR)
    f.set_metadata()
    f.revoke(ticket)
    f.leave(member)
    f.rotate()
    f.remove(f.add_member())
    f.add_rotating(f.invite(max_uses=1, requires_approval=True))
    f.append(f.owner, HistoryBody(HistoryPolicy.CURRENT))
    f.append(f.owner, DeleteGroupBody())
    kinds = {entry.kind for entry in f.entries}
    assert kinds == set(EntryKind)
    return f.entries


SAMPLES = sample_entries()


@given(data=st.data())
@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow])
def test_any_single_byte_change_is_rejected(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(SAMPLES))
    index = data.draw(st.integers(0, len(entry.raw) - 1))
    delta = data.draw(st.integers(1, 255))
    tampered = bytearray(entry.raw)
    tampered[index] ^= delta
    with pytest.raises((MalformedError, SignatureError)):
        LogEntry.decode(bytes(tampered))


@given(data=st.data())
@settings(max_examples=100)
def test_truncated_or_extended_entries_are_rejected(data: st.DataObject) -> None:
    entry = data.draw(st.sampled_from(SAMPLES))
    cut = data.draw(st.integers(0, len(entry.raw) - 1))
    with pytest.raises(MalformedError):
        LogEntry.decode(entry.raw[:cut])
    extra = data.draw(st.binary(min_size=1, max_size=8))
    with pytest.raises(MalformedError, match="trailing"):
        LogEntry.decode(entry.raw + extra)


# --- strict decoding ------------------------------------------------------------------------


def test_signature_by_another_key_is_rejected() -> None:
    good = raw_entry(ALICE, EntryKind.LEAVE, b"")
    forged = good[:-64] + sign(BOB.sign_sk, labels.LOG_ENTRY_SIGNATURE, good[:-64])
    with pytest.raises(SignatureError, match="log entry 1"):
        LogEntry.decode(forged)
    assert LogEntry.decode(good).kind is EntryKind.LEAVE


def test_signature_under_another_label_is_rejected() -> None:
    good = raw_entry(ALICE, EntryKind.LEAVE, b"")
    relabelled = good[:-64] + sign(ALICE.sign_sk, labels.POST_SIGNATURE, good[:-64])
    with pytest.raises(SignatureError):
        LogEntry.decode(relabelled)


def test_unknown_kind_is_malformed() -> None:
    for kind in (0, 14, 255):
        with pytest.raises(MalformedError, match="unknown entry kind"):
            LogEntry.decode(raw_entry(ALICE, kind, b""))


def test_trailing_bytes_inside_a_body_are_malformed() -> None:
    with pytest.raises(MalformedError, match="trailing"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.LEAVE, b"\x00"))
    body = RotateBody(1, b"\x01" * 32).encode() + b"\x00"
    with pytest.raises(MalformedError, match="trailing"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.ROTATE, body))


def test_truncated_body_is_malformed() -> None:
    body = RotateBody(1, b"\x01" * 32).encode()[:-1]
    with pytest.raises(MalformedError, match="truncated"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.ROTATE, body))


def test_unknown_role_and_bad_flags_are_malformed() -> None:
    body = Writer().fixed(BOB.sign_pk, 32).u8(4).finish()
    with pytest.raises(MalformedError, match="unknown role"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.ROLE, body))
    invite = bytearray(InviteBody(b"\x01" * 16, b"\x02" * 32, 1, T0, False).encode())
    invite[-1] = 2
    with pytest.raises(MalformedError, match="0 or 1"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.INVITE, bytes(invite)))


def test_nested_identity_must_have_its_header_and_binding() -> None:
    good = AddBody(BOB.public, Role.MEMBER).encode()
    wrong_tag = bytes((Tag.LOG_ENTRY, PROTOCOL_VERSION)) + good[2:]
    with pytest.raises(MalformedError, match="public identity"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.ADD, wrong_tag))
    swapped = PublicIdentity(BOB.public.sign_pk, ALICE.public.box_pk, BOB.public.binding_sig)
    body = AddBody(swapped, Role.MEMBER).encode()
    with pytest.raises(SignatureError, match="identity binding"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.ADD, body))


def test_not_a_log_entry() -> None:
    with pytest.raises(MalformedError, match="not a log entry"):
        LogEntry.decode(BOB.public.encode())
    with pytest.raises(MalformedError):
        LogEntry.decode(b"")
    wrong_version = bytearray(raw_entry(ALICE, EntryKind.LEAVE, b""))
    wrong_version[1] = 2
    with pytest.raises(MalformedError, match="version 2"):
        LogEntry.decode(bytes(wrong_version))


def test_size_limits() -> None:
    too_big = raw_entry(ALICE, EntryKind.METADATA, b"\x00" * MAX_ENTRY_SIZE)
    with pytest.raises(TooLargeError, match="at most 65536"):
        LogEntry.decode(too_big)
    with pytest.raises(TooLargeError):
        MetadataBody(None, 0, b"\x00" * (MAX_METADATA_CIPHERTEXT + 1))
    fits = MetadataBody(None, 0, b"\x00" * MAX_METADATA_CIPHERTEXT)
    entry = sign_entry(ALICE, fits, group_id=GROUP, seq=1, prev_hash=ZERO_HASH, timestamp_ms=T0)
    assert LogEntry.decode(entry.raw) == entry
    over = Writer().flag(False).u64(0).var(b"\x00" * (MAX_METADATA_CIPHERTEXT + 1)).finish()
    with pytest.raises(MalformedError, match="at most 16384"):
        LogEntry.decode(raw_entry(ALICE, EntryKind.METADATA, over))


def test_errors_are_vault_errors_without_secrets() -> None:
    try:
        LogEntry.decode(raw_entry(ALICE, 99, b""))
    except VaultError as exc:
        assert exc.code == "malformed"
        assert KEY.hex() not in exc.message
