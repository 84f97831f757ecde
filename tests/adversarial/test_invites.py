"""Invites and joining through a hostile relay: admissions the log does not allow (an invite
past its uses or its expiry), an approval no admin gave, a join the relay acknowledged and
dropped, and a join request whose keys the relay swapped. The relay cannot admit anyone."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from vault_client import Client, InvalidPost
from vault_client.errors import JoinPendingError

from tests.adversarial.conftest import circle, stored_checkpoint
from tests.adversarial.hostile import HostileRelay
from tests.adversarial.test_log import snapshot
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    InvalidEntryError,
    InviteExhaustedError,
    InviteExpiredError,
    NotFoundError,
    RollbackError,
    SignatureError,
)
from vault.crypto.identity import Identity
from vault.crypto.invites import InviteLink, join_proof, make_join_request, parse_invite_uri
from vault.crypto.log import sign_entry
from vault.crypto.log_entries import JoinBody
from vault.crypto.log_verify import verify_log


def joined_by_relay(hostile: HostileRelay, gid: str, uri: str, *, timestamp_ms: int
                    ) -> Identity:
    """Someone holding a leaked QR code joins with the invite's secret (a valid proof), and
    the relay takes the entry into its log and its member list without checking any rule."""
    gid_b = b64decode(gid)
    link = parse_invite_uri(uri)
    state = verify_log(gid_b, hostile.log(gid_b))
    outsider = Identity.generate()
    proof = join_proof(link.secret, gid_b, link.invite_id, outsider.public)
    entry = sign_entry(outsider, JoinBody(link.invite_id, outsider.public, proof),
                       group_id=gid_b, seq=state.seq + 1, prev_hash=state.head,
                       timestamp_ms=max(timestamp_ms, state.timestamp_ms))
    hostile.admit(gid_b, entry.raw, member=outsider.sign_pk)
    return outsider


def assert_refused_everywhere(members: list[Client], gid: str, error: type[Exception]) -> None:
    for member in members:
        before = snapshot(member, gid)
        with pytest.raises(error):
            member.sync(gid)
        with pytest.raises(error):  # nor will it write to a group whose log it refuses
            member.post(gid, "never sent")
        assert snapshot(member, gid) == before


def test_relay_admits_joiner_past_max_uses(people: SimpleNamespace, hostile: HostileRelay,
                                           canary: Callable[[str], str]) -> None:
    """A pre-authorised invite for one person, used once. Eve scans the same (leaked) QR
    code: her device refuses to try (InviteExhaustedError) and sends nothing. The relay
    admits someone with it anyway: every member's device refuses the log."""
    ann, ben, cleo, eve = people.ann, people.ben, people.cleo, people.eve
    gid = circle(canary, ann, ben)
    invite = ann.create_invite(gid, max_uses=1, require_approval=False)
    assert cleo.join(invite.uri).status == "joined"
    for member in (ann, ben, cleo):
        member.sync(gid)
    before = len(hostile.requests)
    with pytest.raises(InviteExhaustedError):
        eve.join(invite.uri)
    assert not [r for r in hostile.requests[before:] if r[1] == "POST" and r[2].endswith("/log")]
    assert gid not in {g.group_id for g in eve.groups()}

    joined_by_relay(hostile, gid, invite.uri, timestamp_ms=0)  # dated like the head
    assert_refused_everywhere([ann, ben, cleo], gid, InviteExhaustedError)
    assert len(ann.members(gid)) == 3


def test_relay_admits_joiner_after_expiry(people: SimpleNamespace, hostile: HostileRelay,
                                          canary: Callable[[str], str], clock: object) -> None:
    """A pre-authorised invite that expired. The joiner's device refuses it
    (InviteExpiredError); a JOIN the relay accepts after the expiry is refused by every
    member (InviteExpiredError), and one backdated to before the expiry but placed after a
    later entry breaks the log's clock (InvalidEntryError)."""
    ann, ben, eve = people.ann, people.ben, people.eve
    gid = circle(canary, ann, ben)
    invite = ann.create_invite(gid, max_uses=5, expires_in=1, require_approval=False)
    clock.offset_ms = 2000  # type: ignore[attr-defined]  # the members' clocks: past it
    with pytest.raises(InviteExpiredError):
        eve.join(invite.uri)
    assert gid not in {g.group_id for g in eve.groups()}

    late = joined_by_relay(hostile, gid, invite.uri, timestamp_ms=invite.expires_at_ms + 1)
    assert_refused_everywhere([ann, ben], gid, InviteExpiredError)
    assert b64encode(late.sign_pk) not in {m.member_id for m in ann.members(gid)}


def test_relay_admits_backdated_joiner(people: SimpleNamespace, hostile: HostileRelay,
                                       canary: Callable[[str], str]) -> None:
    """The relay admits a JOIN dated before the invite's expiry, but after the group has
    moved on (a later entry): entries never go back in time, so members refuse it
    (InvalidEntryError). (A JOIN backdated right behind the invite, before anything else
    happened in the group, cannot be told from one that came in time: only the relay's
    clock check stops it. See the threat model's residual risks.)"""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    invite = ann.create_invite(gid, max_uses=5, expires_in=3600, require_approval=False)
    created = verify_log(b64decode(gid), hostile.log(b64decode(gid))).timestamp_ms
    ann.update_group(gid, rules=canary("rules"))  # the group moves on
    ben.sync(gid)
    gid_b = b64decode(gid)
    link = parse_invite_uri(invite.uri)
    state = verify_log(gid_b, hostile.log(gid_b))
    outsider = Identity.generate()
    proof = join_proof(link.secret, gid_b, link.invite_id, outsider.public)
    entry = sign_entry(outsider, JoinBody(link.invite_id, outsider.public, proof),
                       group_id=gid_b, seq=state.seq + 1, prev_hash=state.head,
                       timestamp_ms=created)
    assert created < state.timestamp_ms
    hostile.admit(gid_b, entry.raw, member=outsider.sign_pk)
    assert_refused_everywhere([ann, ben], gid, InvalidEntryError)


def test_relay_fakes_join_approval(people: SimpleNamespace, hostile: HostileRelay,
                                   canary: Callable[[str], str]) -> None:
    """Eve's join waits for an admin. The relay lets her session in and serves her the
    group as if she had been approved (the log holds no ADD for her): her device stays
    pending, and will not post. When Ann really approves, she becomes a member."""
    ann, ben, eve = people.ann, people.ben, people.eve
    gid = circle(canary, ann, ben)
    invite = ann.create_invite(gid, max_uses=1)
    result = eve.join(invite.uri)
    assert result.status == "pending"
    hostile.view("eve").omniscient = True
    assert eve.join_status(gid) == "pending"
    assert eve.sync(gid)[0].events == ()
    assert eve.group(gid).status == "pending"
    with pytest.raises(JoinPendingError):
        eve.post(gid, canary("post"))
    hostile.reset()
    ann.approve(gid, result.member_id)  # type: ignore[arg-type]
    assert eve.join_status(gid) == "member"
    eve.leave(gid)


def test_relay_fakes_join_acceptance(people: SimpleNamespace, hostile: HostileRelay,
                                     canary: Callable[[str], str]) -> None:
    """With a pre-authorised invite Eve's device appends her JOIN itself; the relay answers
    "201 stored", drops it, and lets her sessions in as if she were a member. Her device's
    next read of the log finds the entry gone: RollbackError, and it keeps the log it
    verified. Nobody else ever sees her join."""
    ann, ben, eve = people.ann, people.ben, people.eve
    gid = circle(canary, ann, ben)
    invite = ann.create_invite(gid, max_uses=1, require_approval=False)
    ben.sync(gid)

    def swallow(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path.endswith("/log"):
            entry = json.loads(request.content)["entry"]
            return httpx.Response(201, json={"seq": 0, "head": entry[:43], "cursor": "1"})
        return None

    hostile.view("eve").intercept = swallow
    hostile.view("eve").omniscient = True
    with pytest.raises(RollbackError):
        eve.join(invite.uri)
    seq = eve.group(gid).log_seq
    with pytest.raises(RollbackError):
        eve.sync(gid)
    assert stored_checkpoint(eve, gid).seq == seq
    before = snapshot(ben, gid)
    ben.sync(gid)
    assert snapshot(ben, gid) == before
    eve.forget_group(gid)


def test_relay_swaps_join_request_keys(people: SimpleNamespace, hostile: HostileRelay,
                                       canary: Callable[[str], str]) -> None:
    """The relay shows Ann a join request carrying its own keys in place of Eve's (so Ann
    would admit the relay): it cannot prove it holds the invite's secret. Ann's device drops
    it with a warning, lists no such request, and refuses to approve it."""
    ann, ben, eve = people.ann, people.ben, people.eve
    gid = circle(canary, ann, ben)
    invite = ann.create_invite(gid, max_uses=1)
    eve.join(invite.uri)
    rogue = Identity.generate()
    link = parse_invite_uri(invite.uri)
    guessed = InviteLink(link.relay_url, link.group_id, link.invite_id, b"\x01" * 32)
    forged = make_join_request(rogue, guessed)

    def swap(request: httpx.Request, real: httpx.Response) -> httpx.Response:
        if request.method != "GET" or not request.url.path.endswith("/join-requests"):
            return real
        body = real.json()
        for item in body["requests"]:
            item["joiner"] = b64encode(rogue.sign_pk)
            item["request"] = b64encode(forged.encode())
        return httpx.Response(200, json=body)

    hostile.view("ann").respond = swap
    assert ann.pending_requests(gid) == []
    refused = [w for w in ann.warnings() if isinstance(w, InvalidPost)
               and w.post_id == b64encode(rogue.sign_pk)]
    assert refused and refused[-1].code == SignatureError.code
    with pytest.raises(NotFoundError):
        ann.approve(gid, b64encode(rogue.sign_pk))
    assert len(ann.members(gid)) == 2
    hostile.reset()
    (request,) = ann.pending_requests(gid)
    ann.deny(gid, request)
    eve.forget_group(gid)
