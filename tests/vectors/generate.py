#!/usr/bin/env python3
"""Generate the known-answer vectors ``tests/vectors/*.json`` (format: ``README.md`` here).

    python tests/vectors/generate.py           # rewrite the files (``make vectors``)
    python tests/vectors/generate.py --check   # exit 1 if the committed files are stale

Everything is deterministic. Time is pinned (:data:`T0`). Randomness comes from named
seeded sources (:func:`seeded_random`), and every value drawn is written into the vector
that uses it, so a re-implementer never needs this generator's RNG: the vectors give
the drawn bytes, and the README says in which order each core function draws them.
libsodium's sealed boxes draw their ephemeral key inside libsodium; here they are
reproduced with a pinned ephemeral key (:func:`seal_with_ephemeral`, the exact
``crypto_box_seal`` construction), so sealed bytes are pinned too and still open with
``crypto_box_seal_open``.

The expected values come from the real core (``vault.crypto``); the generator also
checks each negative vector really raises the error code it records.
``tests/crypto/test_vectors.py`` recomputes every vector from its inputs and checks
that this script reproduces the committed files byte for byte.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import sys
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import nacl.bindings
from argon2 import low_level as argon2_low

from vault.crypto import auth, labels
from vault.crypto.attachments import (
    MAX_ATTACHMENT_SIZE,
    MIB,
    Attachment,
    blob_digest,
    decrypt_attachment,
    make_attachment,
    padded_size,
)
from vault.crypto.encoding import Tag, Writer, b64decode, b64encode
from vault.crypto.epochs import (
    EpochGrant,
    build_grants,
    epoch_commitment,
    metadata_key,
    open_grant,
    post_key,
)
from vault.crypto.errors import VaultError
from vault.crypto.group_state import (
    GroupState,
    LogCheckpoint,
    apply_entry,
    genesis_state,
    verify_log,
)
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.identity_export import (
    ExportedIdentity,
    decode_post_marks,
    encode_post_marks,
    export_identity,
    import_identity,
)
from vault.crypto.invites import (
    InviteLink,
    JoinRequest,
    invite_keypair,
    join_proof,
    make_join_request,
    new_invite,
    normalize_relay_url,
    parse_invite_uri,
)
from vault.crypto.keystore import (
    KdfParams,
    KeystoreContents,
    open_keystore,
    seal_keystore,
)
from vault.crypto.localstore import (
    PendingJoin,
    PostStub,
    decode_pending_join,
    decode_post_stub,
    decode_stored_post,
    encode_pending_join,
    encode_post_stub,
    encode_stored_post,
    local_store_key,
    new_local_store_secret,
    open_record,
    seal_record,
)
from vault.crypto.log import (
    AddBody,
    AddRotateBody,
    CreateBody,
    EntryBody,
    InviteBody,
    InviteRevokeBody,
    JoinBody,
    LeaveBody,
    LogEntry,
    MetadataBody,
    RemoveBody,
    Role,
    RoleBody,
    RotateBody,
    commitment_group_id,
    create_group,
    group_id_of,
    join_proof_message,
    sign_entry,
)
from vault.crypto.metadata import (
    ENVELOPE_OVERHEAD,
    GroupMetadata,
    MemberProfile,
    open_metadata,
    seal_metadata,
)
from vault.crypto.padding import bucket_size, pad, pad_to, unpad
from vault.crypto.posts import PostBody, PostEnvelope, PostKind, open_post, seal_post
from vault.crypto.primitives import (
    RandomSource,
    derive_key,
    frame,
    labelled_hash,
    sign,
    verify,
)
from vault.crypto.safety import group_code, safety_number

VECTOR_DIR = Path(__file__).resolve().parent
T0 = 1_700_000_000_000
"""Pinned time (ms since the Unix epoch, 2023-11-14T22:13:20Z): log entry *i* is at T0 + i min."""
MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR
RELAY_URL = "https://relay.example.org"
STATE_REF = "log.json#full_log"
"""How a vector names the group state it needs: the state after verifying that vector's log."""

Json = dict[str, Any]


# --- deterministic helpers -----------------------------------------------------------------


def seeded_random(seed: str) -> RandomSource:
    """BLAKE2b-512 in counter mode (the algorithm of ``tests/crypto/logfactory.py``).

    Draw *n* fills a buffer with ``BLAKE2b-512(key=seed, msg=u64be(counter++))`` blocks
    until it has *n* bytes and returns the first *n*; leftover bytes of the last block are
    dropped (each draw starts a new block).
    """
    key = seed.encode()
    counter = itertools.count()

    def random(size: int) -> bytes:
        out = bytearray()
        while len(out) < size:
            block = next(counter).to_bytes(8, "big")
            out += hashlib.blake2b(block, key=key[:64], digest_size=64).digest()
        return bytes(out[:size])

    return random


class Scripted:
    """A RandomSource that returns pre-drawn values in order (sizes checked)."""

    def __init__(self, *values: bytes) -> None:
        self.values = list(values)

    def __call__(self, size: int) -> bytes:
        if not self.values:
            raise AssertionError("the core drew more randomness than the vector records")
        value = self.values.pop(0)
        if len(value) != size:
            raise AssertionError(f"the core drew {size} bytes where {len(value)} were scripted")
        return value

    def done(self) -> None:
        if self.values:
            raise AssertionError("the core drew less randomness than the vector records")


def h(data: bytes | None) -> str | None:
    return None if data is None else data.hex()


def flip(data: bytes, index: int, mask: int = 0x01) -> bytes:
    index %= len(data)
    return data[:index] + bytes((data[index] ^ mask,)) + data[index + 1 :]


def vec(name: str, op: str, inputs: Json, expected: Json, description: str | None = None) -> Json:
    out: Json = {"name": name, "op": op}
    if description:
        out["description"] = description
    out["inputs"] = inputs
    out["expected"] = expected
    return out


def doc(obj: str, description: str, vectors: list[Json]) -> Json:
    names = [v["name"] for v in vectors]
    if len(set(names)) != len(names):
        raise AssertionError(f"{obj}: vector names must be unique")
    return {"object": obj, "description": description, "vectors": vectors}


def error_of(code: str, action: Callable[[], object]) -> Json:
    """Run *action*, insist it raises a VaultError with *code*, return the expectation."""
    try:
        action()
    except VaultError as exc:
        if exc.code != code:
            raise AssertionError(f"expected error {code}, got {exc.code}: {exc}") from exc
        return {"error": code}
    raise AssertionError(f"expected error {code}, but nothing was raised")


def seal_with_ephemeral(message: bytes, recipient_box_pk: bytes, ephemeral_sk: bytes) -> bytes:
    """``crypto_box_seal`` with a given ephemeral secret key instead of a random one.

    ``epk = X25519_base(esk)``; ``nonce = BLAKE2b-192(epk || recipient_pk)``;
    ``sealed = epk || crypto_box_easy(message, nonce, recipient_pk, esk)``.
    """
    epk = nacl.bindings.crypto_scalarmult_base(ephemeral_sk)
    nonce = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        epk + recipient_box_pk, digest_size=24
    )
    return bytes(epk + nacl.bindings.crypto_box(message, nonce, recipient_box_pk, ephemeral_sk))


def non_canonical_last(char: str) -> str:
    """The base64url character that decodes to the same bytes as the last character of a
    43-character (32-byte) encoding, but with its two unused low bits set."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return alphabet[alphabet.index(char) | 0b11]


def signature_input(label: bytes, message: bytes) -> str:
    return (frame(label) + message).hex()


# --- the world: one group whose log uses every entry kind ----------------------------------

CAST = ("owner", "admin", "joiner", "approved", "member", "outsider", "newcomer")


@dataclass
class Invite:
    invite_id: bytes
    secret: bytes
    sk: bytes
    pk: bytes


@dataclass
class World:
    people: dict[str, Identity]
    identity_draws: dict[str, tuple[bytes, bytes]]
    epoch_keys: dict[int, bytes]
    group_nonce: bytes
    group_id: bytes = b""
    invites: dict[str, Invite] = field(default_factory=dict)
    invite_draws: list[tuple[str, bytes, bytes]] = field(default_factory=list)
    join_request: JoinRequest | None = None
    metadata_nonces: dict[str, bytes] = field(default_factory=dict)
    metadata_envelopes: dict[str, bytes] = field(default_factory=dict)
    entries: list[LogEntry] = field(default_factory=list)
    entry_notes: list[Json] = field(default_factory=list)
    states: list[GroupState] = field(default_factory=list)

    @property
    def state(self) -> GroupState:
        return self.states[-1]

    @property
    def raw(self) -> list[bytes]:
        return [entry.raw for entry in self.entries]

    def who(self, sign_pk: bytes) -> str:
        for name, person in self.people.items():
            if person.sign_pk == sign_pk:
                return name
        raise KeyError(sign_pk.hex())


GROUP_METADATA_0 = GroupMetadata(
    name="Tuesday evening circle",
    description="A peer support group. What is shared here stays here.",
    rules="1. Listen first.\n2. No advice unless asked.\n3. Names stay in the room.",
)
PROFILE_0 = MemberProfile(display_name="Mia \u00b7 she/her")


def build_world() -> World:
    rng = seeded_random("vault/vectors/identities")
    people: dict[str, Identity] = {}
    draws: dict[str, tuple[bytes, bytes]] = {}
    for name in CAST:
        sign_seed, box_sk = rng(32), rng(32)
        draws[name] = (sign_seed, box_sk)
        people[name] = Identity.generate(Scripted(sign_seed, box_sk))
    log_rng = seeded_random("vault/vectors/log")
    epoch_keys = {0: log_rng(32)}
    group_nonce = log_rng(16)
    epoch_keys[1] = log_rng(32)
    epoch_keys[2] = log_rng(32)
    world = World(people, draws, epoch_keys, group_nonce)

    genesis = create_group(people["owner"], epoch_keys[0], now_ms=T0, random=Scripted(group_nonce))
    world.group_id = group_id_of(genesis)
    world.entries.append(genesis)
    world.entry_notes.append({"epoch_key": h(epoch_keys[0]), "group_nonce": h(group_nonce),
                              "creator_box_sk": h(people["owner"].box_sk)})
    world.states.append(genesis_state(genesis, world.group_id))

    invite_rng = seeded_random("vault/vectors/invites")
    for name in ("open", "approval"):
        invite_id, secret = invite_rng(16), invite_rng(32)
        world.invite_draws.append((name, invite_id, secret))
        got_id, got_secret = new_invite(Scripted(invite_id, secret))
        sk, pk = invite_keypair(got_secret)
        world.invites[name] = Invite(got_id, got_secret, sk, pk)

    meta_rng = seeded_random("vault/vectors/metadata")
    for name in ("group", "profile"):
        world.metadata_nonces[name] = meta_rng(24)
    world.metadata_envelopes["group"] = seal_metadata(
        epoch_keys[0], world.group_id, 0, None, GROUP_METADATA_0,
        random=Scripted(world.metadata_nonces["group"]))
    world.metadata_envelopes["profile"] = seal_metadata(
        epoch_keys[0], world.group_id, 0, people["member"].sign_pk, PROFILE_0,
        random=Scripted(world.metadata_nonces["profile"]))

    p, inv = people, world.invites
    link = InviteLink(RELAY_URL, world.group_id, inv["approval"].invite_id,
                      inv["approval"].secret)
    world.join_request = make_join_request(p["approved"], link, now_ms=T0 + 3 * MINUTE + 30_000)

    def commitment(epoch: int) -> bytes:
        return epoch_commitment(commitment_group_id(world.group_id, epoch), epoch,
                                epoch_keys[epoch])

    open_proof = join_proof(inv["open"].secret, world.group_id, inv["open"].invite_id,
                            p["joiner"].public)
    plan: list[tuple[str, EntryBody, Json]] = [
        ("owner", InviteBody(inv["open"].invite_id, inv["open"].pk, 3, T0 + 7 * DAY, False),
         {"invite_secret": h(inv["open"].secret)}),
        ("joiner", JoinBody(inv["open"].invite_id, p["joiner"].public, open_proof),
         {"invite_secret": h(inv["open"].secret)}),
        ("owner", InviteBody(inv["approval"].invite_id, inv["approval"].pk, 1, T0 + 7 * DAY,
                             True), {"invite_secret": h(inv["approval"].secret)}),
        ("owner", AddBody(p["approved"].public, Role.MEMBER, inv["approval"].invite_id,
                          world.join_request.proof),
         {"invite_secret": h(inv["approval"].secret)}),
        ("owner", AddBody(p["admin"].public, Role.ADMIN), {}),
        ("admin", AddBody(p["member"].public, Role.MEMBER), {}),
        ("owner", RoleBody(p["joiner"].sign_pk, Role.MODERATOR), {}),
        ("admin", InviteRevokeBody(inv["open"].invite_id), {}),
        ("admin", MetadataBody(None, 0, world.metadata_envelopes["group"]), {}),
        ("member", MetadataBody(p["member"].sign_pk, 0, world.metadata_envelopes["profile"]),
         {}),
        ("owner", RemoveBody(p["approved"].sign_pk, 1, commitment(1)),
         {"epoch_key": h(epoch_keys[1])}),
        ("joiner", LeaveBody(), {}),
        ("admin", RotateBody(2, commitment(2)), {"epoch_key": h(epoch_keys[2])}),
    ]
    for author, body, notes in plan:
        world_append(world, people[author], body, notes)
    return world


def next_entry(world: World, author: Identity, body: EntryBody, *, seq: int | None = None,
               prev_hash: bytes | None = None, timestamp_ms: int | None = None) -> LogEntry:
    state = world.state
    seq = state.seq + 1 if seq is None else seq
    return sign_entry(
        author, body, group_id=world.group_id, seq=seq,
        prev_hash=state.head if prev_hash is None else prev_hash,
        timestamp_ms=T0 + seq * MINUTE if timestamp_ms is None else timestamp_ms,
    )


def world_append(world: World, author: Identity, body: EntryBody, notes: Json) -> None:
    entry = next_entry(world, author, body)
    world.states.append(apply_entry(world.state, entry))
    world.entries.append(entry)
    world.entry_notes.append(notes)


# --- primitives ----------------------------------------------------------------------------


def all_labels() -> list[tuple[str, bytes]]:
    return [(name, value) for name, value in vars(labels).items()
            if name.isupper() and isinstance(value, bytes)]


def primitives_doc() -> Json:
    rng = seeded_random("vault/vectors/primitives")
    vectors: list[Json] = []
    for name, label in all_labels():
        vectors.append(vec(f"label_{name.lower()}", "label",
                           {"constant": name, "label": label.decode()},
                           {"frame": frame(label).hex()}))
    for label, data, size in (
        (labels.FINGERPRINT, b"", 32),
        (labels.LOG_ENTRY_HASH, b"abc", 32),
        (labels.GROUP_ID, rng(200), 32),
        (labels.SAFETY_NUMBER, rng(64), 60),
        (labels.RELAY_SESSION_TOKEN, rng(32), 64),
    ):
        vectors.append(vec(
            f"labelled_hash_{label.decode().rsplit('/', 1)[1]}_{len(data)}_{size}",
            "labelled_hash",
            {"label": label.decode(), "data": data.hex(), "size": size},
            {"blake2b_input": (frame(label) + data).hex(),
             "hash": labelled_hash(label, data, size).hex()}))
    for label, context in (
        (labels.POST_KEY, rng(40)),
        (labels.INVITE_KEY, b""),
        (labels.METADATA_KEY, rng(40)),
    ):
        parent = rng(32)
        vectors.append(vec(
            f"derive_key_{label.decode().rsplit('/', 1)[1]}", "derive_key",
            {"parent_key": parent.hex(), "label": label.decode(), "context": context.hex()},
            {"blake2b_key": parent.hex(), "blake2b_message": (frame(label) + context).hex(),
             "key": derive_key(parent, label, context).hex()}))
    seed = rng(32)
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(seed)
    for label, message in ((labels.POST_SIGNATURE, b""), (labels.RELAY_AUTH, rng(100))):
        signature = sign(sk, label, message)
        vectors.append(vec(
            f"sign_{label.decode().rsplit('/', 1)[1]}_{len(message)}", "sign",
            {"seed": seed.hex(), "label": label.decode(), "message": message.hex()},
            {"public_key": pk.hex(), "secret_key": sk.hex(),
             "signature_input": signature_input(label, message), "signature": signature.hex()}))
    message = b"the same message"
    signature = sign(sk, labels.JOIN_PROOF, message)
    for name, label, msg, sig, description in (
        ("reject_signature_under_other_label", labels.JOIN_REQUEST, message, signature,
         "a signature made under vault/v1/join-proof is not valid under vault/v1/join-request"),
        ("reject_signature_changed_message", labels.JOIN_PROOF, flip(message, 0), signature,
         "one flipped message bit"),
        ("reject_signature_changed_signature", labels.JOIN_PROOF, message, flip(signature, 40),
         "one flipped signature bit"),
        ("reject_signature_without_label_frame", labels.JOIN_PROOF, message,
         nacl.bindings.crypto_sign(message, sk)[:64],
         "a plain Ed25519 signature over the message without the label frame"),
    ):
        vectors.append(vec(
            name, "verify",
            {"public_key": pk.hex(), "label": label.decode(), "message": msg.hex(),
             "signature": sig.hex()},
            error_of("bad_signature", lambda label=label, msg=msg, sig=sig: verify(
                pk, label, msg, sig, "vector")),
            description))
    for data in (b"", b"\x00", b"\xfb\xff", b"\xfb\xff\xbf", rng(32)):
        vectors.append(vec(f"b64_{len(data)}_{data[:2].hex()}", "b64",
                           {"data": data.hex()}, {"text": b64encode(data)}))
    for name, text, description in (
        ("reject_b64_padding", "-_8=", "padding characters are not allowed"),
        ("reject_b64_standard_alphabet", "+/8", "only the URL-safe alphabet"),
        ("reject_b64_non_canonical", "-_9", "unused trailing bits must be zero"),
        ("reject_b64_impossible_length", "A", "a single character encodes no byte"),
    ):
        vectors.append(vec(name, "b64_decode", {"text": text},
                           error_of("malformed", lambda text=text: b64decode(text)),
                           description))
    return doc("primitives", "Domain-separation labels and their frames, labelled hashes, "
               "derived keys, labelled Ed25519 signatures (with the exact signed input) and "
               "base64url.", vectors)


# --- identity and safety numbers -----------------------------------------------------------


def identity_doc(world: World) -> Json:
    vectors: list[Json] = []
    for name in CAST:
        me = world.people[name]
        public = me.public
        binding = public.sign_pk + public.box_pk
        sign_seed, box_sk = world.identity_draws[name]
        vectors.append(vec(
            name, "identity",
            {"sign_seed": sign_seed.hex(), "box_sk": box_sk.hex()},
            {"sign_sk": me.sign_sk.hex(), "sign_pk": public.sign_pk.hex(),
             "box_pk": public.box_pk.hex(), "binding_message": binding.hex(),
             "binding_signature_input": signature_input(labels.IDENTITY_BINDING, binding),
             "binding_signature": public.binding_sig.hex(),
             "public_identity": public.encode().hex(),
             "fingerprint": public.fingerprint.hex(),
             "short_fingerprint": public.short_fingerprint(),
             "private_identity": me.encode_private().hex()}))
    owner = world.people["owner"].public.encode()
    other = world.people["admin"].public
    swapped = owner[:34] + other.box_pk + owner[66:]
    for name, data, code, description in (
        ("reject_flipped_binding_signature", flip(owner, -1), "bad_signature",
         "last byte of the binding signature flipped"),
        ("reject_swapped_box_key", swapped, "bad_signature",
         "the owner's signing key and binding signature with another member's box key"),
        ("reject_flipped_sign_pk", flip(owner, 2), "bad_signature",
         "first byte of the signing key flipped"),
        ("reject_wrong_tag", bytes((Tag.PRIVATE_IDENTITY,)) + owner[1:], "malformed",
         "type tag 0x0b (private identity) instead of 0x01"),
        ("reject_version_2", owner[:1] + b"\x02" + owner[2:], "malformed",
         "protocol version byte 2"),
        ("reject_truncated", owner[:-1], "malformed", "one byte short"),
        ("reject_trailing_byte", owner + b"\x00", "malformed", "one extra byte"),
    ):
        vectors.append(vec(name, "decode_public_identity", {"data": data.hex()},
                           error_of(code, lambda data=data: PublicIdentity.decode(data)),
                           description))
    private = world.people["owner"].encode_private()
    for name, data, description in (
        ("reject_private_truncated", private[:-1], "one byte short"),
        ("reject_private_wrong_tag", owner[:1] + private[1:], "public identity tag"),
    ):
        vectors.append(vec(name, "decode_private_identity", {"data": data.hex()},
                           error_of("malformed", lambda data=data: Identity.decode_private(data)),
                           description))
    return doc("identity", "Identities: an Ed25519 signing key and an X25519 box key bound to "
               "it by a labelled signature; public and private wire forms; fingerprints.",
               vectors)


def safety_doc(world: World) -> Json:
    vectors: list[Json] = []
    for a, b in (("owner", "admin"), ("joiner", "owner"), ("member", "outsider")):
        pa, pb = world.people[a].public, world.people[b].public
        low, high = sorted((pa.fingerprint, pb.fingerprint))
        digest = labelled_hash(labels.SAFETY_NUMBER, low + high, size=60)
        vectors.append(vec(
            f"{a}_{b}", "safety_number",
            {"a": pa.encode().hex(), "b": pb.encode().hex()},
            {"fingerprint_low": low.hex(), "fingerprint_high": high.hex(),
             "digest": digest.hex(), "safety_number": safety_number(pa, pb)}))
    state = world.state
    for seq in (0, 6, state.seq):
        head, epoch = state.hashes[seq], state.epoch_at(seq)
        message = world.group_id + seq.to_bytes(8, "big") + head + epoch.to_bytes(8, "big")
        vectors.append(vec(
            f"group_code_at_{seq:02d}", "group_code",
            {"group_id": world.group_id.hex(), "seq": seq, "head": head.hex(), "epoch": epoch},
            {"hash_input": (frame(labels.GROUP_CODE) + message).hex(),
             "digest": labelled_hash(labels.GROUP_CODE, message, size=20).hex(),
             "group_code": group_code(world.group_id, seq, head, epoch)}))
    return doc("safety", "Safety numbers: 60 digits in 12 groups of 5 from two identities' "
               "fingerprints, the same in either order; group codes: 20 digits in 4 groups of "
               "5 from a verified log at one entry (the full log's state).", vectors)


# --- the membership log --------------------------------------------------------------------


def body_json(body: EntryBody) -> Json:
    if isinstance(body, CreateBody):
        return {"creator": body.creator.encode().hex(), "group_nonce": body.group_nonce.hex(),
                "epoch_commitment": body.epoch_commitment.hex()}
    if isinstance(body, InviteBody):
        return {"invite_id": body.invite_id.hex(), "invite_pk": body.invite_pk.hex(),
                "max_uses": body.max_uses, "expires_at_ms": body.expires_at_ms,
                "requires_approval": body.requires_approval}
    if isinstance(body, InviteRevokeBody):
        return {"invite_id": body.invite_id.hex()}
    if isinstance(body, JoinBody):
        return {"invite_id": body.invite_id.hex(), "joiner": body.joiner.encode().hex(),
                "proof": body.proof.hex()}
    if isinstance(body, AddBody):
        return {"member": body.member.encode().hex(), "role": int(body.role),
                "invite_id": h(body.invite_id), "proof": h(body.proof)}
    if isinstance(body, RemoveBody):
        return {"member": body.member.hex(), "new_epoch": body.new_epoch,
                "epoch_commitment": body.epoch_commitment.hex()}
    if isinstance(body, LeaveBody):
        return {}
    if isinstance(body, RoleBody):
        return {"member": body.member.hex(), "role": int(body.role)}
    if isinstance(body, RotateBody):
        return {"new_epoch": body.new_epoch, "epoch_commitment": body.epoch_commitment.hex()}
    if isinstance(body, AddRotateBody):
        return {"member": body.member.encode().hex(), "role": int(body.role),
                "invite_id": h(body.invite_id), "proof": h(body.proof),
                "new_epoch": body.new_epoch, "epoch_commitment": body.epoch_commitment.hex()}
    return {"subject": h(body.subject), "epoch": body.epoch, "ciphertext": body.ciphertext.hex()}


def entry_vector(world: World, entry: LogEntry, notes: Json, name: str) -> Json:
    author = world.people[world.who(entry.author)]
    inputs: Json = {
        "author_sign_seed": author.sign_seed.hex(),
        "author": entry.author.hex(),
        "group_id": entry.group_id.hex(),
        "seq": entry.seq,
        "prev_hash": entry.prev_hash.hex(),
        "timestamp_ms": entry.timestamp_ms,
        "kind": int(entry.kind),
        "kind_name": entry.kind.name,
        "body": body_json(entry.body),
    }
    if notes:
        inputs["derivation"] = notes
    signed = entry.raw[:-64]
    expected: Json = {
        "body": entry.body.encode().hex(),
        "signed": signed.hex(),
        "signature_input": signature_input(labels.LOG_ENTRY_SIGNATURE, signed),
        "signature": entry.signature.hex(),
        "entry": entry.raw.hex(),
        "hash": entry.hash.hex(),
    }
    if entry.seq == 0:
        expected["group_id"] = group_id_of(entry).hex()
    return vec(name, "log_entry", inputs, expected)


def state_summary(state: GroupState) -> Json:
    def member(m: Any) -> Json:
        out = {"sign_pk": m.sign_pk.hex(), "role": int(m.role), "joined_seq": m.joined_seq}
        if m.removed_seq is not None:
            out["removed_seq"] = m.removed_seq
        return out

    def meta(body: MetadataBody | None) -> Json | None:
        if body is None:
            return None
        return {"subject": h(body.subject), "epoch": body.epoch,
                "ciphertext": body.ciphertext.hex()}

    return {
        "group_id": state.group_id.hex(),
        "seq": state.seq,
        "head": state.head.hex(),
        "timestamp_ms": state.timestamp_ms,
        "epoch": state.epoch,
        "rotation_pending": state.rotation_pending,
        "epochs": [{"epoch": e, "commitment": state.epoch_commitments[e].hex(),
                    "start_seq": state.epoch_start_seq[e]}
                   for e in sorted(state.epoch_commitments)],
        "members": [member(m) for m in sorted(state.members.values(),
                                              key=lambda m: (m.joined_seq, m.sign_pk))],
        "former_members": [member(m) for m in sorted(state.former_members.values(),
                                                     key=lambda m: (m.joined_seq, m.sign_pk))],
        "invites": [{"invite_id": i.invite_id.hex(), "invite_pk": i.invite_pk.hex(),
                     "max_uses": i.max_uses, "expires_at_ms": i.expires_at_ms,
                     "requires_approval": i.requires_approval, "uses": i.uses,
                     "revoked": i.revoked, "created_by": i.created_by.hex()}
                    for i in sorted(state.invites.values(), key=lambda i: i.invite_id)],
        "group_metadata": meta(state.group_metadata),
        "profiles": [meta(state.profiles[k]) for k in sorted(state.profiles)],
        "hashes": [x.hex() for x in state.hashes],
        "role_history": [{"sign_pk": pk.hex(),
                          "roles": [{"from_seq": seq, "role": int(role)}
                                    for seq, role in state.role_history[pk]]}
                         for pk in sorted(state.role_history)],
    }


def log_doc(world: World) -> Json:
    p, inv = world.people, world.invites
    vectors: list[Json] = []
    for entry, notes in zip(world.entries, world.entry_notes, strict=True):
        label = "genesis" if entry.seq == 0 else entry.kind.name.lower()
        vectors.append(entry_vector(world, entry, notes, f"entry_{entry.seq:02d}_{label}"))
    state = world.state
    gid, full = world.group_id, world.raw
    vectors.append(vec("full_log", "verify_log",
                       {"group_id": gid.hex(), "entries": [r.hex() for r in full]},
                       {"state": state_summary(state),
                        "checkpoint": state.checkpoint().encode().hex()}))
    for seq in (0, 6, state.seq):
        cp = LogCheckpoint(gid, seq, state.hashes[seq])
        vectors.append(vec(f"checkpoint_{seq:02d}", "log_checkpoint",
                           {"group_id": gid.hex(), "seq": seq, "head": cp.head.hex()},
                           {"checkpoint": cp.encode().hex()}))
    cp_bytes = state.checkpoint().encode()
    vectors.append(vec("reject_checkpoint_trailing_byte", "decode_log_checkpoint",
                       {"data": (cp_bytes + b"\x00").hex()},
                       error_of("malformed", lambda: LogCheckpoint.decode(cp_bytes + b"\x00")),
                       "the head checkpoint plus one byte"))

    # Entries that fail to decode.
    add_admin = world.entries[5].raw
    body_start = 2 + 32 + 8 + 32 + 32 + 8 + 1 + 4
    unknown_kind = sign_entry(p["owner"], LeaveBody(), group_id=gid, seq=14,
                              prev_hash=state.head, timestamp_ms=T0 + 14 * MINUTE).raw
    unknown_kind = unknown_kind[: body_start - 5] + b"\x0c" + unknown_kind[body_start - 4 : -64]
    unknown_kind += sign(p["owner"].sign_sk, labels.LOG_ENTRY_SIGNATURE, unknown_kind)
    for name, data, code, description in (
        ("reject_flipped_body_byte", flip(add_admin, body_start + 40), "bad_signature",
         "entry 5 with one byte of the added member's box key flipped"),
        ("reject_flipped_signature", flip(add_admin, -1), "bad_signature",
         "entry 5 with the last signature byte flipped"),
        ("reject_flipped_timestamp", flip(add_admin, 2 + 32 + 8 + 32 + 32 + 7), "bad_signature",
         "entry 5 with the timestamp changed by 1 ms"),
        ("reject_trailing_byte", add_admin + b"\x00", "malformed", "entry 5 plus one byte"),
        ("reject_truncated", add_admin[:-1], "malformed", "entry 5 minus its last byte"),
        ("reject_version_2", add_admin[:1] + b"\x02" + add_admin[2:], "malformed",
         "entry 5 with protocol version 2"),
        ("reject_unknown_kind", unknown_kind, "malformed",
         "a validly signed entry of kind 12 (no such kind)"),
    ):
        vectors.append(vec(name, "decode_log_entry", {"entry": data.hex()},
                           error_of(code, lambda data=data: LogEntry.decode(data)), description))

    # Entries that decode but break a chain rule, appended to the full log.
    outsider = p["outsider"]
    revoked_proof = join_proof(inv["open"].secret, gid, inv["open"].invite_id, outsider.public)
    fresh_sk, fresh_pk = invite_keypair(bytes(range(32)))
    fresh_id = bytes(range(100, 116))
    late_join = JoinBody(fresh_id, outsider.public,
                         sign(fresh_sk, labels.JOIN_PROOF,
                              join_proof_message(gid, fresh_id, outsider.public)))
    invite_3 = next_entry(world, p["admin"], InviteBody(fresh_id, fresh_pk, 5, T0 + 20 * MINUTE,
                                                         False))
    expired_join = sign_entry(outsider, late_join, group_id=gid, seq=15,
                              prev_hash=invite_3.hash, timestamp_ms=T0 + 20 * MINUTE)
    chain_cases: list[tuple[str, list[LogEntry], str, str]] = [
        ("reject_wrong_prev_hash",
         [next_entry(world, p["owner"], RoleBody(p["member"].sign_pk, Role.MODERATOR),
                     prev_hash=state.hashes[12])], "log_chain_broken",
         "a valid signature, but prev_hash names entry 12 instead of the head (entry 13)"),
        ("reject_seq_gap",
         [next_entry(world, p["owner"], RoleBody(p["member"].sign_pk, Role.MODERATOR), seq=15)],
         "log_chain_broken", "seq 15 right after seq 13"),
        ("reject_timestamp_backwards",
         [next_entry(world, p["owner"], RoleBody(p["member"].sign_pk, Role.MODERATOR),
                     timestamp_ms=T0 + 13 * MINUTE - 1)],
         "log_entry_invalid", "dated 1 ms before the entry it follows"),
        ("reject_member_creates_invite",
         [next_entry(world, p["member"], InviteBody(fresh_id, fresh_pk, 1, T0 + DAY, False))],
         "log_unauthorized", "a plain member may not create invites"),
        ("reject_removed_member_writes",
         [next_entry(world, p["approved"],
                     MetadataBody(p["approved"].sign_pk, 2, b"\x00" * 256))],
         "log_unauthorized", "the member removed at entry 11 signs a profile change"),
        ("reject_metadata_for_an_old_epoch",
         [next_entry(world, p["admin"],
                     MetadataBody(None, 1, world.metadata_envelopes["group"]))],
         "log_entry_invalid", "group metadata encrypted for epoch 1 while the current epoch "
         "is 2: the joiner, who left at entry 12, holds epoch 1's key"),
        ("reject_readding_removed_key",
         [next_entry(world, p["owner"], AddBody(p["approved"].public, Role.MEMBER))],
         "log_entry_invalid", "a removed key can never be added again"),
        ("reject_join_through_revoked_invite",
         [next_entry(world, outsider, JoinBody(inv["open"].invite_id, outsider.public,
                                               revoked_proof))],
         "invite_revoked", "a valid join proof for the invite revoked at entry 8"),
        ("reject_join_through_expired_invite", [invite_3, expired_join], "invite_expired",
         "the admin creates an invite expiring at T0+20min (entry 14); a join dated exactly "
         "then (entry 15) is too late"),
        ("reject_rotate_skipping_an_epoch",
         [next_entry(world, p["admin"], RotateBody(4, bytes(32)))], "log_entry_invalid",
         "epoch 4 follows epoch 2"),
        ("reject_last_owner_leaves", [next_entry(world, p["owner"], LeaveBody())],
         "log_entry_invalid", "the only owner cannot leave"),
        ("reject_second_genesis",
         [next_entry(world, p["owner"], CreateBody(p["owner"].public, bytes(16), bytes(32)))],
         "log_entry_invalid", "a CREATE entry after the genesis"),
    ]
    for name, extra, code, description in chain_cases:
        raw = [e.raw for e in extra]
        vectors.append(vec(
            name, "verify_log",
            {"group_id": gid.hex(), "entries_from_full_log": len(full),
             "extra_entries": [r.hex() for r in raw], "checkpoint": None},
            error_of(code, lambda raw=raw: verify_log(gid, full + raw)), description))
    # ADD_ROTATE, one entry past the full log: the newcomer is admitted by the entry that
    # starts epoch 3 (so the state's epoch 3 begins at the newcomer's joined_seq).
    key_3 = seeded_random("vault/vectors/add-rotate")(32)
    add_rotate = next_entry(world, p["owner"], AddRotateBody(
        p["newcomer"].public, Role.MEMBER, None, None, 3,
        epoch_commitment(commitment_group_id(gid, 3), 3, key_3)))
    vectors.append(entry_vector(world, add_rotate, {"epoch_key": h(key_3)},
                                "entry_14_add_rotate_after_full_log"))
    vectors.append(vec(
        "full_log_then_add_rotate", "verify_log",
        {"group_id": gid.hex(), "entries_from_full_log": len(full),
         "extra_entries": [add_rotate.raw.hex()], "checkpoint": None},
        {"state": state_summary(verify_log(gid, [*full, add_rotate.raw]))}))
    fork = next_entry(world, p["admin"], RotateBody(2, bytes(32)), seq=13,
                      prev_hash=state.hashes[12])
    cp = state.checkpoint().encode()
    for name, take, extra, checkpoint, group, code, description in (
        ("reject_rollback", 10, [], cp, gid, "log_rollback",
         "the relay serves entries 0..9 to a device whose checkpoint is at entry 13"),
        ("reject_fork", 13, [fork.raw], cp, gid, "log_fork",
         "a different (validly signed) entry 13 than the checkpoint's"),
        ("reject_other_group", len(full), [], None, bytes(32), "log_group_id_mismatch",
         "the log is verified as the log of another group id (32 zero bytes)"),
    ):
        checkpoint_obj = None if checkpoint is None else LogCheckpoint.decode(checkpoint)
        entries = full[:take] + extra
        vectors.append(vec(
            name, "verify_log",
            {"group_id": group.hex(), "entries_from_full_log": take,
             "extra_entries": [r.hex() for r in extra], "checkpoint": h(checkpoint)},
            error_of(code, lambda group=group, entries=entries, c=checkpoint_obj: verify_log(
                group, entries, checkpoint=c)),
            description))
    return doc("log", "The membership log of one group using every entry kind (entries "
               "0..13), the group id, entry hashes, the verified state, checkpoints, and "
               "entries each chain rule refuses.", vectors)


# --- epochs and grants ---------------------------------------------------------------------


def grant_content(granter: Identity, group_id: bytes, epoch: int, recipient: PublicIdentity,
                  epoch_key: bytes) -> bytes:
    """The signed GrantContent bytes, built field by field from the documented layout."""
    signed = (Writer(Tag.GRANT_CONTENT).fixed(group_id, 32).u64(epoch)
              .fixed(recipient.sign_pk, 32).fixed(recipient.box_pk, 32)
              .fixed(granter.sign_pk, 32).fixed(epoch_key, 32).finish())
    return signed + granter.sign(labels.EPOCH_GRANT, signed)


def epochs_doc(world: World) -> Json:
    p, gid, state = world.people, world.group_id, world.state
    rng = seeded_random("vault/vectors/epochs")
    vectors: list[Json] = []
    for epoch, key in world.epoch_keys.items():
        bound = commitment_group_id(gid, epoch)
        context = bound + epoch.to_bytes(8, "big")
        commitment = epoch_commitment(bound, epoch, key)
        assert commitment == state.epoch_commitments[epoch]
        vectors.append(vec(
            f"commitment_epoch_{epoch}", "epoch_commitment",
            {"group_id": gid.hex(), "epoch": epoch, "epoch_key": key.hex()},
            {"bound_group_id": bound.hex(),
             "hash_input": (frame(labels.EPOCH_COMMITMENT) + context + key).hex(),
             "commitment": commitment.hex()}))
        subkey_context = gid + epoch.to_bytes(8, "big")
        vectors.append(vec(
            f"subkeys_epoch_{epoch}", "subkeys",
            {"group_id": gid.hex(), "epoch": epoch, "epoch_key": key.hex()},
            {"context": subkey_context.hex(),
             "post_key": post_key(key, gid, epoch).hex(),
             "metadata_key": metadata_key(key, gid, epoch).hex()}))
    grants: dict[str, bytes] = {}
    for granter, epoch, recipient in (("owner", 0, "joiner"), ("owner", 1, "member"),
                                      ("admin", 2, "owner"), ("admin", 2, "admin"),
                                      ("admin", 2, "member")):
        g, r, key = p[granter], p[recipient], world.epoch_keys[epoch]
        content = grant_content(g, gid, epoch, r.public, key)
        built = build_grants(g, gid, epoch, key, [r.public])[0]
        opened = nacl.bindings.crypto_box_seal_open(built.sealed, r.public.box_pk, r.box_sk)
        assert opened == content, "build_grants disagrees with the documented GrantContent"
        ephemeral_sk = rng(32)
        sealed = seal_with_ephemeral(content, r.public.box_pk, ephemeral_sk)
        grant = EpochGrant(gid, epoch, r.sign_pk, sealed)
        assert grant.encode()[:-len(sealed)] == built.encode()[:-len(sealed)]
        assert open_grant(EpochGrant.decode(grant.encode()), r, state) == key
        epk = nacl.bindings.crypto_scalarmult_base(ephemeral_sk)
        name = f"grant_epoch_{epoch}_{granter}_to_{recipient}"
        grants[name] = grant.encode()
        vectors.append(vec(
            name, "epoch_grant",
            {"granter_sign_seed": g.sign_seed.hex(), "granter": g.sign_pk.hex(),
             "group_id": gid.hex(), "epoch": epoch, "epoch_key": key.hex(),
             "recipient": r.public.encode().hex(), "recipient_sign_seed": r.sign_seed.hex(),
             "recipient_box_sk": r.box_sk.hex(), "seal_ephemeral_sk": ephemeral_sk.hex(),
             "state": STATE_REF},
            {"grant_content": content.hex(),
             "signature_input": signature_input(labels.EPOCH_GRANT, content[:-64]),
             "grant_signature": content[-64:].hex(),
             "seal_ephemeral_pk": epk.hex(),
             "seal_nonce": nacl.bindings.crypto_generichash_blake2b_salt_personal(
                 epk + r.public.box_pk, digest_size=24).hex(),
             "sealed": sealed.hex(),
             "epoch_grant": grant.encode().hex()}))

    to_member = EpochGrant.decode(grants["grant_epoch_2_admin_to_member"])

    def crafted(content: bytes, *, epoch: int = 2, recipient: str = "member") -> bytes:
        r = p[recipient]
        return EpochGrant(gid, epoch, r.sign_pk,
                          seal_with_ephemeral(content, r.public.box_pk, rng(32))).encode()

    member = p["member"].public
    good = grant_content(p["admin"], gid, 2, member, world.epoch_keys[2])
    header = to_member.encode()[: -(4 + len(to_member.sealed))]
    negatives: list[tuple[str, bytes, str, str, str]] = [
        ("reject_grant_opened_by_other_member", to_member.encode(), "owner", "grant_invalid",
         "the member's grant opened by the owner (header names the member)"),
        ("reject_relabelled_recipient",
         replace(to_member, recipient=p["owner"].sign_pk).encode(), "owner",
         "decryption_failed", "the relay relabels the member's grant as the owner's"),
        ("reject_flipped_sealed_byte",
         replace(to_member, sealed=flip(to_member.sealed, 100)).encode(), "member",
         "decryption_failed", "one byte of the sealed box flipped"),
        ("reject_relabelled_epoch", replace(to_member, epoch=1).encode(), "member",
         "grant_invalid", "header epoch 1, sealed content epoch 2"),
        ("reject_granter_not_admin",
         crafted(grant_content(p["member"], gid, 2, member, world.epoch_keys[2])), "member",
         "grant_invalid", "the right key, signed by a plain member"),
        ("reject_key_not_committed",
         crafted(grant_content(p["admin"], gid, 2, member, world.epoch_keys[1])), "member",
         "grant_invalid", "signed by the admin, but carrying epoch 1's key as epoch 2's"),
        ("reject_bad_grant_signature", crafted(flip(good, -3)), "member", "grant_invalid",
         "one byte of the granter's signature flipped inside the sealed content"),
        ("reject_unknown_epoch",
         crafted(grant_content(p["admin"], gid, 3, member, world.epoch_keys[2]), epoch=3),
         "member", "grant_invalid", "epoch 3, which the log does not contain"),
        ("reject_sealed_for_other_box_key",
         crafted(grant_content(p["admin"], gid, 2, p["owner"].public, world.epoch_keys[2])),
         "member", "grant_invalid",
         "sealed to the member but naming the owner's keys inside"),
    ]
    for name, data, opener, code, description in negatives:
        me = p[opener]
        vectors.append(vec(
            name, "open_grant",
            {"epoch_grant": data.hex(), "opener_sign_seed": me.sign_seed.hex(),
             "opener_box_sk": me.box_sk.hex(), "state": STATE_REF},
            error_of(code, lambda data=data, me=me: open_grant(EpochGrant.decode(data), me,
                                                               state)),
            description))
    short = header + (281).to_bytes(4, "big") + to_member.sealed[:-1]
    vectors.append(vec("reject_short_sealed", "decode_epoch_grant", {"data": short.hex()},
                       error_of("malformed", lambda: EpochGrant.decode(short)),
                       "a sealed box one byte short (281 instead of 282)"))
    return doc("epochs", "Epoch key commitments, post and metadata subkeys, and epoch grants "
               "(GrantContent signed by an admin, sealed to the recipient's box key, with "
               "the ephemeral key pinned).", vectors)


# --- padding -------------------------------------------------------------------------------


def padding_doc() -> Json:
    vectors: list[Json] = []
    for length in (0, 1, 255, 256, 257, 511, 512, 1000, 4095, 4096, 32767, 32768, 65535):
        vectors.append(vec(f"bucket_{length}", "bucket_size", {"length": length},
                           {"bucket": bucket_size(length)}))
    vectors.append(vec("reject_bucket_65536", "bucket_size", {"length": 65536},
                       error_of("too_large", lambda: bucket_size(65536)),
                       "65536 bytes of data cannot be padded into the largest bucket"))
    for data in (b"", b"hello", bytes(range(255)), bytes(256)):
        vectors.append(vec(f"pad_{len(data)}", "pad", {"data": data.hex()},
                           {"padded": pad(data).hex()}))
    for data, size in ((b"\x07\x01", 8), (b"profile", 202)):
        vectors.append(vec(f"pad_to_{len(data)}_{size}", "pad_to",
                           {"data": data.hex(), "size": size},
                           {"padded": pad_to(data, size).hex()}))
    for name, padded, description in (
        ("reject_no_marker", b"abc" + bytes(5), "no 0x80 before the zeros"),
        ("reject_all_zero", bytes(256), "only zeros"),
        ("reject_nonzero_after_marker", b"abc\x80\x00\x01", "a non-zero byte after the marker"),
        ("reject_empty", b"", "nothing to unpad"),
    ):
        vectors.append(vec(name, "unpad", {"padded": padded.hex()},
                           error_of("decryption_failed", lambda padded=padded: unpad(padded)),
                           description))
    return doc("padding", "Size buckets and ISO/IEC 7816-4 padding (0x80 then zeros, as "
               "libsodium's sodium_pad).", vectors)


# --- attachments ---------------------------------------------------------------------------


def attachment_json(att: Attachment) -> Json:
    return {"blob_id": att.blob_id.hex(), "blob_key": att.blob_key.hex(),
            "digest": att.digest.hex(), "size": att.size, "media_type": att.media_type}


def make_attachments() -> list[tuple[bytes, str, tuple[bytes, bytes, bytes], Attachment, bytes]]:
    rng = seeded_random("vault/vectors/attachments")
    out = []
    for data, media in ((b"Meeting notes: bring a friend.\n", "text/plain"),
                        (bytes(range(256)) * 4, "application/octet-stream"),
                        (b"", "image/png")):
        draws = (rng(32), rng(24), rng(16))  # blob key, nonce, blob id: the core's draw order
        scripted = Scripted(*draws)
        att, blob = make_attachment(data, media, random=scripted)
        scripted.done()
        out.append((data, media, draws, att, blob))
    return out


def attachments_doc(atts: list[Any]) -> Json:
    vectors: list[Json] = []
    for length in (0, 1, 255, 256, 1000, 1024, 65536, MIB // 2, MIB - 1, MIB, MIB + 1,
                   2 * MIB, 5 * MIB + 12345, MAX_ATTACHMENT_SIZE):
        vectors.append(vec(f"padded_size_{length}", "attachment_padded_size",
                           {"length": length}, {"padded_size": padded_size(length)}))
    vectors.append(vec(f"reject_padded_size_{MAX_ATTACHMENT_SIZE + 1}", "attachment_padded_size",
                       {"length": MAX_ATTACHMENT_SIZE + 1},
                       error_of("too_large", lambda: padded_size(MAX_ATTACHMENT_SIZE + 1)),
                       "10 MiB of data does not fit the 10 MiB bucket with its padding byte"))
    for data, media, (key, nonce, blob_id), att, blob in atts:
        wire = Writer()
        att.write_to(wire)
        vectors.append(vec(
            f"attachment_{len(data)}_{media.split('/')[0]}", "make_attachment",
            {"data": data.hex(), "media_type": media, "blob_key": key.hex(),
             "nonce": nonce.hex(), "blob_id": blob_id.hex()},
            {"padded": pad_to(data, padded_size(len(data))).hex(),
             "aad": frame(labels.ATTACHMENT).hex(), "blob": blob.hex(),
             "digest": blob_digest(blob).hex(), "attachment": attachment_json(att),
             "attachment_wire": wire.finish().hex()}))
    data, _media, (key, nonce, _blob_id), att, blob = atts[0]
    other_key = replace(att, blob_key=bytes(32))
    misstated = replace(att, size=len(data) - 1)

    def sealed_as_is(plaintext: bytes) -> tuple[Attachment, bytes]:
        """A blob whose plaintext the key holder chose (here: not validly padded)."""
        forged = nonce + nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            plaintext, frame(labels.ATTACHMENT), nonce, key)
        return replace(att, digest=blob_digest(forged)), forged

    unpadded_att, unpadded_blob = sealed_as_is(data + bytes(256 - len(data)))
    for name, attachment, served, code, description in (
        ("reject_size_misstated", misstated, blob, "attachment_mismatch",
         "the right blob, but the attachment says one byte less (same bucket): caught after "
         "unpadding"),
        ("reject_bad_padding", unpadded_att, unpadded_blob, "decryption_failed",
         "256 bytes encrypted without the 0x80 marker (digest and size bucket match)"),
        ("reject_flipped_blob_byte", att, flip(blob, 30), "attachment_mismatch",
         "one ciphertext byte flipped: the digest no longer matches"),
        ("reject_truncated_blob", att, blob[:-1], "attachment_mismatch", "one byte short"),
        ("reject_other_blob", att, atts[1][4], "attachment_mismatch",
         "another attachment's blob"),
        ("reject_wrong_key", other_key, blob, "decryption_failed",
         "the right blob and digest, but a zero key"),
    ):
        vectors.append(vec(
            name, "decrypt_attachment",
            {"attachment": attachment_json(attachment), "blob": served.hex()},
            error_of(code, lambda a=attachment, b=served: decrypt_attachment(a, b)),
            description))
    return doc("attachments", "Attachment blobs: the data padded to a size bucket, then nonce "
               "|| XChaCha20-Poly1305(padded, aad = the attachment label) under a random key; "
               "the digest a post records; the attachment's wire form inside a post body.",
               vectors)


# --- posts ---------------------------------------------------------------------------------


def post_json(body: PostBody) -> Json:
    return {
        "author": body.author.hex(), "group_id": body.group_id.hex(), "epoch": body.epoch,
        "post_id": body.post_id.hex(), "author_seq": body.author_seq, "log_seq": body.log_seq,
        "log_head": body.log_head.hex(), "timestamp_ms": body.timestamp_ms,
        "kind": int(body.kind), "kind_name": body.kind.name,
        "refs": [r.hex() for r in body.refs], "text": body.text,
        "content_warning": body.content_warning,
        "attachments": [attachment_json(a) for a in body.attachments],
        "expires_at_ms": body.expires_at_ms,
    }


def craft_envelope(signer: Identity, body_bytes: bytes, epoch_key: bytes, nonce: bytes, *,
                   group_id: bytes, epoch: int, post_id: bytes, log_seq: int, log_head: bytes,
                   expires_at_ms: int | None) -> PostEnvelope:
    """An envelope with any header around any signed body: what a key holder could upload."""
    plaintext = pad(body_bytes + sign(signer.sign_sk, labels.POST_SIGNATURE, body_bytes))
    shell = PostEnvelope(group_id, epoch, post_id, log_seq, log_head, expires_at_ms, nonce, b"")
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, shell.header, nonce, post_key(epoch_key, group_id, epoch))
    return replace(shell, ciphertext=ciphertext)


def posts_doc(world: World, atts: list[Any]) -> Json:
    p, gid, state = world.people, world.group_id, world.state
    rng = seeded_random("vault/vectors/posts")
    t = T0 + HOUR
    head = state.head
    ids = {name: rng(16) for name in ("welcome", "reply", "reaction", "photo", "edit",
                                      "delete", "early", "long", "forged", "outsider")}

    def body(author: str, post: str, seq: int, kind: PostKind, **extra: Any) -> PostBody:
        fields: dict[str, Any] = {
            "author": p[author].sign_pk, "group_id": gid, "epoch": state.epoch,
            "post_id": ids[post], "author_seq": seq, "log_seq": state.seq, "log_head": head,
            "timestamp_ms": t + 1000 * len(posts), "kind": kind,
        }
        fields.update(extra)
        return PostBody(**fields)

    posts: list[tuple[str, str, PostBody]] = []
    posts.append(("post_welcome", "owner", body(
        "owner", "welcome", 1, PostKind.POST,
        text="Welcome, everyone. This space is ours; take what you need.")))
    posts.append(("reply_with_warning_and_expiry", "admin", body(
        "admin", "reply", 1, PostKind.REPLY, refs=(ids["welcome"],),
        text="Thank you. Tonight I'd like to talk about the anniversary.",
        content_warning="loss, grief", expires_at_ms=t + 30 * DAY)))
    posts.append(("reaction", "member", body(
        "member", "reaction", 1, PostKind.REACTION, refs=(ids["welcome"],), text="\U0001f49c")))
    posts.append(("post_with_attachments", "member", body(
        "member", "photo", 2, PostKind.POST, text="Notes from last week (\u00e9t\u00e9).",
        attachments=(atts[0][3], atts[2][3]))))
    posts.append(("edit", "owner", body(
        "owner", "edit", 2, PostKind.EDIT, refs=(ids["welcome"],),
        text="Welcome, everyone. This space is ours; take what you need, leave what you don't.")))
    posts.append(("delete", "admin", body("admin", "delete", 2, PostKind.DELETE,
                                          refs=(ids["reply"],))))
    early_seq = 10  # before the removal at entry 11: epoch 0, joiner still a member
    posts.append(("post_in_epoch_0", "joiner", body(
        "joiner", "early", 1, PostKind.POST, epoch=0, log_seq=early_seq,
        log_head=state.hashes[early_seq], text="First time here. Hi.")))
    posts.append(("post_bucket_512", "owner", body(
        "owner", "long", 3, PostKind.POST, text="Breathe in, breathe out. " * 12)))

    vectors: list[Json] = []
    envelopes: dict[str, PostEnvelope] = {}
    for name, author, post in posts:
        me, key = p[author], world.epoch_keys[post.epoch]
        nonce = rng(24)
        scripted = Scripted(nonce)
        envelope = seal_post(me, key, post, random=scripted)
        scripted.done()
        opened = open_post(PostEnvelope.decode(envelope.encode()), key, state)
        assert opened.body == post
        envelopes[name] = envelope
        signed = post.encode()
        signature = me.sign(labels.POST_SIGNATURE, signed)
        vectors.append(vec(
            name, "seal_post",
            {"author_sign_seed": me.sign_seed.hex(), "epoch_key": key.hex(),
             "body": post_json(post), "nonce": nonce.hex(), "state": STATE_REF},
            {"body": signed.hex(),
             "signature_input": signature_input(labels.POST_SIGNATURE, signed),
             "signature": signature.hex(),
             "plaintext": pad(signed + signature).hex(),
             "post_key": post_key(key, gid, post.epoch).hex(),
             "aad": envelope.header.hex(),
             "ciphertext": envelope.ciphertext.hex(),
             "envelope": envelope.encode().hex()}))

    welcome = envelopes["post_welcome"]
    k2 = world.epoch_keys[2]
    base = next(b for n, _a, b in posts if n == "post_welcome")
    hdr = {"group_id": gid, "epoch": 2, "log_seq": state.seq, "log_head": head,
           "expires_at_ms": None}
    outsider_body = replace(base, author=p["outsider"].sign_pk, post_id=ids["outsider"])
    removed_body = replace(base, author=p["approved"].sign_pk, post_id=ids["outsider"])
    forged_body = replace(base, post_id=ids["forged"])
    future_body = replace(base, post_id=ids["forged"], log_seq=20)
    forked_body = replace(base, post_id=ids["forged"], log_head=state.hashes[12])
    wrong_epoch_body = replace(base, post_id=ids["forged"], epoch=1)
    cases: list[tuple[str, PostEnvelope, bytes, str, str]] = [
        ("reject_wrong_epoch_key", welcome, world.epoch_keys[1], "decryption_failed",
         "an epoch-2 post opened with epoch 1's key"),
        ("reject_flipped_ciphertext_byte",
         replace(welcome, ciphertext=flip(welcome.ciphertext, 10)), k2, "decryption_failed",
         "one ciphertext byte flipped"),
        ("reject_flipped_tag_byte",
         replace(welcome, ciphertext=flip(welcome.ciphertext, -1)), k2, "decryption_failed",
         "one byte of the Poly1305 tag flipped"),
        ("reject_relabelled_post_id", replace(welcome, post_id=ids["forged"]), k2,
         "decryption_failed", "the header's post id changed (it is associated data)"),
        ("reject_relabelled_log_head", replace(welcome, log_head=state.hashes[12]), k2,
         "decryption_failed", "the header's log head changed"),
        ("reject_added_expiry", replace(welcome, expires_at_ms=t + DAY), k2,
         "decryption_failed", "an expiry added to the header"),
        ("reject_outsider_author",
         craft_envelope(p["outsider"], outsider_body.encode(), k2, rng(24),
                        post_id=ids["outsider"], **hdr), k2, "not_a_member",
         "someone holding the epoch key but never a member writes a post"),
        ("reject_removed_member_author",
         craft_envelope(p["approved"], removed_body.encode(), k2, rng(24),
                        post_id=ids["outsider"], **hdr), k2, "not_a_member",
         "the member removed at entry 11 writes at log position 13"),
        ("reject_signature_by_another_member",
         craft_envelope(p["member"], forged_body.encode(), k2, rng(24),
                        post_id=ids["forged"], **hdr), k2, "bad_signature",
         "a body naming the owner as author, signed by the member"),
        ("reject_envelope_body_mismatch",
         craft_envelope(p["owner"], forged_body.encode(), k2, rng(24),
                        post_id=ids["forged"], **{**hdr, "expires_at_ms": t + DAY}), k2,
         "post_invalid", "the header carries an expiry the signed body does not"),
        ("reject_unknown_log_head",
         craft_envelope(p["owner"], future_body.encode(), k2, rng(24),
                        post_id=ids["forged"], **{**hdr, "log_seq": 20}), k2,
         "log_head_unknown", "written at log entry 20, which the log does not reach"),
        ("reject_forked_log_head",
         craft_envelope(p["owner"], forked_body.encode(), k2, rng(24),
                        post_id=ids["forged"], **{**hdr, "log_head": state.hashes[12]}), k2,
         "log_head_unknown", "log_seq 13 with entry 12's hash as its head"),
        ("reject_epoch_not_at_log_position",
         craft_envelope(p["owner"], wrong_epoch_body.encode(), world.epoch_keys[1],
                        rng(24), post_id=ids["forged"], **{**hdr, "epoch": 1}),
         world.epoch_keys[1], "post_invalid",
         "encrypted and signed for epoch 1 at log position 13, where epoch 2 is in force"),
    ]
    for name, envelope, key, code, description in cases:
        data = envelope.encode()
        vectors.append(vec(
            name, "open_post",
            {"envelope": data.hex(), "epoch_key": key.hex(), "state": STATE_REF},
            error_of(code, lambda data=data, key=key: open_post(PostEnvelope.decode(data), key,
                                                                state)),
            description))
    encoded = welcome.encode()
    odd = encoded[:-len(welcome.ciphertext) - 4] + (len(welcome.ciphertext) + 1).to_bytes(
        4, "big") + welcome.ciphertext + b"\x00"
    for name, data, description in (
        ("reject_envelope_not_a_bucket", odd, "a ciphertext of 273 bytes (bucket 257)"),
        ("reject_envelope_trailing_byte", encoded + b"\x00", "one extra byte"),
        ("reject_envelope_wrong_tag", bytes((Tag.POST_BODY,)) + encoded[1:],
         "post body tag instead of post envelope"),
    ):
        vectors.append(vec(name, "decode_post_envelope", {"data": data.hex()},
                           error_of("malformed", lambda data=data: PostEnvelope.decode(data)),
                           description))
    return doc("posts", "Post bodies, their signatures, padding and the AEAD envelope under "
               "the epoch's post key, with pinned nonces; posts the opening checks refuse.",
               vectors)


# --- metadata ------------------------------------------------------------------------------


def metadata_doc(world: World) -> Json:
    gid, p = world.group_id, world.people
    rng = seeded_random("vault/vectors/metadata")
    rng(24)
    rng(24)  # the two nonces the log's METADATA entries used (drawn in build_world)
    later = GroupMetadata(
        name="Tuesday evening circle",
        description="A peer support group.\n\nWe meet every Tuesday at 19:00. " * 3,
        rules="Listen first. No advice unless asked.")
    profile_2 = MemberProfile(display_name="\u05de\u05d9\u05d4")  # Hebrew: a right-to-left name
    vectors: list[Json] = []
    for value in (GROUP_METADATA_0, later):
        vectors.append(vec(f"group_metadata_{len(value.encode())}", "group_metadata",
                           {"name": value.name, "description": value.description,
                            "rules": value.rules}, {"encoded": value.encode().hex()}))
    for value in (PROFILE_0, profile_2):
        vectors.append(vec(f"member_profile_{len(value.encode())}", "member_profile",
                           {"display_name": value.display_name},
                           {"encoded": value.encode().hex()}))
    for name, display_name in (
        ("member_profile_nfc", "Jose\u0301"),  # decomposed: encoded precomposed (NFC)
        ("member_profile_emoji_sequence", "Sam \U0001f3f3\ufe0f\u200d\U0001f308"),
    ):
        vectors.append(vec(name, "member_profile", {"display_name": display_name},
                           {"encoded": MemberProfile(display_name).encode().hex()}))
    cases: list[tuple[str, int, str | None, Any, bytes]] = [
        ("group_metadata_epoch_0", 0, None, GROUP_METADATA_0, world.metadata_nonces["group"]),
        ("member_profile_epoch_0", 0, "member", PROFILE_0, world.metadata_nonces["profile"]),
        ("group_metadata_epoch_2", 2, None, later, rng(24)),
        ("member_profile_epoch_2", 2, "owner", profile_2, rng(24)),
    ]
    sealed: dict[str, bytes] = {}
    for name, epoch, who, value, nonce in cases:
        key = world.epoch_keys[epoch]
        subject = None if who is None else p[who].sign_pk
        scripted = Scripted(nonce)
        envelope = seal_metadata(key, gid, epoch, subject, value, random=scripted)
        scripted.done()
        sealed[name] = envelope
        plaintext = value.encode()
        total = bucket_size(len(plaintext) + ENVELOPE_OVERHEAD)
        padded = pad_to(plaintext, total - ENVELOPE_OVERHEAD)
        aad = (bytes((Tag.METADATA_ENVELOPE, 1)) + gid + epoch.to_bytes(8, "big")
               + (bytes(32) if subject is None else subject))
        value_json: Json = ({"type": "group", "name": value.name,
                             "description": value.description, "rules": value.rules}
                            if who is None else
                            {"type": "profile", "display_name": value.display_name})
        vectors.append(vec(
            name, "seal_metadata",
            {"epoch_key": key.hex(), "group_id": gid.hex(), "epoch": epoch,
             "subject": h(subject), "value": value_json, "nonce": nonce.hex()},
            {"plaintext": plaintext.hex(), "padded": padded.hex(),
             "metadata_key": metadata_key(key, gid, epoch).hex(), "aad": aad.hex(),
             "ciphertext": envelope[2 + 24 + 4:].hex(), "envelope": envelope.hex()}))
    assert sealed["group_metadata_epoch_0"] == world.metadata_envelopes["group"]
    assert sealed["member_profile_epoch_0"] == world.metadata_envelopes["profile"]

    k0, group_env, profile_env = (world.epoch_keys[0], sealed["group_metadata_epoch_0"],
                                  sealed["member_profile_epoch_0"])
    member_pk = p["member"].sign_pk

    def raw_seal(plaintext: bytes, subject: bytes | None, size: int = 256) -> bytes:
        nonce = bytes(24)
        aad = (bytes((Tag.METADATA_ENVELOPE, 1)) + gid + (0).to_bytes(8, "big")
               + (bytes(32) if subject is None else subject))
        ct = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            pad_to(plaintext, size - ENVELOPE_OVERHEAD), aad, nonce, metadata_key(k0, gid, 0))
        return Writer(Tag.METADATA_ENVELOPE).fixed(nonce, 24).var(ct).finish()

    bidi = Writer(Tag.MEMBER_PROFILE).text("Mia\u202e").finish()
    zero_width = Writer(Tag.MEMBER_PROFILE).text("Ad\u200bmin").finish()
    decomposed = Writer(Tag.MEMBER_PROFILE).text("Jose\u0301").finish()
    line_break = (Writer(Tag.GROUP_METADATA).text("Tuesday\u2028circle").text("").text("")
                  .finish())
    negatives: list[tuple[str, bytes, int, bytes, bytes | None, str, str]] = [
        ("reject_profile_under_other_subject", profile_env, 0, k0, p["owner"].sign_pk,
         "decryption_failed", "the member's profile presented as the owner's"),
        ("reject_profile_as_group_metadata", profile_env, 0, k0, None, "decryption_failed",
         "the member's profile presented as the group's metadata"),
        ("reject_wrong_epoch", group_env, 1, world.epoch_keys[1], None, "decryption_failed",
         "epoch 0 metadata opened as epoch 1's (with epoch 1's key)"),
        ("reject_flipped_byte", flip(group_env, 100), 0, k0, None, "decryption_failed",
         "one ciphertext byte flipped"),
        ("reject_not_a_bucket", group_env + b"\x00", 0, k0, None, "malformed",
         "one byte longer than a bucket"),
        ("reject_profile_inside_group_aad", raw_seal(PROFILE_0.encode(), None), 0, k0, None,
         "metadata_invalid", "a member profile encrypted with the group metadata's AAD"),
        ("reject_bidi_control_in_name", raw_seal(bidi, member_pk), 0, k0, member_pk,
         "metadata_invalid", "a display name containing U+202E (right-to-left override)"),
        ("reject_zero_width_space_in_name", raw_seal(zero_width, member_pk), 0, k0, member_pk,
         "metadata_invalid", "a display name containing U+200B (zero width space, category Cf)"),
        ("reject_line_separator_in_group_name", raw_seal(line_break, None), 0, k0, None,
         "metadata_invalid", "a group name containing U+2028 (line separator, category Zl)"),
        ("reject_name_not_nfc", raw_seal(decomposed, member_pk), 0, k0, member_pk,
         "metadata_invalid", "a display name in decomposed form (e + U+0301), not NFC"),
    ]
    for name, data, epoch, key, subject, code, description in negatives:
        vectors.append(vec(
            name, "open_metadata",
            {"envelope": data.hex(), "epoch_key": key.hex(), "group_id": gid.hex(),
             "epoch": epoch, "subject": h(subject)},
            error_of(code, lambda d=data, k=key, e=epoch, s=subject: open_metadata(
                d, k, gid, e, s)),
            description))
    return doc("metadata", "Group metadata and member profiles, padded so the whole "
               "METADATA_ENVELOPE is a bucket, encrypted under the epoch's metadata key with "
               "pinned nonces (the first two are the ciphertexts in log entries 9 and 10).",
               vectors)


# --- invites -------------------------------------------------------------------------------


def invites_doc(world: World) -> Json:
    gid, p = world.group_id, world.people
    vectors: list[Json] = []
    for name, invite_id, secret in world.invite_draws:
        vectors.append(vec(f"new_invite_{name}", "new_invite",
                           {"draws": [invite_id.hex(), secret.hex()]},
                           {"invite_id": invite_id.hex(), "secret": secret.hex()}))
        sk, pk = invite_keypair(secret)
        vectors.append(vec(f"invite_keypair_{name}", "invite_keypair", {"secret": secret.hex()},
                           {"seed": derive_key(secret, labels.INVITE_KEY).hex(),
                            "secret_key": sk.hex(), "public_key": pk.hex()}))
        link = InviteLink(RELAY_URL, gid, invite_id, secret)
        vectors.append(vec(f"invite_uri_{name}", "invite_uri",
                           {"relay_url": RELAY_URL, "group_id": gid.hex(),
                            "invite_id": invite_id.hex(), "secret": secret.hex()},
                           {"relay_url": link.relay_url, "uri": link.to_uri()}))
    inv = world.invites["approval"]
    for name, relay in (("normalised_case_port_slash", "HTTPS://Relay.Example.ORG:443/vault/"),
                        ("loopback_http_port", "http://127.0.0.1:8080"),
                        ("ipv6_port_path", "https://[2001:DB8::1]:8443/a/b"),
                        ("localhost_default_port", "http://localhost:80/")):
        link = InviteLink(relay, gid, inv.invite_id, inv.secret)
        assert link.relay_url == normalize_relay_url(relay)
        vectors.append(vec(f"invite_uri_{name}", "invite_uri",
                           {"relay_url": relay, "group_id": gid.hex(),
                            "invite_id": inv.invite_id.hex(), "secret": inv.secret.hex()},
                           {"relay_url": link.relay_url, "uri": link.to_uri()}))
    good = InviteLink(RELAY_URL, gid, inv.invite_id, inv.secret).to_uri()
    scanned = "  " + good.replace("https://relay.example.org", "HTTPS://RELAY.example.org") + "\n"
    parsed = parse_invite_uri(scanned)
    vectors.append(vec("parse_scanned_uri", "parse_invite_uri", {"text": scanned},
                       {"relay_url": parsed.relay_url, "group_id": parsed.group_id.hex(),
                        "invite_id": parsed.invite_id.hex(), "secret": parsed.secret.hex()},
                       "surrounding whitespace and an upper-case scheme/host are accepted"))
    for name, text, description in (
        ("reject_plain_http", good.replace("https://", "http://"),
         "plain http to a non-loopback host"),
        ("reject_no_fragment", good.split("#")[0], "the fragment is missing"),
        ("reject_short_secret", good[:-1], "the secret is one character short"),
        ("reject_long_secret", good + "A", "the secret is one character long"),
        ("reject_newer_version", good.replace("#v1.", "#v2."), "fragment version v2"),
        ("reject_user_info", good.replace("https://", "https://alice@"), "a user name"),
        ("reject_query", good.replace("/join#", "/join?x=1#"), "a query string"),
        ("reject_padding_in_secret", good[:-1] + "=",
         "a padding character in place of the secret's last character"),
        ("reject_non_canonical_secret", good[:-1] + non_canonical_last(good[-1]),
         "the secret's last character with its unused low bits set (not canonical base64url)"),
        ("reject_not_join_path", good.replace("/join#", "/invite#"), "not a /join link"),
    ):
        vectors.append(vec(name, "parse_invite_uri", {"text": text},
                           error_of("invite_uri_invalid",
                                    lambda text=text: parse_invite_uri(text)),
                           description))
    joiner = p["approved"].public
    message = join_proof_message(gid, inv.invite_id, joiner)
    proof = join_proof(inv.secret, gid, inv.invite_id, joiner)
    vectors.append(vec("join_proof_approved", "join_proof",
                       {"secret": inv.secret.hex(), "group_id": gid.hex(),
                        "invite_id": inv.invite_id.hex(), "joiner": joiner.encode().hex()},
                       {"message": message.hex(),
                        "signature_input": signature_input(labels.JOIN_PROOF, message),
                        "proof": proof.hex()}))
    request = world.join_request
    assert request is not None and request.proof == proof
    me = p["approved"]
    vectors.append(vec("join_request_approved", "join_request",
                       {"joiner_sign_seed": me.sign_seed.hex(), "joiner_box_sk": me.box_sk.hex(),
                        "relay_url": RELAY_URL, "group_id": gid.hex(),
                        "invite_id": inv.invite_id.hex(), "secret": inv.secret.hex(),
                        "requested_at_ms": request.requested_at_ms},
                       {"joiner": joiner.encode().hex(), "proof": proof.hex(),
                        "signed": request.raw[:-64].hex(),
                        "signature_input": signature_input(labels.JOIN_REQUEST,
                                                           request.raw[:-64]),
                        "signature": request.signature.hex(),
                        "join_request": request.raw.hex()}))
    raw = request.raw
    for name, data, code, description in (
        ("reject_request_flipped_signature", flip(raw, -1), "bad_signature",
         "last signature byte flipped"),
        ("reject_request_changed_time", flip(raw, -65), "bad_signature",
         "requested_at_ms changed by 1 ms"),
        ("reject_request_swapped_box_key",
         raw[:84] + p["outsider"].public.box_pk + raw[116:], "bad_signature",
         "the joiner's box key replaced inside the request"),
        ("reject_request_truncated", raw[:-1], "malformed", "one byte short"),
    ):
        vectors.append(vec(name, "decode_join_request", {"data": data.hex()},
                           error_of(code, lambda data=data: JoinRequest.decode(data)),
                           description))
    open_pk = world.invites["open"].pk
    vectors.append(vec("reject_request_other_invite_key", "verify_join_request",
                       {"join_request": raw.hex(), "invite_pk": open_pk.hex()},
                       error_of("bad_signature",
                                lambda: JoinRequest.decode(raw).verify(open_pk)),
                       "a valid request checked against another invite's public key"))
    return doc("invites", "Invite ids and secrets, invite key pairs, invite URIs (QR codes), "
               "join proofs and signed join requests.", vectors)


# --- keystore ------------------------------------------------------------------------------

PASSPHRASE = "correct horse battery staple \u00b7 cafe\u0301"
"""Contains a decomposed e + U+0301: the keystore hashes its NFC form (U+00E9)."""


def keystore_doc(world: World) -> Json:
    rng = seeded_random("vault/vectors/keystore")
    gid = world.group_id
    contents = KeystoreContents((
        (f"group/{gid.hex()}", world.people["member"].encode_private()),
        ("device-name", b"Mia's phone"),
    ))
    params = KdfParams()
    salt, nonce = rng(16), rng(24)
    scripted = Scripted(salt, nonce)
    sealed = seal_keystore(contents, PASSPHRASE, params=params, random=scripted)
    scripted.done()
    secret = unicodedata.normalize("NFC", PASSPHRASE).encode()
    header = sealed[:54]
    key = argon2_low.hash_secret_raw(
        secret, salt, time_cost=params.time_cost, memory_cost=params.memory_kib,
        parallelism=params.parallelism, hash_len=32, type=argon2_low.Type.ID, version=0x13)
    aad = frame(labels.KEYSTORE) + header
    plaintext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        sealed[58:], aad, nonce, key)
    assert plaintext == contents.encode()
    entries = [{"name": n, "secret": s.hex()} for n, s in contents.entries]
    vectors: list[Json] = [
        vec("contents", "keystore_contents", {"entries": entries},
            {"encoded": contents.encode().hex()}),
        vec("contents_empty", "keystore_contents", {"entries": []},
            {"encoded": KeystoreContents().encode().hex()}),
        vec("seal", "seal_keystore",
            {"entries": entries, "passphrase": PASSPHRASE,
             "params": {"time_cost": params.time_cost, "memory_kib": params.memory_kib,
                        "parallelism": params.parallelism},
             "salt": salt.hex(), "nonce": nonce.hex()},
            {"contents": contents.encode().hex(), "passphrase_nfc_utf8": secret.hex(),
             "header": header.hex(), "argon2id_key": key.hex(), "aad": aad.hex(),
             "ciphertext": sealed[58:].hex(), "keystore": sealed.hex()}),
    ]
    composed = unicodedata.normalize("NFC", PASSPHRASE)
    assert open_keystore(sealed, composed) == contents
    vectors.append(vec("open_with_composed_passphrase", "open_keystore",
                       {"keystore": sealed.hex(), "passphrase": composed},
                       {"entries": entries},
                       "the same passphrase typed with a precomposed \u00e9 opens the file"))
    weak = sealed[:6] + (32768).to_bytes(4, "big") + sealed[10:]
    absurd = sealed[:2] + (1000).to_bytes(4, "big") + sealed[6:]
    for name, data, passphrase, code, description in (
        ("reject_wrong_passphrase", sealed, "correct horse battery staple",
         "keystore_wrong_passphrase", "a different passphrase"),
        ("reject_flipped_ciphertext_byte", flip(sealed, 70), PASSPHRASE,
         "keystore_wrong_passphrase", "one ciphertext byte flipped"),
        ("reject_flipped_nonce_byte", flip(sealed, 40), PASSPHRASE, "keystore_wrong_passphrase",
         "one nonce byte flipped (the header is associated data)"),
        ("reject_weak_parameters", weak, PASSPHRASE, "keystore_weak_parameters",
         "memory_kib lowered to 32768 in the header (refused before any key derivation)"),
        ("reject_absurd_parameters", absurd, PASSPHRASE, "keystore_corrupt",
         "time_cost 1000 (above the ceiling of 100)"),
        ("reject_truncated", sealed[:-1], PASSPHRASE, "keystore_corrupt", "one byte short"),
        ("reject_header_only", header, PASSPHRASE, "keystore_corrupt", "no ciphertext"),
        ("reject_not_a_keystore", bytes((Tag.KEYSTORE_CONTENTS,)) + sealed[1:], PASSPHRASE,
         "keystore_corrupt", "keystore-contents tag instead of keystore-file"),
        ("reject_version_2", sealed[:1] + b"\x02" + sealed[2:], PASSPHRASE, "keystore_corrupt",
         "protocol version 2"),
    ):
        vectors.append(vec(name, "open_keystore",
                           {"keystore": data.hex(), "passphrase": passphrase},
                           error_of(code, lambda d=data, pw=passphrase: open_keystore(d, pw)),
                           description))
    # The exported identity deliberately reuses this file's passphrase, salt and nonce so
    # the test derives Argon2id keys only twice. Never reuse a salt or nonce in practice.
    member = world.people["member"]
    exported = ExportedIdentity(member, gid, "HTTPS://Relay.Example.ORG/")
    scripted = Scripted(salt, nonce)
    export = export_identity(exported, PASSPHRASE, params=params, random=scripted)
    scripted.done()
    assert open_keystore(export, PASSPHRASE) == KeystoreContents((
        ("vault/identity", member.encode_private()), ("vault/group", gid),
        ("vault/relay", RELAY_URL.encode())))
    back = import_identity(export, PASSPHRASE)
    assert (back.identity.encode_private(), back.group_id, back.relay_url) == (
        member.encode_private(), gid, RELAY_URL)
    export_contents = KeystoreContents((
        ("vault/identity", member.encode_private()), ("vault/group", gid),
        ("vault/relay", RELAY_URL.encode())))
    vectors.append(vec(
        "export_identity", "export_identity",
        {"sign_seed": member.sign_seed.hex(), "box_sk": member.box_sk.hex(),
         "group_id": gid.hex(), "relay_url": exported.relay_url, "passphrase": PASSPHRASE,
         "params": {"time_cost": params.time_cost, "memory_kib": params.memory_kib,
                    "parallelism": params.parallelism},
         "salt": salt.hex(), "nonce": nonce.hex()},
        {"relay_url": RELAY_URL, "contents": export_contents.encode().hex(),
         "keystore": export.hex()},
        "an identity export (a keystore file with fixed entries) reusing the salt and nonce "
        "above only to keep the test cheap"))
    # With what the exporting device verified: the log checkpoint and post marks (a second
    # nonce: one key never seals two plaintexts under one nonce, even in vectors).
    nonce_2 = rng(24)
    state = world.state
    marks = {world.people[n].sign_pk: seq for n, seq in (("member", 4), ("owner", 12),
                                                          ("joiner", 1))}
    full = ExportedIdentity(member, gid, RELAY_URL, state.checkpoint(), marks)
    scripted = Scripted(salt, nonce_2)
    export_full = export_identity(full, PASSPHRASE, params=params, random=scripted)
    scripted.done()
    chunk = encode_post_marks(sorted(marks.items()))
    full_contents = KeystoreContents((
        *export_contents.entries, ("vault/checkpoint", state.checkpoint().encode()),
        ("vault/post-marks/0", chunk)))
    assert open_keystore(export_full, PASSPHRASE) == full_contents
    vectors.append(vec(
        "export_identity_with_checkpoint_and_marks", "export_identity",
        {"sign_seed": member.sign_seed.hex(), "box_sk": member.box_sk.hex(),
         "group_id": gid.hex(), "relay_url": RELAY_URL, "passphrase": PASSPHRASE,
         "params": {"time_cost": params.time_cost, "memory_kib": params.memory_kib,
                    "parallelism": params.parallelism},
         "salt": salt.hex(), "nonce": nonce_2.hex(),
         "checkpoint": state.checkpoint().encode().hex(),
         "post_marks": [[a.hex(), m] for a, m in sorted(marks.items())]},
        {"relay_url": RELAY_URL, "contents": full_contents.encode().hex(),
         "keystore": export_full.hex()},
        "the same identity exported with its device's log checkpoint (the full log) and the "
        "highest post number it saw from three authors, in one PostMarks chunk"))
    vectors.append(vec("post_marks", "post_marks",
                       {"post_marks": [[a.hex(), m] for a, m in sorted(marks.items())]},
                       {"chunk": chunk.hex()}))
    unordered = bytes((Tag.POST_MARKS, 1)) + (2).to_bytes(4, "big") + chunk[46:86] + chunk[6:46]
    for name, data, description in (
        ("reject_post_marks_zero", chunk[:-8] + bytes(8), "the last author's mark is 0"),
        ("reject_post_marks_trailing_byte", chunk + b"\x00", "a chunk plus one byte"),
        ("reject_post_marks_too_many", bytes((Tag.POST_MARKS, 1)) + (1601).to_bytes(4, "big"),
         "a count of 1,601 (at most 1,600 per chunk)"),
    ):
        vectors.append(vec(name, "decode_post_marks", {"chunk": data.hex()},
                           error_of("malformed", lambda d=data: decode_post_marks(d)),
                           description))
    bad_order = KeystoreContents((*export_contents.entries,
                                  ("vault/post-marks/0", unordered)))
    scripted = Scripted(salt, rng(24))
    sealed_bad = seal_keystore(bad_order, PASSPHRASE, params=params, random=scripted)
    scripted.done()
    vectors.append(vec(
        "reject_import_marks_out_of_order", "import_identity",
        {"keystore": sealed_bad.hex(), "passphrase": PASSPHRASE},
        error_of("keystore_corrupt", lambda: import_identity(sealed_bad, PASSPHRASE)),
        "an export whose post marks list two authors in decreasing order"))
    vectors.append(vec(
        "reject_import_plain_keystore", "import_identity",
        {"keystore": sealed.hex(), "passphrase": PASSPHRASE},
        error_of("keystore_corrupt", lambda: import_identity(sealed, PASSPHRASE)),
        "a keystore that opens but holds no exported identity"))
    return doc("keystore", "Keystore contents and a keystore file sealed with the real "
               "Argon2id parameters (t=3, m=65536 KiB, p=4) and a pinned salt and nonce; an "
               "identity export (the same file format with fixed entries).", vectors)


# --- the client's local store --------------------------------------------------------------


def localstore_doc(world: World, posts: Json) -> Json:
    rng = seeded_random("vault/vectors/localstore")
    gid, state = world.group_id, world.state
    vectors: list[Json] = []
    secret = rng(32)
    scripted = Scripted(secret)
    assert new_local_store_secret(scripted) == secret
    scripted.done()
    key = local_store_key(secret)
    vectors.append(vec("store_key", "local_store_key", {"secret": secret.hex()},
                       {"blake2b_message": (frame(labels.LOCAL_STORE_KEY) + b"records").hex(),
                        "key": key.hex()}))
    welcome = next(v for v in posts["vectors"] if v["name"] == "post_welcome")
    envelope = PostEnvelope.decode(bytes.fromhex(welcome["expected"]["envelope"]))
    opened = open_post(envelope, bytes.fromhex(welcome["inputs"]["epoch_key"]), state)
    stored = encode_stored_post(opened)
    assert decode_stored_post(stored) == opened
    vectors.append(vec("stored_post_welcome", "stored_post",
                       {"envelope": envelope.encode().hex(), "body": opened.body.encode().hex(),
                        "signature": opened.signature.hex()},
                       {"encoded": stored.hex()}))
    stub = PostStub(opened.post_id, opened.author, opened.body.author_seq)
    vectors.append(vec("post_stub_welcome", "post_stub",
                       {"post_id": stub.post_id.hex(), "author": stub.author.hex(),
                        "author_seq": stub.author_seq},
                       {"encoded": encode_post_stub(stub).hex()}))
    request = world.join_request
    assert request is not None
    link = InviteLink(RELAY_URL, gid, request.invite_id, world.invites["approval"].secret)
    for name, pending in (("pending_join_with_request", PendingJoin(link.to_uri(), request)),
                          ("pending_join_without_request", PendingJoin(link.to_uri()))):
        encoded = encode_pending_join(pending)
        assert decode_pending_join(encoded) == pending
        vectors.append(vec(name, "pending_join",
                           {"invite_uri": pending.invite_uri,
                            "join_request": None if pending.request is None
                            else pending.request.encode().hex()},
                           {"encoded": encoded.hex()}))
    records = [
        ("record_epoch_key", "epoch_key", gid + (2).to_bytes(8, "big"), world.epoch_keys[2]),
        ("record_stored_post", "post", gid + opened.post_id, stored),
        ("record_empty", "settings", b"", b""),
    ]
    sealed_records: dict[str, bytes] = {}
    for name, kind, record_id, plaintext in records:
        nonce = rng(24)
        scripted = Scripted(nonce)
        record = seal_record(key, kind, record_id, plaintext, random=scripted)
        scripted.done()
        assert open_record(key, kind, record_id, record) == plaintext
        sealed_records[name] = record
        aad = Writer(Tag.LOCAL_RECORD).text(kind).var(record_id).finish()
        vectors.append(vec(name, "seal_record",
                           {"secret": secret.hex(), "kind": kind, "record_id": record_id.hex(),
                            "plaintext": plaintext.hex(), "nonce": nonce.hex()},
                           {"store_key": key.hex(), "aad": aad.hex(),
                            "ciphertext": record[2 + 24 + 4:].hex(), "record": record.hex()}))
    record = sealed_records["record_epoch_key"]
    record_id = gid + (2).to_bytes(8, "big")
    other_secret = rng(32)
    for name, data, store_secret, kind, rid, code, description in (
        ("reject_record_other_kind", record, secret, "post", record_id, "decryption_failed",
         "an epoch-key record opened as a post record"),
        ("reject_record_other_row", record, secret, "epoch_key",
         gid + (1).to_bytes(8, "big"), "decryption_failed",
         "epoch 2's key record opened as epoch 1's"),
        ("reject_record_other_store", record, other_secret, "epoch_key", record_id,
         "decryption_failed", "opened with another store's secret"),
        ("reject_record_flipped_byte", flip(record, 40), secret, "epoch_key", record_id,
         "decryption_failed", "one ciphertext byte flipped"),
        ("reject_record_wrong_tag", bytes((Tag.STORED_POST,)) + record[1:], secret, "epoch_key",
         record_id, "malformed", "stored-post tag instead of local-record"),
    ):
        vectors.append(vec(
            name, "open_record",
            {"secret": store_secret.hex(), "kind": kind, "record_id": rid.hex(),
             "record": data.hex()},
            error_of(code, lambda d=data, sec=store_secret, k=kind, r=rid: open_record(
                local_store_key(sec), k, r, d)),
            description))
    reply = next(v for v in posts["vectors"] if v["name"] == "reply_with_warning_and_expiry")
    mixed = (Writer(Tag.STORED_POST).var(envelope.encode())
             .var(bytes.fromhex(reply["expected"]["body"]))
             .fixed(bytes.fromhex(reply["expected"]["signature"]), 64).finish())
    stub_bytes = encode_post_stub(stub)
    pending = encode_pending_join(PendingJoin(link.to_uri(), request))
    for name, op, data, code, decode, description in (
        ("reject_stored_post_mismatch", "stored_post", mixed, "post_invalid", decode_stored_post,
         "one post's envelope stored with another post's body"),
        ("reject_post_stub_trailing_byte", "post_stub", stub_bytes + b"\x00", "malformed",
         decode_post_stub, "one extra byte"),
        ("reject_pending_join_bad_request", "pending_join", flip(pending, -1), "bad_signature",
         decode_pending_join, "the stored join request's signature altered"),
    ):
        vectors.append(vec(name, op, {"data": data.hex()},
                           error_of(code, lambda d=data, f=decode: f(d)), description))
    return doc("localstore", "What a client keeps on its own disk: the local store key, "
               "sealed local records (pinned nonces), and the stored-post, post-stub and "
               "pending-join record contents.", vectors)


# --- relay authentication ------------------------------------------------------------------


def verify_auth(kind: str, public_key: bytes, group_id: bytes, subject: bytes,
                challenge: bytes, signature: bytes) -> None:
    if kind == "member":
        if subject != public_key:
            raise AssertionError("a member answer's subject is the member's own key")
        auth.verify_member_challenge(public_key, group_id, challenge, signature)
    else:
        auth.verify_invite_challenge(public_key, group_id, subject, challenge, signature)


def auth_doc(world: World) -> Json:
    rng = seeded_random("vault/vectors/auth")
    gid, p = world.group_id, world.people
    vectors: list[Json] = []
    for name in ("member", "owner"):
        me, challenge = p[name], rng(32)
        message = auth.auth_message(auth.AuthSubject.MEMBER, gid, me.sign_pk, challenge)
        vectors.append(vec(f"member_{name}", "auth_member",
                           {"sign_seed": me.sign_seed.hex(), "group_id": gid.hex(),
                            "challenge": challenge.hex()},
                           {"sign_pk": me.sign_pk.hex(), "message": message.hex(),
                            "signature_input": signature_input(labels.RELAY_AUTH, message),
                            "signature": auth.sign_member_challenge(me, gid, challenge).hex()}))
    inv = world.invites["open"]
    challenge = rng(32)
    message = auth.auth_message(auth.AuthSubject.INVITE, gid, inv.invite_id, challenge)
    invite_sig = auth.sign_invite_challenge(inv.sk, gid, inv.invite_id, challenge)
    vectors.append(vec("invite_open", "auth_invite",
                       {"invite_secret": inv.secret.hex(), "group_id": gid.hex(),
                        "invite_id": inv.invite_id.hex(), "challenge": challenge.hex()},
                       {"invite_pk": inv.pk.hex(), "message": message.hex(),
                        "signature_input": signature_input(labels.RELAY_AUTH, message),
                        "signature": invite_sig.hex()}))
    token = rng(32)
    vectors.append(vec("session_token", "session_token_hash", {"token": token.hex()},
                       {"hash": auth.session_token_hash(token).hex()}))
    me = p["member"]
    member_challenge = bytes.fromhex(vectors[0]["inputs"]["challenge"])
    member_sig = bytes.fromhex(vectors[0]["expected"]["signature"])
    other_invite = world.invites["approval"].invite_id
    for name, kind, signer_pk, subject, chal, sig, description in (
        ("reject_other_challenge", "member", me.sign_pk, me.sign_pk, challenge, member_sig,
         "the member's answer replayed for another challenge"),
        ("reject_other_group", "member", me.sign_pk, me.sign_pk, member_challenge,
         auth.sign_member_challenge(me, bytes(32), member_challenge),
         "an answer made for another group id (32 zero bytes)"),
        ("reject_invite_answer_as_member", "member", inv.pk, inv.pk, challenge, invite_sig,
         "the invite key's answer checked as a member answer by the invite key"),
        ("reject_invite_answer_other_invite", "invite", inv.pk, other_invite, challenge,
         invite_sig, "the invite key's answer checked for another invite id"),
        ("reject_member_answer_as_invite", "invite", me.sign_pk, inv.invite_id,
         member_challenge, member_sig,
         "the member's answer checked as an invite answer by the member's key"),
    ):
        vectors.append(vec(
            name, "verify_auth",
            {"kind": kind, "public_key": signer_pk.hex(), "group_id": gid.hex(),
             "subject": subject.hex(), "challenge": chal.hex(), "signature": sig.hex()},
            error_of("bad_signature", lambda k=kind, pk=signer_pk, sub=subject, c=chal, s=sig:
                     verify_auth(k, pk, gid, sub, c, s)),
            description))
    return doc("auth", "Relay authentication: the signed challenge message for members and "
               "for invite holders, and session-token hashes.", vectors)


# --- output --------------------------------------------------------------------------------


def build_documents() -> dict[str, Json]:
    """Every vector file's content, keyed by file name."""
    world = build_world()
    atts = make_attachments()
    docs = [
        primitives_doc(), identity_doc(world), safety_doc(world), log_doc(world),
        epochs_doc(world), padding_doc(), attachments_doc(atts), posts_doc(world, atts),
        metadata_doc(world), invites_doc(world), keystore_doc(world), auth_doc(world),
    ]
    docs.append(localstore_doc(world, docs[7]))
    return {f"{d['object']}.json": d for d in docs}


def render(document: Json) -> str:
    return json.dumps(document, indent=2, ensure_ascii=True) + "\n"


def render_all() -> dict[str, str]:
    return {name: render(document) for name, document in build_documents().items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    args = parser.parse_args(argv)
    rendered = render_all()
    stale = sorted(p.name for p in VECTOR_DIR.glob("*.json") if p.name not in rendered)
    if args.check:
        differ = [n for n, text in rendered.items()
                  if not (VECTOR_DIR / n).exists()
                  or (VECTOR_DIR / n).read_text(encoding="utf-8") != text]
        for name in differ + stale:
            print(f"stale: tests/vectors/{name}", file=sys.stderr)
        return 1 if differ or stale else 0
    for name, text in rendered.items():
        (VECTOR_DIR / name).write_text(text, encoding="utf-8")
    for name in stale:
        (VECTOR_DIR / name).unlink()
    total = 0
    for name, text in rendered.items():
        count = len(json.loads(text)["vectors"])
        total += count
        print(f"tests/vectors/{name}: {count} vectors")
    print(f"{total} vectors in {len(rendered)} files")
    return 0


if __name__ == "__main__":
    sys.exit(main())
