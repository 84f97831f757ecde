"""The membership log through a hostile relay: insertions, key swaps, rollbacks, forks,
drops, reorders, replays and tampering. Each is refused with its specific error, and the
refusing device keeps the log it had verified (memory and disk) and its members list."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from vault_client import Client, InvalidPost, Role, UnknownLogHead

from tests.adversarial.conftest import circle, stored_checkpoint, texts
from tests.adversarial.hostile import HostileRelay
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    ChainBrokenError,
    ForkError,
    GroupIdMismatchError,
    MalformedError,
    RollbackError,
    SignatureError,
    TooLargeError,
    UnauthorizedEntryError,
    UnknownInviteError,
    VaultError,
)
from vault.crypto.group_state import new_entry
from vault.crypto.identity import Identity
from vault.crypto.invites import parse_invite_uri
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import AddBody, EntryKind, JoinBody
from vault.crypto.log_verify import verify_log

AUTHOR_AT = 2 + 32 + 8 + 32  # tag, version, group id, seq, previous hash: then the author


def snapshot(client: Client, gid: str) -> tuple[object, ...]:
    """What a refused sync must leave alone: the verified log (memory and disk), the
    members, the epoch and the posts."""
    info = client.group(gid)
    return (info.log_seq, info.log_head, info.epoch, stored_checkpoint(client, gid),
            sorted((m.member_id, m.role) for m in client.members(gid)), texts(client, gid))


def true_state(hostile: HostileRelay, gid: str):  # type: ignore[no-untyped-def]
    return verify_log(b64decode(gid), hostile.log(b64decode(gid)))


# --- insertion -------------------------------------------------------------------------------


def _unsigned_add(state, ann_pk: bytes, link) -> tuple[bytes, type[VaultError]]:  # type: ignore[no-untyped-def]
    rogue = Identity.generate()  # a key the relay made: never a member
    return new_entry(state, rogue, AddBody(rogue.public, Role.OWNER)).raw, UnauthorizedEntryError


def _add_in_owner_name(state, ann_pk: bytes, link) -> tuple[bytes, type[VaultError]]:  # type: ignore[no-untyped-def]
    rogue = Identity.generate()  # the relay cannot sign as the owner: it claims to
    raw = new_entry(state, rogue, AddBody(rogue.public, Role.ADMIN)).raw
    return raw[:AUTHOR_AT] + ann_pk + raw[AUTHOR_AT + 32:], SignatureError


def _join_without_invite(state, ann_pk: bytes, link) -> tuple[bytes, type[VaultError]]:  # type: ignore[no-untyped-def]
    rogue = Identity.generate()
    body = JoinBody(b"\x07" * 16, rogue.public, b"\x00" * 64)
    return new_entry(state, rogue, body).raw, UnknownInviteError


def _join_with_forged_proof(state, ann_pk: bytes, link) -> tuple[bytes, type[VaultError]]:  # type: ignore[no-untyped-def]
    rogue = Identity.generate()  # a real, open invite, but the relay lacks its secret
    body = JoinBody(link.invite_id, rogue.public, rogue.sign(b"vault/v1/join-proof", b"x"))
    return new_entry(state, rogue, body).raw, SignatureError


INSERTIONS = {
    "add-by-a-key-the-relay-made": _unsigned_add,
    "add-in-the-owners-name": _add_in_owner_name,
    "join-by-an-invite-never-made": _join_without_invite,
    "join-with-a-forged-invite-proof": _join_with_forged_proof,
}


@pytest.mark.parametrize("how", list(INSERTIONS))
def test_relay_inserts_member_into_log(people: SimpleNamespace, hostile: HostileRelay,
                                       canary: Callable[[str], str], how: str) -> None:
    ann, ben, dan = people.ann, people.ben, people.dan
    gid = circle(canary, ann, ben)
    open_invite = ann.create_invite(gid, max_uses=5, require_approval=False)
    invite = ann.create_invite(gid, max_uses=1)
    ben.sync(gid)
    state = true_state(hostile, gid)
    forged, error = INSERTIONS[how](state, b64decode(ann.me(gid).member_id),
                                    parse_invite_uri(open_invite.uri))
    before = snapshot(ben, gid)
    for name in ("ben", "dan"):
        hostile.view(name).log = lambda _gid, log: [*log, forged]

    with pytest.raises(error):
        ben.sync(gid)
    assert snapshot(ben, gid) == before
    # A device joining now verifies the log from its genesis: it refuses, and keeps nothing.
    with pytest.raises(error):
        dan.join(invite.uri)
    assert gid not in {g.group_id for g in dan.groups()}

    hostile.reset()  # the relay behaves again: nothing was lost
    ben.sync(gid)
    assert len(ben.members(gid)) == 2


def test_relay_inserts_member_into_member_list(people: SimpleNamespace, hostile: HostileRelay,
                                               canary: Callable[[str], str]) -> None:
    """The relay's own member list is not the log: a key the relay lets in (its database
    says "member") can read ciphertext and upload, but members neither count it, nor grant
    it keys, nor show what it uploads."""
    from vault_client._internal.transport import MemberAuth, Transport

    from vault.crypto.epochs import new_epoch_key
    from vault.crypto.errors import DecryptionError
    from vault.crypto.post_body import PostBody, PostKind
    from vault.crypto.posts import PostEnvelope, open_post, seal_post

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    secret = canary("post")
    ann.post(gid, secret)
    eve = Identity.generate()
    hostile.add_to_member_list(b64decode(gid), eve.sign_pk)

    relay = Transport("https://relay.hostile.test", transport=hostile.view("eve"), retry_for=0)
    auth = MemberAuth(b64decode(gid), eve)
    assert relay.grants(auth) == []  # nobody grants a key to someone outside the log
    state = true_state(hostile, gid)
    made_up = new_epoch_key()
    for post in relay.posts(auth, None).posts:  # the relay serves her the ciphertext...
        assert post.envelope is not None
        with pytest.raises(DecryptionError):  # ...which no key she can make opens
            open_post(PostEnvelope.decode(post.envelope), made_up, state)
    body = PostBody(author=eve.sign_pk, group_id=state.group_id, epoch=state.epoch,
                    post_id=b"\x42" * 16, author_seq=1, log_seq=state.seq, log_head=state.head,
                    timestamp_ms=state.timestamp_ms, kind=PostKind.POST, refs=(),
                    text=canary("outsider post"))
    envelope = seal_post(eve, made_up, body)
    relay.put_post(auth, body.post_id, envelope.encode())

    for member in (ann, ben):
        report = member.sync(gid)[0]
        (warning,) = [w for w in report.warnings if isinstance(w, InvalidPost)]
        assert warning.post_id == b64encode(body.post_id)
        assert warning.code == DecryptionError.code
        assert texts(member, gid) == [secret]
        assert b64encode(eve.sign_pk) not in {m.member_id for m in member.members(gid)}
    assert all(r != eve.sign_pk for r in _grant_recipients(hostile, gid))
    relay.close()


def _grant_recipients(hostile: HostileRelay, gid: str) -> list[bytes]:
    from vault.crypto.epochs import EpochGrant

    return [EpochGrant.decode(raw).recipient for _e, raw in hostile.all_grants(b64decode(gid))]


# --- keys --------------------------------------------------------------------------------------


def _swap_keys(member_pk: bytes, rogue: Identity, *, whole: bool) -> Callable[
        [bytes, list[bytes]], list[bytes]]:
    """A log rewrite putting *rogue*'s box key (or its whole, self-consistent identity) in
    place of *member_pk*'s in the entry that admitted that member."""

    def rewrite(_gid: bytes, log: list[bytes]) -> list[bytes]:
        out = []
        for raw in log:
            if LogEntry.decode(raw).kind in (EntryKind.ADD, EntryKind.JOIN):
                at = raw.find(member_pk, AUTHOR_AT + 32)
                if at > 0 and whole:
                    raw = raw[:at - 2] + rogue.public.encode() + raw[at - 2 + 130:]
                elif at > 0:
                    raw = raw[:at + 32] + rogue.public.box_pk + raw[at + 64:]
            out.append(raw)
        return out

    return rewrite


def test_relay_swaps_member_public_keys(people: SimpleNamespace, hostile: HostileRelay,
                                        canary: Callable[[str], str]) -> None:
    """The relay puts its own keys in place of a member's in the entry that admitted them
    (so that grants would be sealed to the relay): the entry's signature no longer verifies,
    for a device verifying the log from its genesis and for one extending its log."""
    ann, ben, cleo, dan = people.ann, people.ben, people.cleo, people.dan
    gid = circle(canary, ann, ben)
    ben_pk = b64decode(ben.me(gid).member_id)
    rogue = Identity.generate()
    for whole in (False, True):
        hostile.view("dan").log = _swap_keys(ben_pk, rogue, whole=whole)
        invite = ann.create_invite(gid, max_uses=1)
        with pytest.raises(SignatureError):
            dan.join(invite.uri)
        assert gid not in {g.group_id for g in dan.groups()}

    # Ben already verified the log; Ann admits Cleo, and the relay swaps Cleo's keys in
    # what it extends Ben's log with.
    ben.sync(gid)
    before = snapshot(ben, gid)
    invite = ann.create_invite(gid, max_uses=1)
    joined = cleo.join(invite.uri)
    ann.approve(gid, joined.member_id, share_history="current")  # type: ignore[arg-type]
    cleo_pk = b64decode(joined.member_id)
    for whole in (False, True):
        hostile.view("ben").log = _swap_keys(cleo_pk, rogue, whole=whole)
        with pytest.raises(SignatureError):
            ben.sync(gid)
        assert snapshot(ben, gid) == before
    hostile.reset()
    ben.sync(gid)
    assert b64encode(cleo_pk) in {m.member_id for m in ben.members(gid)}


def test_relay_swaps_genesis_for_joiner(people: SimpleNamespace, hostile: HostileRelay,
                                        canary: Callable[[str], str]) -> None:
    """A joiner's invite pins the group id, a hash of the genesis entry: a relay that
    serves another genesis (its own group, with its keys as owner) is caught."""
    ann, ben, dan = people.ann, people.ben, people.dan
    gid = circle(canary, ann, ben)
    other = circle(canary, ben)  # another real group on the same relay
    invite = ann.create_invite(gid, max_uses=1)
    hostile.view("dan").log = lambda g, log: hostile.log(b64decode(other))
    with pytest.raises(GroupIdMismatchError):
        dan.join(invite.uri)
    assert gid not in {g.group_id for g in dan.groups()}


# --- rollback, fork, and a log out of shape ----------------------------------------------------


def test_relay_rolls_back_log(people: SimpleNamespace, hostile: HostileRelay,
                              canary: Callable[[str], str]) -> None:
    """Ben verified the log up to Cleo's removal; the relay then serves the log as it was
    before (to make him post under a key Cleo holds): a RollbackError, however much it
    cuts, and Ben's device neither forgets the removal nor moves its high-water mark."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ann.remove(gid, cleo.me(gid).member_id)
    ben.sync(gid)
    before = snapshot(ben, gid)
    seq = before[0]
    assert isinstance(seq, int)
    for keep in (seq, seq - 1, 1):  # the head itself cut off, two entries, all but the genesis
        hostile.view("ben").log = lambda _g, log, keep=keep: log[:keep]
        with pytest.raises(RollbackError):
            ben.sync(gid)
        with pytest.raises(RollbackError):  # and it will not write on the old log either
            ben.post(gid, canary("post"))
        assert snapshot(ben, gid) == before
    assert len(ben.members(gid)) == 2
    hostile.reset()
    ben.sync(gid)


def test_relay_forks_log(people: SimpleNamespace, hostile: HostileRelay,
                         canary: Callable[[str], str]) -> None:
    """Two admins write at the same time; the relay keeps both (no compare-and-swap) and
    shows each side its own entry at the same seq. What Dan then writes names a log head
    nobody else has (UnknownLogHead, the post kept aside), and as soon as Dan is shown the
    other branch his device raises ForkError, keeps its own, and refuses to write."""
    ann, ben, dan = people.ann, people.ben, people.dan
    gid = circle(canary, ann, ben, dan)
    ann.set_role(gid, dan.me(gid).member_id, Role.ADMIN)
    for person in (ben, dan):
        person.sync(gid)
    forked: list[bytes] = []

    def swallow_append(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path.endswith("/log"):
            raw = b64decode(json.loads(request.content)["entry"])
            forked.append(raw)  # "stored", as far as Dan can tell
            entry = LogEntry.decode(raw)
            return httpx.Response(201, json={"seq": entry.seq, "head": b64encode(entry.hash),
                                             "cursor": "1"})
        return None

    dan_view = hostile.view("dan")
    dan_view.intercept = swallow_append
    dan_view.log = lambda _g, log: [*log[:LogEntry.decode(forked[0]).seq], *forked] \
        if forked else log
    dan.create_invite(gid, max_uses=3)  # Dan's branch: an invite at seq N
    ann.create_invite(gid, max_uses=1)  # the stored branch: another invite at seq N
    dan_view.intercept = None
    message = dan.post(gid, canary("post on a fork"))
    assert message.delivered
    dan_side = snapshot(dan, gid)

    for member in (ann, ben):
        report = member.sync(gid)[0]
        (warning,) = [w for w in report.warnings if isinstance(w, UnknownLogHead)]
        assert warning.post_id == message.post_id
        assert message.post_id not in {p.post_id for p in member.posts(gid)}

    dan_view.reset()  # Dan is shown the stored branch
    with pytest.raises(ForkError):
        dan.sync(gid)
    assert snapshot(dan, gid) == dan_side
    with pytest.raises(ForkError):
        dan.post(gid, canary("post"))
    with pytest.raises(ForkError):
        dan.create_invite(gid)


@pytest.mark.parametrize("how", ["drops-an-entry", "reorders-entries", "replays-an-entry",
                                 "serves-another-groups-entries"])
def test_relay_serves_log_out_of_shape(people: SimpleNamespace, hostile: HostileRelay,
                                       canary: Callable[[str], str], how: str) -> None:
    """Entries after the device's checkpoint that are missing, out of order, repeated or
    from another group's log: the chain is broken (another group's log differs at the
    checkpoint itself: a fork)."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    before = snapshot(ben, gid)
    seq = before[0]
    assert isinstance(seq, int)
    for _ in range(3):
        ann.create_invite(gid)
    other = gid
    if how == "serves-another-groups-entries":
        other = circle(canary, ann)
        for _ in range(seq):  # longer than Ben's log: not a rollback
            ann.create_invite(other)
    rewrites: dict[str, Callable[[bytes, list[bytes]], list[bytes]]] = {
        "drops-an-entry": lambda _g, log: [*log[:seq + 2], *log[seq + 3:]],
        "reorders-entries": lambda _g, log: [*log[:seq + 1], log[seq + 2], log[seq + 1],
                                             *log[seq + 3:]],
        "replays-an-entry": lambda _g, log: [*log, log[-1]],
        "serves-another-groups-entries": lambda _g, _log: hostile.log(b64decode(other)),
    }
    hostile.view("ben").log = rewrites[how]
    expected = ForkError if how == "serves-another-groups-entries" else ChainBrokenError
    with pytest.raises(expected):
        ben.sync(gid)
    assert snapshot(ben, gid) == before


def test_relay_tampers_with_log_entry_bytes(people: SimpleNamespace, hostile: HostileRelay,
                                            canary: Callable[[str], str]) -> None:
    """Every single byte of a new entry (a metadata entry: Ann renames the group), flipped
    in turn: each is refused with SignatureError (or MalformedError when the change breaks
    the encoding before the signature can be checked), and never moves the checkpoint."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    before = snapshot(ben, gid)
    seq = before[0]
    assert isinstance(seq, int)
    ann.update_group(gid, name=canary("new group name"))
    fresh = hostile.log(b64decode(gid))[seq + 1]
    seen: set[type[VaultError]] = set()
    for index in range(len(fresh)):
        bad = bytearray(fresh)
        bad[index] ^= 0x01
        hostile.view("ben").log = lambda _g, log, bad=bytes(bad): [*log[:seq + 1], bad]
        with pytest.raises((SignatureError, MalformedError, TooLargeError)) as raised:
            ben.sync(gid)
        seen.add(type(raised.value))
    assert SignatureError in seen
    assert snapshot(ben, gid) == before
    hostile.reset()
    ben.sync(gid)
    assert ben.group(gid).name == ann.group(gid).name
