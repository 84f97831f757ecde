"""An in-memory walk-through of the protocol core: ``make demo``.

Alice creates a support group, invites Bob by QR (approval required) and Carol
(pre-authorised), everyone posts, Alice removes Bob and rotates the epoch key. It prints
what each member reads and what a relay would have stored: only ciphertext, public keys
and sizes. No network, no disk: every step is a call into ``vault.crypto``.
"""

from __future__ import annotations

import itertools

from vault.crypto.commitments import epoch_commitment
from vault.crypto.encoding import b64encode
from vault.crypto.epochs import EpochGrant, build_grants, new_epoch_key, open_grant
from vault.crypto.errors import VaultError
from vault.crypto.group_state import GroupState, new_entry
from vault.crypto.identity import Identity
from vault.crypto.invites import (
    InviteLink,
    JoinRequest,
    invite_keypair,
    join_proof,
    make_join_request,
    new_invite,
    parse_invite_uri,
)
from vault.crypto.log import create_group, group_id_of
from vault.crypto.log_entries import AddBody, InviteBody, JoinBody, MetadataBody, RemoveBody, Role
from vault.crypto.log_verify import extend_log, verify_log
from vault.crypto.metadata import GroupMetadata, open_group_metadata, seal_metadata
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope, open_post, seal_post
from vault.crypto.safety import safety_number

DAY_MS = 86_400_000
RELAY = "https://relay.example.org"


class Member:
    """One person's device: its identity, verified log state and epoch keys."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.identity = Identity.generate()
        self.state: GroupState | None = None
        self.keys: dict[int, bytes] = {}
        self.seq = itertools.count(1)

    def sync(self, relay: Relay) -> None:
        assert self.state is not None
        self.state = extend_log(self.state, relay.log[self.state.seq + 1 :])

    def take_grants(self, relay: Relay) -> None:
        assert self.state is not None
        for grant in relay.grants_for(self.identity.sign_pk):
            if grant.epoch not in self.keys:
                self.keys[grant.epoch] = open_grant(grant, self.identity, self.state)

    def post(self, relay: Relay, text: str, **extra: object) -> bytes:
        assert self.state is not None
        body = PostBody(
            author=self.identity.sign_pk, group_id=self.state.group_id, epoch=self.state.epoch,
            post_id=relay.new_id(), author_seq=next(self.seq), log_seq=self.state.seq,
            log_head=self.state.head, timestamp_ms=self.state.timestamp_ms,
            kind=extra.pop("kind", PostKind.POST), text=text, **extra,  # type: ignore[arg-type]
        )
        envelope = seal_post(self.identity, self.keys[self.state.epoch], body)
        relay.posts.append(envelope.encode())
        return body.post_id

    def read(self, relay: Relay) -> list[str]:
        assert self.state is not None
        shown = []
        for data in relay.posts:
            envelope = PostEnvelope.decode(data)
            key = self.keys.get(envelope.epoch)
            if key is None:
                shown.append(f"[epoch {envelope.epoch}: no key — cannot read]")
                continue
            body = open_post(envelope, key, self.state).body
            author = self.state.members.get(body.author) or self.state.former_members[body.author]
            who = author.identity.short_fingerprint()
            warning = f" (CW: {body.content_warning})" if body.content_warning else ""
            shown.append(f"{who}: {body.text}{warning}")
        return shown


class Relay:
    """What a relay stores: log entries, sealed grants, post envelopes — bytes only."""

    def __init__(self) -> None:
        self.log: list[bytes] = []
        self.grants: list[EpochGrant] = []
        self.posts: list[bytes] = []
        self.join_requests: list[bytes] = []
        self._ids = itertools.count()

    def new_id(self) -> bytes:
        return next(self._ids).to_bytes(16, "big")

    def grants_for(self, sign_pk: bytes) -> list[EpochGrant]:
        return [g for g in self.grants if g.recipient == sign_pk]


def main() -> None:
    relay = Relay()
    alice, bob, carol = Member("Alice"), Member("Bob"), Member("Carol")

    print("1. Alice creates the group; its name is encrypted in the log.")
    key0 = new_epoch_key()
    genesis = create_group(alice.identity, key0)
    group_id = group_id_of(genesis)
    relay.log.append(genesis.encode())
    alice.state = verify_log(group_id, relay.log)
    alice.keys[0] = key0
    meta = seal_metadata(key0, group_id, 0, None, GroupMetadata(
        "Tuesday grief circle", "A quiet place to talk.", "Be kind. What is said here stays."))
    relay.log.append(new_entry(alice.state, alice.identity, MetadataBody(None, 0, meta)).encode())
    alice.sync(relay)

    print("2. Alice makes two invites: Bob's needs her approval, Carol's is pre-authorised.")
    links = {}
    for who, approval in ((bob, True), (carol, False)):
        assert alice.state is not None
        invite_id, secret = new_invite()
        _sk, invite_pk = invite_keypair(secret)
        expires = alice.state.timestamp_ms + 7 * DAY_MS
        body = InviteBody(invite_id, invite_pk, 1, expires, approval)
        relay.log.append(new_entry(alice.state, alice.identity, body).encode())
        alice.sync(relay)
        links[who.name] = InviteLink(RELAY, group_id, invite_id, secret).to_uri()
    print(f"   QR for Bob: {links['Bob'][:48]}…  (secret only after '#')")

    print("3. Bob scans his QR code and asks to join; Alice approves after comparing numbers.")
    link = parse_invite_uri(links["Bob"])
    bob.state = verify_log(link.group_id, relay.log)  # the QR pins the group id
    relay.join_requests.append(make_join_request(bob.identity, link).encode())
    request = JoinRequest.decode(relay.join_requests[-1])
    assert alice.state is not None
    invite = alice.state.invites[request.invite_id]
    request.verify(invite.invite_pk)
    print(f"   safety number Alice/Bob: {safety_number(alice.identity.public, request.joiner)}")
    add = AddBody(request.joiner, Role.MEMBER, request.invite_id, request.proof)
    relay.log.append(new_entry(alice.state, alice.identity, add).encode())
    relay.grants += build_grants(alice.identity, group_id, 0, key0, [request.joiner])
    alice.sync(relay)
    bob.sync(relay)
    bob.take_grants(relay)

    print("4. Carol scans hers and joins by herself (the invite pre-authorises her).")
    link = parse_invite_uri(links["Carol"])
    carol.state = verify_log(link.group_id, relay.log)
    proof = join_proof(link.secret, group_id, link.invite_id, carol.identity.public)
    join = JoinBody(link.invite_id, carol.identity.public, proof)
    relay.log.append(new_entry(carol.state, carol.identity, join).encode())
    for member in (alice, bob, carol):
        member.sync(relay)
    assert alice.state is not None
    relay.grants += build_grants(alice.identity, group_id, 0, key0, [carol.identity.public])
    carol.take_grants(relay)
    assert carol.state is not None and carol.state.group_metadata is not None
    name = open_group_metadata(carol.state.group_metadata.ciphertext, carol.keys[0], group_id, 0)
    print(f"   Carol sees the group's name: {name.name!r}")

    print("5. Everyone posts.")
    first = alice.post(relay, "Welcome, both of you.")
    bob.post(relay, "Thank you. It has been a hard month.", kind=PostKind.REPLY, refs=(first,))
    carol.post(relay, "I lost my dad in May.", content_warning="bereavement")

    print("6. Alice removes Bob: a new epoch key, granted to the remaining members in one batch.")
    key1 = new_epoch_key()
    assert alice.state is not None
    remove = RemoveBody(bob.identity.sign_pk, 1, epoch_commitment(group_id, 1, key1))
    relay.log.append(new_entry(alice.state, alice.identity, remove).encode())
    alice.sync(relay)
    assert alice.state is not None
    relay.grants += build_grants(alice.identity, group_id, 1, key1,
                                 [m.identity for m in alice.state.members.values()])
    for member in (alice, carol, bob):
        member.sync(relay)
        try:
            member.take_grants(relay)
        except VaultError as error:
            print(f"   {member.name}: {error.message}")
    alice.keys[1] = key1
    carol.post(relay, "Bob, we'll miss you.")

    for member in (alice, bob, carol):
        print(f"\n{member.name} reads:")
        for line in member.read(relay):
            print(f"   {line}")

    print("\nWhat the relay stored:")
    print(f"   log: {len(relay.log)} entries, {sum(map(len, relay.log))} bytes "
          "(public keys, roles, commitments, encrypted metadata)")
    print(f"   grants: {len(relay.grants)} sealed boxes of {len(relay.grants[0].sealed)} bytes")
    sizes = sorted({len(p) for p in relay.posts})
    print(f"   posts: {len(relay.posts)} envelopes, sizes {sizes} (padded to buckets)")
    print(f"   e.g. {b64encode(relay.posts[-1])[:64]}…")


if __name__ == "__main__":
    main()
