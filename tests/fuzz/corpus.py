"""Seed objects for the fuzz suite and the byte/text/JSON mutation strategies.

Random bytes rarely get past a decoder's first check (the type tag); the mutations start
from genuine encodings of every wire object and damage them the ways a hostile relay or a
buggy peer would: flipped bytes, truncation, insertions, length fields set to huge or
slightly-wrong values, spliced objects.
"""

from __future__ import annotations

import functools
import struct
from dataclasses import dataclass, replace
from typing import Any

import nacl.bindings
from hypothesis import strategies as st

from tests.crypto.logfactory import seeded_random
from tests.crypto.postkit import Group
from vault.crypto.attachments import Attachment, make_attachment
from vault.crypto.encoding import b64encode
from vault.crypto.epochs import build_grants
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.identity_export import ExportedIdentity, export_identity
from vault.crypto.invites import InviteLink, invite_keypair, make_join_request
from vault.crypto.keystore import KeystoreContents, seal_keystore
from vault.crypto.localstore import (
    PendingJoin,
    PostStub,
    encode_pending_join,
    encode_post_stub,
    encode_stored_post,
    local_store_key,
    record_id,
    seal_record,
)
from vault.crypto.log_entries import EntryKind, Role
from vault.crypto.metadata import GroupMetadata, MemberProfile, seal_metadata
from vault.crypto.post_body import PostKind
from vault.crypto.posts import OpenedPost

RELAY = "https://relay.example"
PASSPHRASE = "fuzz passphrase"


@dataclass
class Corpus:
    group: Group
    state: GroupState
    key: bytes
    entries: dict[EntryKind, bytes]
    bodies: dict[EntryKind, bytes]
    identity_public: bytes
    identity_private: bytes
    grant: bytes
    grant_content: bytes
    envelope: bytes
    body_plain: bytes
    body_rich: bytes
    body_named: bytes
    """A version-2 body (a named attachment; body_rich is version 1 with an unnamed one)."""
    opened: OpenedPost
    join_request: bytes
    invite_uri: str
    checkpoint: bytes
    keystore_contents: bytes
    keystore_file: bytes
    exported: bytes
    metadata_envelope: bytes
    profile_envelope: bytes
    group_metadata: bytes
    member_profile: bytes
    stored_post: bytes
    post_stub: bytes
    pending_join: bytes
    store_key: bytes
    record: bytes
    attachment: Attachment
    blob: bytes

    def all_bytes(self) -> list[bytes]:
        return [v for v in vars(self).values() if isinstance(v, bytes)] + list(
            self.entries.values()) + list(self.bodies.values())


@functools.cache
def corpus() -> Corpus:
    """One group with every kind of object in it (built once; needs the cheap KDF patched
    in for the keystore objects, as the fuzz conftest does)."""
    g = Group()
    f = g.f
    random = seeded_random("fuzz-corpus")
    f.set_metadata()
    f.set_metadata(by=g.alice, profile=True)
    ticket = f.invite(requires_approval=True)
    f.approve(ticket)
    f.set_role(g.bob, Role.ADMIN)
    f.revoke(ticket)
    carol = f.add_member()
    f.remove(carol)
    dave = f.add_member()
    f.leave(dave)
    f.rotate()
    entries: dict[EntryKind, bytes] = {}
    bodies: dict[EntryKind, bytes] = {}
    for entry in f.entries:
        entries.setdefault(entry.kind, entry.raw)
        bodies.setdefault(entry.kind, entry.body.encode())
    state = f.state
    epoch = state.epoch
    key = f.epoch_keys[epoch]
    gid = f.group_id

    (grant,) = build_grants(f.owner, gid, epoch, key, [g.alice.public])
    content = nacl.bindings.crypto_box_seal_open(grant.sealed, g.alice.public.box_pk,
                                                 g.alice.box_sk)
    attachment, blob = make_attachment(b"fuzz attachment", "image/png", random=random)
    plain = g.post(g.alice, text="plain")
    rich = g.post(g.alice, PostKind.REPLY, refs=(plain.post_id,), text="rich \u00e9",
                  content_warning="cw", attachments=(attachment,),
                  expires_at_ms=2**62)
    invite_id, secret = random(16), random(32)
    _sk, _pk = invite_keypair(secret)
    link = InviteLink(RELAY, gid, invite_id, secret)
    request = make_join_request(Identity.generate(random), link, now_ms=f.now_ms)
    contents = KeystoreContents((("local-store", random(32)), ("identity/x", random(66))))
    keystore_file = seal_keystore(contents, PASSPHRASE, random=random)
    exported = export_identity(ExportedIdentity(g.alice, gid, RELAY), PASSPHRASE, random=random)
    meta = GroupMetadata("Fuzz circle", "a description", "rules")
    profile = MemberProfile("Alice")
    store_key = local_store_key(random(32))
    return Corpus(
        group=g, state=state, key=key, entries=entries, bodies=bodies,
        identity_public=g.alice.public.encode(),
        identity_private=g.alice.encode_private(),
        grant=grant.encode(), grant_content=content,
        envelope=rich.envelope.encode(),
        body_plain=plain.body.encode(), body_rich=rich.body.encode(),
        body_named=replace(rich.body, attachments=(
            replace(attachment, file_name="fuzz.png"), attachment)).encode(), opened=rich,
        join_request=request.encode(), invite_uri=link.to_uri(),
        checkpoint=state.checkpoint().encode(),
        keystore_contents=contents.encode(), keystore_file=keystore_file, exported=exported,
        metadata_envelope=seal_metadata(key, gid, epoch, None, meta, random=random),
        profile_envelope=seal_metadata(key, gid, epoch, g.alice.sign_pk, profile,
                                       random=random),
        group_metadata=meta.encode(), member_profile=profile.encode(),
        stored_post=encode_stored_post(rich),
        post_stub=encode_post_stub(PostStub(plain.post_id, g.alice.sign_pk, 1)),
        pending_join=encode_pending_join(PendingJoin(link.to_uri(), request)),
        store_key=store_key,
        record=seal_record(store_key, "post", record_id(gid, plain.post_id), b"secret",
                           random=random),
        attachment=attachment, blob=blob,
    )


# --- byte mutations --------------------------------------------------------------------------

_INTERESTING_U32 = [0, 1, 2, 3, 31, 32, 33, 63, 64, 65, 255, 256, 4095, 65535, 65536,
                    2**31 - 1, 2**31, 2**32 - 1]
_INTERESTING_U64 = [0, 1, 2**31, 2**32, 2**53, 2**62, 2**63 - 1, 2**63, 2**64 - 1]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes], *, max_ops: int = 4) -> bytes:
    """A seed damaged by 1..max_ops mutations."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, max_ops))):
        op = draw(st.sampled_from(["flip", "byte", "truncate", "insert", "delete", "u32",
                                   "u64", "splice", "extend", "tag"]))
        size = len(data)
        at = draw(st.integers(0, max(size - 1, 0)))
        if op == "flip" and size:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "byte" and size:
            data[at] = draw(st.integers(0, 255))
        elif op == "truncate":
            del data[at:]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "delete" and size:
            del data[at:at + draw(st.integers(1, 16))]
        elif op == "u32" and size >= 4:
            at = min(at, size - 4)
            data[at:at + 4] = struct.pack(">I", draw(st.sampled_from(_INTERESTING_U32)))
        elif op == "u64" and size >= 8:
            at = min(at, size - 8)
            data[at:at + 8] = struct.pack(">Q", draw(st.sampled_from(_INTERESTING_U64)))
        elif op == "splice":
            other = draw(st.sampled_from(seeds))
            cut = draw(st.integers(0, len(other)))
            data[at:] = other[cut:]
        elif op == "extend":
            data += draw(st.binary(min_size=1, max_size=64))
        elif op == "tag" and size >= 2:
            data[0] = draw(st.integers(0, 0x20))
            data[1] = draw(st.sampled_from([0, 1, 2, 255]))
    return bytes(data)


def byte_inputs(seeds: list[bytes], *, max_random: int = 512) -> st.SearchStrategy[bytes]:
    """Bytes a decoder may be handed: random, mutated seeds, or seeds of other objects."""
    everything = corpus().all_bytes()
    return st.one_of(
        st.binary(max_size=max_random),
        mutated(seeds),
        mutated(everything),
        st.sampled_from(everything),
    )


# --- text ------------------------------------------------------------------------------------

_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_NASTY_TEXT = ["", " ", "=", "==", "A", "AA", "AAA", "AB", "AQ", "A===", "+/", "-_", "\x00",
               "\udc80", "\ud800", "é", "\u202e", "\ufeff", "%00", "..", "/", "\n", "\r\n",
               "\uff10\uff11", "\u00b2", "\U0001d7d8", "A" * 10_000]


@st.composite
def mutated_text(draw: st.DrawFn, seeds: list[str]) -> str:
    text = list(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 3))):
        op = draw(st.sampled_from(["replace", "insert", "delete", "truncate", "nasty"]))
        at = draw(st.integers(0, max(len(text) - 1, 0)))
        if op == "replace" and text:
            text[at] = draw(st.characters())
        elif op == "insert":
            text[at:at] = list(draw(st.text(max_size=4)))
        elif op == "delete" and text:
            del text[at]
        elif op == "truncate":
            del text[at:]
        else:
            text[at:at] = list(draw(st.sampled_from(_NASTY_TEXT)))
    return "".join(text)


def text_inputs(seeds: list[str]) -> st.SearchStrategy[str]:
    return st.one_of(
        st.text(max_size=200),
        st.text(alphabet=_B64_ALPHABET + "=+/. #:", max_size=120),
        st.sampled_from(_NASTY_TEXT),
        mutated_text(seeds),
    )


def b64_seeds() -> list[str]:
    return [b64encode(value) for value in corpus().all_bytes()[:12]] + ["", "AA", "AAA", "AAAA"]


# --- JSON ------------------------------------------------------------------------------------

json_scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from([0, -1, 1, 2**31, 2**53, 2**63 - 1, 2**63, 2**64, 10**30]),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=40),
    st.sampled_from(["", "0", "-1", "AA", "A", "=", "1" * 19, "1" * 18, "99", "x" * 2000]),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=4),
                            st.dictionaries(st.text(max_size=12), inner, max_size=4)),
    max_leaves=12,
)
