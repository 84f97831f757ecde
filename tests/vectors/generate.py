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
import re
import struct
import sys
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Final

import nacl.bindings
from argon2 import low_level as argon2_low

from vault.crypto import auth, labels
from vault.crypto import invites as invites_module
from vault.crypto.attachments import (
    Attachment,
    blob_digest,
    decrypt_attachment,
    make_attachment,
    padded_size,
)
from vault.crypto.channels import ChannelKind
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import Tag, Writer, b64decode, b64encode
from vault.crypto.epochs import EpochGrant, build_grants, metadata_key, open_grant, post_key
from vault.crypto.errors import VaultError
from vault.crypto.freshness import Arrival, check_not_departed, judge
from vault.crypto.group_state import GroupState, LogCheckpoint
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.identity_export import (
    ExportedIdentity,
    decode_post_marks,
    encode_post_marks,
    export_identity,
    import_identity,
)
from vault.crypto.inbox import (
    InboxEnvelope,
    InboxKind,
    Outcome,
    open_item,
    recipients_digest,
)
from vault.crypto.invites import (
    MAX_RELAY_URL_LENGTH,
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
from vault.crypto.limits import MAX_ATTACHMENT_SIZE, MIB
from vault.crypto.localstore import (
    DeletedGroup,
    PendingJoin,
    PostStub,
    decode_deleted_group,
    decode_muted_members,
    decode_pending_join,
    decode_post_stub,
    decode_stored_post,
    encode_deleted_group,
    encode_muted_members,
    encode_pending_join,
    encode_post_stub,
    encode_stored_post,
    local_store_key,
    new_local_store_secret,
    open_record,
    record_id,
    seal_record,
)
from vault.crypto.log import LogEntry, create_group, group_id_of, join_proof_message, sign_entry
from vault.crypto.log_entries import (
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
)
from vault.crypto.log_verify import (
    apply_entry,
    check_checkpoint,
    check_deletion,
    check_same_entry,
    genesis_state,
    verify_log,
)
from vault.crypto.metadata import (
    ENVELOPE_OVERHEAD,
    Channel,
    GroupMetadata,
    MemberProfile,
    open_metadata,
    seal_metadata,
)
from vault.crypto.padding import bucket_size, pad, pad_to, unpad
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import OpenedPost, PostEnvelope, check_can_post, open_post, seal_post
from vault.crypto.primitives import (
    RandomSource,
    aead_seal,
    derive_key,
    frame,
    labelled_hash,
    sign,
    verify,
)
from vault.crypto.rules_card import (
    NO_RULES,
    RulesAcceptance,
    RulesCard,
    accept_rules,
    card_key,
    check_rules_card,
    digest_key,
    make_rules_card,
    open_rules_card,
    rules_digest,
    rules_ref,
    seal_rules_card,
)
from vault.crypto.safety import group_code, safety_number
from vault.crypto.timeline import ThreadView, Timeline, thread_view

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
RULES: dict[str, dict[str, tuple[Sequence[str], Sequence[str]]]] = {}
"""Rule annotations of vectors, by file and vector name: (accepted rules, rejected rules).
Filled in at the end of this module (``# --- rule annotations``)."""


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


def vec(name: str, op: str, inputs: Json, expected: Json, description: str | None = None, *,
        accept: Sequence[str] = (), reject: Sequence[str] = ()) -> Json:
    """One vector. *accept* / *reject* name the protocol rules (docs/protocol.md) it
    accepts and rejects; :data:`RULES` adds more by vector name (see :func:`doc`)."""
    out: Json = {"name": name, "op": op}
    if description:
        out["description"] = description
    if accept or reject:
        out["rules"] = {"accept": list(accept), "reject": list(reject)}
    out["inputs"] = inputs
    out["expected"] = expected
    return out


def annotate(obj: str, vector: Json) -> Json:
    """Merge the rule annotations of :data:`RULES` into *vector*, rules after description."""
    accept, reject = RULES.get(obj, {}).get(vector["name"], ((), ()))
    have = vector.get("rules", {"accept": [], "reject": []})
    merged = {"accept": [*have["accept"], *accept], "reject": [*have["reject"], *reject]}
    out = {k: vector[k] for k in ("name", "op", "description") if k in vector}
    if merged["accept"] or merged["reject"]:
        out["rules"] = {k: v for k, v in merged.items() if v}
    out["inputs"] = vector["inputs"]
    out["expected"] = vector["expected"]
    return out


def doc(obj: str, description: str, vectors: list[Json]) -> Json:
    names = [v["name"] for v in vectors]
    if len(set(names)) != len(names):
        raise AssertionError(f"{obj}: vector names must be unique")
    unknown = set(RULES.get(obj, {})) - set(names)
    if unknown:
        raise AssertionError(f"{obj}: rule annotations for missing vectors {sorted(unknown)}")
    return {"object": obj, "description": description,
            "vectors": [annotate(obj, v) for v in vectors]}


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
    scenarios: dict[str, tuple[int, list[bytes], GroupState]] = field(default_factory=dict)
    scenario_keys: dict[int, bytes] = field(default_factory=dict)
    """Epoch keys of the epochs (3, 4) that only the scenario logs start."""
    """Positive ``verify_log`` vectors other than ``full_log``, by name: how many entries of
    the full log they take, the entries they add, and the verified state (a vector input
    ``"state": "log.json#<name>"`` means that state)."""

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
    # libsodium's strictness (SIG-2): what a lax Ed25519 verifier would accept.
    order_l = 2**252 + 27742317777372353535851937790883648493
    s_plus_l = (int.from_bytes(signature[32:], "little") + order_l).to_bytes(32, "little")
    identity_point = bytes((1,)) + bytes(31)
    for name, key, sig, description in (
        ("reject_signature_non_canonical_s", pk, signature[:32] + s_plus_l,
         "the valid signature over the same message with S + L in place of S (S is not "
         "reduced: a verifier that reduces S mod L would accept it)"),
        ("reject_signature_small_order_key", identity_point, identity_point + bytes(32),
         "public key and R are the identity point (small order) and S = 0: the cofactorless "
         "equation holds for every message, so only the small-order check refuses it"),
    ):
        vectors.append(vec(
            name, "verify",
            {"public_key": key.hex(), "label": labels.JOIN_PROOF.decode(),
             "message": message.hex(), "signature": sig.hex()},
            error_of("bad_signature", lambda key=key, sig=sig: verify(
                key, labels.JOIN_PROOF, message, sig, "vector")),
            description, reject=["SIG-2"]))
    for data in (b"", b"\x00", b"\xfb\xff", b"\xfb\xff\xbf", rng(32)):
        vectors.append(vec(f"b64_{len(data)}_{data[:2].hex()}", "b64",
                           {"data": data.hex()}, {"text": b64encode(data)}))
    for name, text, description in (
        ("reject_b64_padding", "-_8=", "padding characters are not allowed"),
        ("reject_b64_standard_alphabet", "+/8", "only the URL-safe alphabet"),
        ("reject_b64_non_canonical", "-_9", "unused trailing bits must be zero"),
        ("reject_b64_impossible_length", "A", "a single character encodes no byte"),
        ("reject_b64_non_ascii", "-_\u00e9", "a non-ASCII character"),
        ("reject_b64_white_space", "-_8 A", "a space inside the text"),
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
        ("reject_bad_binding_and_trailing_byte", flip(owner, -1) + b"\x00", "malformed",
         "a flipped binding signature and one extra byte: the structure is checked first"),
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
    if isinstance(body, (LeaveBody, DeleteGroupBody)):
        return {}
    if isinstance(body, RoleBody):
        return {"member": body.member.hex(), "role": int(body.role)}
    if isinstance(body, RotateBody):
        return {"new_epoch": body.new_epoch, "epoch_commitment": body.epoch_commitment.hex()}
    if isinstance(body, AddRotateBody):
        return {"member": body.member.encode().hex(), "role": int(body.role),
                "invite_id": h(body.invite_id), "proof": h(body.proof),
                "new_epoch": body.new_epoch, "epoch_commitment": body.epoch_commitment.hex()}
    if isinstance(body, HistoryBody):
        return {"policy": int(body.policy), "policy_name": body.policy.name,
                "from_epoch": body.from_epoch}
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
            out["removed_at_ms"] = m.removed_at_ms
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
        "history": None if state.history is None else {
            "policy": int(state.history.policy), "from_epoch": state.history.from_epoch},
        **({"deleted": True} if state.deleted else {}),  # (only in the states that are)
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
    unknown_kind = unknown_kind[: body_start - 5] + b"\x0e" + unknown_kind[body_start - 4 : -64]
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
         "a validly signed entry of kind 14 (no such kind)"),
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
    # HISTORY, one entry past the full log (instead of the ADD_ROTATE above): the admin sets
    # what new members may read; then a member's HISTORY, which HIST-1 refuses, and two
    # bodies that do not decode.
    history = next_entry(world, p["admin"], HistoryBody(HistoryPolicy.FROM_EPOCH, 1))
    vectors.append(entry_vector(world, history, {}, "entry_14_history_after_full_log"))
    vectors.append(vec(
        "full_log_then_history", "verify_log",
        {"group_id": gid.hex(), "entries_from_full_log": len(full),
         "extra_entries": [history.raw.hex()], "checkpoint": None},
        {"state": state_summary(verify_log(gid, [*full, history.raw]))}))
    by_member = next_entry(world, p["member"], HistoryBody(HistoryPolicy.ALL))
    vectors.append(vec(
        "reject_history_by_member", "verify_log",
        {"group_id": gid.hex(), "entries_from_full_log": len(full),
         "extra_entries": [by_member.raw.hex()], "checkpoint": None},
        error_of("log_unauthorized", lambda: verify_log(gid, [*full, by_member.raw])),
        "a member (not an admin) sets the history policy"))
    for name, body_bytes, description in (
        ("reject_history_unknown_policy", b"\x04" + bytes(8),
         "a validly signed HISTORY entry with policy 4 (no such policy)"),
        ("reject_history_epoch_without_from_epoch", b"\x01" + (5).to_bytes(8, "big"),
         "a validly signed HISTORY entry, policy CURRENT naming epoch 5 (only FROM_EPOCH "
         "names one: a second encoding)"),
    ):
        signed = history.raw[:body_start] + body_bytes + history.raw[body_start + 9 : -64]
        data = signed + sign(p["admin"].sign_sk, labels.LOG_ENTRY_SIGNATURE, signed)
        vectors.append(vec(name, "decode_log_entry", {"entry": data.hex()},
                           error_of("malformed", lambda data=data: LogEntry.decode(data)),
                           description))
    vectors.extend(deletion_vectors(world, full))
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
    vectors.extend(log_rule_vectors(world))
    return doc("log", "The membership log of one group using every entry kind (entries "
               "0..13), the group id, entry hashes, the verified state, checkpoints, "
               "entries each rule refuses, and longer logs that accept them.", vectors)


def deletion_vectors(world: World, full: list[bytes]) -> list[Json]:
    """DELETE_GROUP one entry past the full log: the owner deletes the group (DEL-1), an
    admin may not, nothing may follow (DEL-2); and what a device makes of a relay's word
    that the group was deleted, right after its head or past entries it never saw (DEL-3)."""
    p, gid = world.people, world.group_id
    deletion = next_entry(world, p["owner"], DeleteGroupBody())
    by_admin = next_entry(world, p["admin"], DeleteGroupBody())
    after = next_entry(world, p["admin"], HistoryBody(HistoryPolicy.NONE), seq=deletion.seq + 1,
                       prev_hash=deletion.hash)
    vectors = [entry_vector(world, deletion, {}, "entry_14_delete_group_after_full_log")]
    for name, extra, description in (
        ("full_log_then_delete_group", [deletion], None),
        ("reject_delete_group_by_admin", [by_admin], "an admin (not an owner) deletes the group"),
        ("reject_entry_after_delete_group", [deletion, after],
         "an admin's HISTORY entry after the owner's DELETE_GROUP"),
    ):
        entries = [*full, *(e.raw for e in extra)]
        inputs = {"group_id": gid.hex(), "entries_from_full_log": len(full),
                  "extra_entries": [e.raw.hex() for e in extra], "checkpoint": None}
        if description is None:
            vectors.append(vec(name, "verify_log", inputs,
                               {"state": state_summary(verify_log(gid, entries))}))
            continue
        vectors.append(vec(name, "verify_log", inputs,
                           error_of("log_unauthorized" if len(extra) == 1
                                    else "log_entry_invalid",
                                    lambda entries=entries: verify_log(gid, entries)),
                           description))
    now = T0 + 20 * MINUTE
    for name, known, entry, description in (
        ("deletion_after_head", len(full), deletion,
         "the owner's deletion right after this device's head (entry 13)"),
        ("deletion_past_unseen_entries", len(full) - 3, deletion,
         "the owner's deletion at entry 14, for a device whose head is entry 10: entries "
         "11 to 13 were purged with the group"),
        ("reject_deletion_by_admin_after_head", len(full), by_admin,
         "an admin's deletion right after this device's head"),
        ("reject_deletion_by_admin_past_unseen_entries", len(full) - 3, by_admin,
         "an admin's deletion at entry 14, for a device whose head is entry 10"),
        ("reject_deletion_not_a_deletion", len(full) - 3, after,
         "a validly signed entry of another kind served as the deletion"),
    ):
        state = verify_log(gid, full[:known])
        inputs = {"group_id": gid.hex(), "entries_from_full_log": known,
                  "deletion": entry.raw.hex(), "now_ms": now}
        if name.startswith("reject_"):
            expected = error_of("deletion_unproven", lambda s=state, e=entry: check_deletion(
                s, e.raw, now_ms=now))
        else:
            checked = check_deletion(state, entry.raw, now_ms=now)
            expected = {"seq": checked.seq, "author": checked.author.hex()}
        vectors.append(vec(name, "check_deletion", inputs, expected, description))
    return vectors


def entry_after(state: GroupState, author: Identity, body: EntryBody, *,
                group_id: bytes | None = None, seq: int | None = None,
                prev_hash: bytes | None = None, timestamp_ms: int | None = None) -> LogEntry:
    """The entry *author* signs after *state* (entry *i* dated T0 + i min), any field forced."""
    seq = state.seq + 1 if seq is None else seq
    return sign_entry(author, body, group_id=state.group_id if group_id is None else group_id,
                      seq=seq, prev_hash=state.head if prev_hash is None else prev_hash,
                      timestamp_ms=T0 + seq * MINUTE if timestamp_ms is None else timestamp_ms)


def signed_raw(author: Identity, kind: int, body: bytes, *, group_id: bytes, seq: int,
               prev_hash: bytes, timestamp_ms: int) -> bytes:
    """An entry with any kind byte and body bytes, validly signed by *author*."""
    signed = (Writer(Tag.LOG_ENTRY).fixed(group_id, 32).u64(seq).fixed(prev_hash, 32)
              .fixed(author.sign_pk, 32).u64(timestamp_ms).u8(kind).var(body).finish())
    return signed + sign(author.sign_sk, labels.LOG_ENTRY_SIGNATURE, signed)


Step = tuple[str, EntryBody] | Callable[[GroupState], LogEntry]


def log_rule_vectors(world: World) -> list[Json]:
    """One rejecting vector (at least) for every rule of §4, and logs that accept them."""
    p, inv, gid, full = world.people, world.invites, world.group_id, world.raw
    o, a, m, x, n, r = (p[k] for k in ("owner", "admin", "member", "outsider", "newcomer",
                                       "approved"))
    rng = seeded_random("vault/vectors/log-rules")
    keys = {3: rng(32), 4: rng(32)}
    world.scenario_keys.update(keys)

    def commit(epoch: int) -> bytes:
        return epoch_commitment(commitment_group_id(gid, epoch), epoch, keys[epoch])

    fresh: dict[str, tuple[bytes, bytes, bytes]] = {}  # name -> invite id, secret, public key
    for name in ("X", "Y", "Z", "unknown"):
        invite_id, secret = rng(16), rng(32)
        fresh[name] = (invite_id, secret, invite_keypair(secret)[1])

    def proof(name: str, joiner: Identity) -> bytes:
        if name in fresh:
            invite_id, secret, _pk = fresh[name]
        else:
            invite_id, secret = inv[name].invite_id, inv[name].secret
        return join_proof(secret, gid, invite_id, joiner.public)

    def iid(name: str) -> bytes:
        return fresh[name][0] if name in fresh else inv[name].invite_id

    def invite(name: str, max_uses: int, expires_at_ms: int, approval: bool) -> InviteBody:
        return InviteBody(fresh[name][0], fresh[name][2], max_uses, expires_at_ms, approval)

    def grow(steps: Sequence[Step], *, apply_last: bool = True,
             base: GroupState | None = None) -> tuple[list[LogEntry], GroupState]:
        state = world.state if base is None else base
        out: list[LogEntry] = []
        for index, step in enumerate(steps):
            entry = step(state) if callable(step) else entry_after(state, p[step[0]], step[1])
            out.append(entry)
            if index < len(steps) - 1 or apply_last:
                state = apply_entry(state, entry)
        return out, state

    vectors: list[Json] = []

    def neg(name: str, steps: Sequence[Step], code: str, description: str,
            reject: Sequence[str], *, take: int | None = None, now_ms: int | None = None,
            group: bytes | None = None, checkpoint: LogCheckpoint | None = None,
            raw_tail: Sequence[bytes] = ()) -> None:
        take = len(full) if take is None else take
        base = world.states[take - 1] if take else None
        entries, _ = grow(steps, apply_last=False, base=base) if steps else ([], None)
        raw = [e.raw for e in entries] + list(raw_tail)
        group = gid if group is None else group
        inputs: Json = {"group_id": group.hex(), "entries_from_full_log": take,
                        "extra_entries": [e.hex() for e in raw],
                        "checkpoint": None if checkpoint is None else checkpoint.encode().hex()}
        if now_ms is not None:
            inputs["now_ms"] = now_ms
        vectors.append(vec(name, "verify_log", inputs, error_of(
            code, lambda: verify_log(group, full[:take] + raw, checkpoint=checkpoint,
                                     now_ms=now_ms)), description, reject=reject))

    def scenario(name: str, steps: Sequence[Step], description: str, accept: Sequence[str],
                 reject: Sequence[str] = ()) -> None:
        entries, state = grow(steps)
        raw = [e.raw for e in entries]
        verified = verify_log(gid, full + raw)
        assert state_summary(verified) == state_summary(state)
        world.scenarios[name] = (len(full), raw, verified)
        vectors.append(vec(name, "verify_log",
                           {"group_id": gid.hex(), "entries_from_full_log": len(full),
                            "extra_entries": [e.hex() for e in raw], "checkpoint": None},
                           {"state": state_summary(verified),
                            "checkpoint": verified.checkpoint().encode().hex()},
                           description, accept=accept, reject=reject))

    env = world.metadata_envelopes["group"]
    t14 = T0 + 14 * MINUTE

    # --- logs that accept what the rules allow -------------------------------------------
    scenario("log_owner_hands_over", [
        ("owner", RoleBody(a.sign_pk, Role.OWNER)),
        ("owner", RoleBody(o.sign_pk, Role.ADMIN)),
        ("admin", RemoveBody(o.sign_pk, 3, commit(3))),
    ], "the owner makes the admin an owner, steps down to admin while another owner "
       "remains, and the new owner removes them (an admin) with epoch 3",
        accept=["ROLE-1", "ROLE-2", "ROLE-3", "ROLE-4", "ROLE-5", "ROLE-6", "ROLE-7",
                "REMOVE-1", "REMOVE-2", "REMOVE-3", "REMOVE-4", "REMOVE-5"])
    scenario("log_owner_leaves", [
        ("owner", RoleBody(a.sign_pk, Role.OWNER)),
        ("owner", LeaveBody()),
        ("admin", RotateBody(3, commit(3))),
    ], "an owner leaves while another owner remains (rotation pending), and the remaining "
       "owner starts epoch 3", accept=["LEAVE-1", "ROTATE-1", "ROTATE-2"])
    scenario("log_former_admin", [
        ("owner", RoleBody(a.sign_pk, Role.MEMBER)),
        ("owner", RotateBody(3, commit(3))),
        ("owner", RemoveBody(a.sign_pk, 4, commit(4))),
    ], "the admin (admin from entry 5) is demoted at entry 14; epoch 3 starts at 15; the "
       "owner removes them at 16, starting epoch 4 (the state behind the grant rule 10 "
       "vectors of epochs.json)", accept=["ROLE-6", "REMOVE-4", "ROTATE-2"])
    x_expiry = T0 + 17 * MINUTE + 1
    scenario("log_invite_creator_admin_again", [
        ("admin", invite("X", 10_000, x_expiry, False)),
        ("owner", RoleBody(a.sign_pk, Role.MEMBER)),
        ("owner", RoleBody(a.sign_pk, Role.ADMIN)),
        ("outsider", JoinBody(iid("X"), x.public, proof("X", x))),
    ], "the admin creates invite X (10,000 uses, no approval, expiring 1 ms after entry 17's "
       "time), is demoted and made admin again; the outsider joins through X at entry 17, "
       "1 ms before it expires: the invite works again once its creator is an admin again",
        accept=["INVITE-1", "INVITE-2", "INVITE-3", "INVITE-4", "JOIN-1", "JOIN-2", "JOIN-3",
                "JOIN-4", "I1", "I2", "I3", "I4", "I5", "I6", "C6"])
    scenario("log_add_rotate_with_invite", [
        ("admin", invite("Z", 2, T0 + DAY, True)),
        ("admin", AddRotateBody(x.public, Role.MODERATOR, iid("Z"), proof("Z", x), 3,
                                commit(3))),
        ("owner", AddRotateBody(n.public, Role.ADMIN, None, None, 4, commit(4))),
    ], "the admin admits the outsider as a moderator through approval invite Z with an "
       "ADD_ROTATE (epoch 3); the owner admits the newcomer as an admin directly with another "
       "(epoch 4)", accept=[f"ADD-ROTATE-{i}" for i in range(1, 8)]
        + ["ADD-2", "ADD-3", "ADD-5", "ADD-6", "I1", "I2", "I3", "I4", "I5", "I6"])

    # --- genesis ----------------------------------------------------------------------------
    def genesis_case(name: str, entry: bytes, code: str, description: str, rule: str) -> None:
        group = labelled_hash(labels.GROUP_ID, entry)
        vectors.append(vec(
            name, "verify_log",
            {"group_id": group.hex(), "entries_from_full_log": 0, "extra_entries": [entry.hex()],
             "checkpoint": None},
            error_of(code, lambda: verify_log(group, [entry])), description, reject=[rule]))

    creator_body = CreateBody(o.public, bytes(16), world.entries[0].body.epoch_commitment)
    zero = bytes(32)
    genesis_case("reject_genesis_not_create", full[1], "log_entry_invalid",
                 "entry 1 (an INVITE) served alone as a genesis, its hash given as the group id",
                 "G2")
    genesis_case("reject_genesis_seq_1", sign_entry(
        o, creator_body, group_id=zero, seq=1, prev_hash=zero, timestamp_ms=T0).raw,
        "log_chain_broken", "a CREATE entry numbered 1", "G3")
    genesis_case("reject_genesis_prev_hash", sign_entry(
        o, creator_body, group_id=zero, seq=0, prev_hash=world.entries[0].hash,
        timestamp_ms=T0).raw, "log_entry_invalid", "a CREATE entry with a predecessor hash", "G4")
    genesis_case("reject_genesis_signed_by_other", sign_entry(
        a, creator_body, group_id=zero, seq=0, prev_hash=zero, timestamp_ms=T0).raw,
        "log_unauthorized", "a CREATE entry naming the owner as creator, signed by the admin",
        "G5")
    neg("reject_genesis_from_the_future", [], "log_entry_invalid",
        "the genesis verified with a clock 300,001 ms before its timestamp", ["G6"], take=1,
        now_ms=T0 - 300_001)
    neg("reject_entry_from_the_future", [], "log_entry_invalid",
        "the full log verified with a clock 300,001 ms before entry 13's timestamp", ["C5"],
        now_ms=T0 + 13 * MINUTE - 300_001)
    vectors.append(vec(
        "full_log_with_clock", "verify_log",
        {"group_id": gid.hex(), "entries_from_full_log": len(full), "extra_entries": [],
         "checkpoint": None, "now_ms": T0 + 13 * MINUTE - 300_000},
        {"checkpoint": verify_log(gid, full, now_ms=T0 + 13 * MINUTE - 300_000).checkpoint()
         .encode().hex()},
        "the full log verified with a clock exactly 300,000 ms before entry 13's timestamp "
        "(the bound is inclusive)", accept=["G6", "C5"]))

    # --- chain --------------------------------------------------------------------------
    neg("reject_other_group_id", [lambda st: entry_after(
        st, o, RoleBody(m.sign_pk, Role.MODERATOR), group_id=bytes(32))],
        "log_chain_broken", "entry 14 names another group id (32 zero bytes)", ["C1"])
    neg("reject_author_never_a_member", [("outsider", RotateBody(3, commit(3)))],
        "log_unauthorized", "a key that was never a member signs a ROTATE", ["C6"])

    # --- INVITE, INVITE_REVOKE ----------------------------------------------------------
    neg("reject_invite_id_reused", [("admin", InviteBody(
        inv["open"].invite_id, fresh["X"][2], 1, T0 + DAY, False))], "log_entry_invalid",
        "an INVITE reusing the id of the (revoked) invite \"open\"", ["INVITE-2"])
    for uses in (0, 10_001):
        neg(f"reject_invite_max_uses_{uses}", [("admin", invite("X", uses, T0 + DAY, False))],
            "log_entry_invalid", f"max_uses {uses} (1 to 10,000)", ["INVITE-3"])
    neg("reject_invite_expires_when_created", [("admin", invite("X", 1, t14, False))],
        "log_entry_invalid", "expires_at_ms equal to the entry's own timestamp", ["INVITE-4"])
    neg("reject_member_revokes_invite", [("member", InviteRevokeBody(iid("approval")))],
        "log_unauthorized", "a plain member revokes an invite", ["REVOKE-1"])
    neg("reject_revoke_unknown_invite", [("admin", InviteRevokeBody(iid("unknown")))],
        "invite_unknown", "revoking an invite id the group never created", ["REVOKE-2"])
    neg("reject_revoke_twice", [("admin", InviteRevokeBody(iid("open")))], "invite_revoked",
        "revoking \"open\" again (revoked at entry 8)", ["REVOKE-3"])

    # --- JOIN and the invite checks -------------------------------------------------------
    neg("reject_join_signed_by_other", [("outsider", JoinBody(iid("open"), n.public,
                                                                proof("open", n)))],
        "log_unauthorized", "the outsider signs a JOIN naming the newcomer as joiner",
        ["JOIN-1"])
    neg("reject_join_current_member", [("member", JoinBody(iid("open"), m.public,
                                                             proof("open", m)))],
        "log_entry_invalid", "a current member joins again", ["JOIN-2"])
    neg("reject_join_former_member", [("approved", JoinBody(iid("open"), r.public,
                                                              proof("open", r)))],
        "log_entry_invalid", "the member removed at entry 11 joins again with the same key",
        ["JOIN-2"])
    neg("reject_join_unknown_invite", [("outsider", JoinBody(iid("unknown"), x.public,
                                                               proof("unknown", x)))],
        "invite_unknown", "a JOIN through an invite the group never created", ["I1", "JOIN-3"])
    neg("reject_join_needs_approval", [
        ("owner", invite("Y", 2, T0 + DAY, True)),
        ("outsider", JoinBody(iid("Y"), x.public, proof("Y", x))),
    ], "log_unauthorized", "a JOIN through an invite that requires approval", ["JOIN-4"])
    neg("reject_invite_creator_demoted", [
        ("admin", invite("X", 5, T0 + DAY, False)),
        ("owner", RoleBody(a.sign_pk, Role.MEMBER)),
        ("outsider", JoinBody(iid("X"), x.public, proof("X", x))),
    ], "invite_revoked", "the admin's invite, used after the owner demoted the admin",
        ["I3", "JOIN-3"])
    neg("reject_invite_creator_removed", [
        ("admin", invite("X", 5, T0 + DAY, False)),
        ("owner", RemoveBody(a.sign_pk, 3, commit(3))),
        ("outsider", JoinBody(iid("X"), x.public, proof("X", x))),
    ], "invite_revoked", "the admin's invite, used after the owner removed the admin",
        ["I3", "JOIN-3"])
    neg("reject_invite_exhausted", [("owner", AddBody(x.public, Role.MEMBER, iid("approval"),
                                                      proof("approval", x)))],
        "invite_exhausted", "an ADD through \"approval\" (1 use, used at entry 4)",
        ["I5", "ADD-6"])
    neg("reject_join_proof_for_other_joiner", [
        ("admin", invite("Z", 3, T0 + DAY, True)),
        ("admin", AddBody(x.public, Role.MEMBER, iid("Z"), proof("Z", n))),
    ], "bad_signature", "an ADD of the outsider carrying the join proof made for the newcomer",
        ["I6", "ADD-6"])

    # --- ADD and ADD_ROTATE ---------------------------------------------------------------
    def add_cases(prefix: str, kind: str, make: Callable[..., EntryBody]) -> None:
        rules = [f"{kind}-{i}" for i in range(1, 7)]
        neg(f"reject_{prefix}_by_member", [("member", make(x.public, Role.MEMBER))],
            "log_unauthorized", "a plain member admits someone", [rules[0]])
        neg(f"reject_{prefix}_owner_by_admin", [("admin", make(x.public, Role.OWNER))],
            "log_unauthorized", "an admin grants the role OWNER, above their own", [rules[1]])
        neg(f"reject_{prefix}_admin_by_admin", [("admin", make(x.public, Role.ADMIN))],
            "log_unauthorized", "an admin grants the role ADMIN (only an owner may)", [rules[2]])
        neg(f"reject_{prefix}_current_member", [("owner", make(m.public, Role.MEMBER))],
            "log_entry_invalid", "admitting a current member again", [rules[3]])
        neg(f"reject_{prefix}_invite_without_proof", [("owner", make(
            x.public, Role.MEMBER, iid("approval"), None))], "log_entry_invalid",
            "an invite id without a join proof", [rules[4]])
        neg(f"reject_{prefix}_unknown_invite", [("owner", make(
            x.public, Role.MEMBER, iid("unknown"), proof("unknown", x)))], "invite_unknown",
            "through an invite the group never created", [rules[5], "I1"])

    add_cases("add", "ADD", lambda who, role, i=None, pr=None: AddBody(who, role, i, pr))
    add_cases("add_rotate", "ADD-ROTATE",
              lambda who, role, i=None, pr=None: AddRotateBody(who, role, i, pr, 3, commit(3)))
    neg("reject_add_rotate_readds_removed_key", [("owner", AddRotateBody(
        r.public, Role.MEMBER, None, None, 3, commit(3)))], "log_entry_invalid",
        "an ADD_ROTATE re-admitting the key removed at entry 11", ["ADD-ROTATE-4"])
    neg("reject_add_rotate_skipping_an_epoch", [("owner", AddRotateBody(
        x.public, Role.MEMBER, None, None, 4, commit(4)))], "log_entry_invalid",
        "an ADD_ROTATE starting epoch 4 after epoch 2", ["ADD-ROTATE-7"])
    neg("reject_add_rotate_by_member_skipping_an_epoch", [("member", AddRotateBody(
        x.public, Role.MEMBER, None, None, 4, commit(4)))], "log_unauthorized",
        "a plain member's ADD_ROTATE that also skips an epoch: rules 1-6 come before rule 7",
        ["ADD-ROTATE-1"])

    # --- REMOVE, ROLE, ROTATE -------------------------------------------------------------
    neg("reject_remove_by_member", [("member", RemoveBody(a.sign_pk, 3, commit(3)))],
        "log_unauthorized", "a plain member removes the admin", ["REMOVE-1"])
    neg("reject_remove_former_member", [("owner", RemoveBody(r.sign_pk, 3, commit(3)))],
        "log_entry_invalid", "removing the member already removed at entry 11", ["REMOVE-2"])
    neg("reject_remove_never_member", [("owner", RemoveBody(x.sign_pk, 3, commit(3)))],
        "log_entry_invalid", "removing a key that was never a member", ["REMOVE-2"])
    neg("reject_remove_self", [("admin", RemoveBody(a.sign_pk, 3, commit(3)))],
        "log_entry_invalid", "the admin removes themself (members leave instead)", ["REMOVE-3"])
    neg("reject_admin_removes_owner", [("admin", RemoveBody(o.sign_pk, 3, commit(3)))],
        "log_unauthorized", "an admin removes the owner", ["REMOVE-4"])
    for epoch in (2, 4):
        neg(f"reject_remove_new_epoch_{epoch}", [("owner", RemoveBody(m.sign_pk, epoch,
                                                                      bytes(32)))],
            "log_entry_invalid", f"a REMOVE starting epoch {epoch} (the next is 3)",
            ["REMOVE-5"])
    for name, author, target, role, code, description, rule in (
        ("reject_role_by_member", "member", m, Role.MODERATOR, "log_unauthorized",
         "a plain member makes themself a moderator", "ROLE-1"),
        ("reject_role_of_former_member", "owner", r, Role.MODERATOR, "log_entry_invalid",
         "changing the role of the member removed at entry 11", "ROLE-2"),
        ("reject_role_of_never_member", "owner", x, Role.MODERATOR, "log_entry_invalid",
         "changing the role of a key that was never a member", "ROLE-2"),
        ("reject_role_unchanged", "owner", m, Role.MEMBER, "log_entry_invalid",
         "giving the member the role MEMBER they already have", "ROLE-3"),
        ("reject_role_above_own", "admin", m, Role.OWNER, "log_unauthorized",
         "an admin makes the member an owner", "ROLE-4"),
        ("reject_role_admin_by_admin", "admin", m, Role.ADMIN, "log_unauthorized",
         "an admin makes the member an admin (only an owner may)", "ROLE-5"),
        ("reject_admin_demotes_self", "admin", a, Role.MEMBER, "log_unauthorized",
         "an admin demotes themself (changing an admin's role needs an owner)", "ROLE-6"),
        ("reject_last_owner_demoted", "owner", o, Role.ADMIN, "log_entry_invalid",
         "the only owner steps down to admin", "ROLE-7"),
    ):
        neg(name, [(author, RoleBody(target.sign_pk, role))], code, description, [rule])
    neg("reject_rotate_by_member", [("member", RotateBody(3, commit(3)))], "log_unauthorized",
        "a plain member starts a new epoch", ["ROTATE-1"])
    neg("reject_rotate_same_epoch", [("admin", RotateBody(2, commit(3)))], "log_entry_invalid",
        "a ROTATE naming the current epoch 2 as new", ["ROTATE-2"])

    # --- METADATA -------------------------------------------------------------------------
    neg("reject_member_sets_group_metadata", [("member", MetadataBody(None, 2, env))],
        "log_unauthorized", "a plain member writes the group's metadata", ["META-1"])
    neg("reject_profile_of_another", [("member", MetadataBody(o.sign_pk, 2, env))],
        "log_unauthorized", "the member writes the owner's profile", ["META-1"])
    neg("reject_metadata_for_a_later_epoch", [("admin", MetadataBody(None, 3, env))],
        "log_entry_invalid", "group metadata for epoch 3, which has no key yet", ["META-2"])
    not_bucket = env + bytes(44)
    not_bucket = not_bucket[:26] + (len(not_bucket) - 30).to_bytes(4, "big") + not_bucket[30:]
    neg("reject_metadata_not_a_bucket", [("admin", MetadataBody(None, 2, not_bucket))],
        "log_entry_invalid", "a metadata envelope of 300 bytes (not a power of two)", ["META-3"])
    neg("reject_metadata_wrong_tag", [("admin", MetadataBody(
        None, 2, bytes((Tag.POST_ENVELOPE,)) + env[1:]))], "log_entry_invalid",
        "a 256-byte ciphertext with a post envelope's tag", ["META-3"])

    # --- decoding (LE) and verify_log (VL) -------------------------------------------------
    state = world.state
    head_args = {"group_id": gid, "seq": 14, "prev_hash": state.head, "timestamp_ms": t14}
    role_4 = signed_raw(o, EntryKind.ROLE, m.sign_pk + b"\x04", **head_args)
    big_meta = signed_raw(o, EntryKind.METADATA, b"\x00" + (2).to_bytes(8, "big")
                          + (16_385).to_bytes(4, "big") + bytes(16_385), **head_args)
    bad_member = replace(a.public, binding_sig=flip(a.public.binding_sig, 5))
    bad_binding = signed_raw(o, EntryKind.ADD, bad_member.encode() + b"\x00\x00\x00",
                             **head_args)
    bad_binding_and_role = signed_raw(o, EntryKind.ADD, bad_member.encode() + b"\x07\x00\x00",
                                      **head_args)
    for name, data, code, description, reject in (
        ("reject_entry_too_large", b"\x02\x02" + bytes(65_535), "too_large",
         "65,537 bytes (that also claim version 2): the size is checked first",
         ["LE-1", "DEC-2"]),
        ("reject_unknown_role", role_4, "malformed",
         "a validly signed ROLE entry whose body names role 4", ["LE-4", "CODEC-7"]),
        ("reject_metadata_ciphertext_too_long", big_meta, "malformed",
         "a validly signed METADATA entry carrying 16,385 bytes of ciphertext (the body's "
         "bound, so §4.6 METADATA rule 3 never sees more than 16,384)", ["LE-4", "CODEC-4"]),
        ("reject_nested_identity_binding", bad_binding, "bad_signature",
         "a validly signed ADD whose member identity's binding signature does not verify",
         ["LE-5"]),
        ("reject_bad_signature_and_bad_body", flip(role_4, -1), "bad_signature",
         "the role-4 entry with its signature flipped: the signature comes before the body",
         ["LE-3", "DEC-2"]),
        ("reject_bad_binding_and_bad_role", bad_binding_and_role, "malformed",
         "a validly signed ADD whose member's binding does not verify and whose role is 7: "
         "the body's structure comes before the nested binding", ["LE-4", "DEC-2"]),
    ):
        vectors.append(vec(name, "decode_log_entry", {"entry": data.hex()},
                           error_of(code, lambda data=data: LogEntry.decode(data)),
                           description, reject=reject))

    other = LogCheckpoint(bytes(32), state.seq, state.head)
    neg("reject_checkpoint_of_other_group", [], "log_group_id_mismatch",
        "a log of 10 entries checked against a checkpoint at entry 13 of another group: the "
        "checkpoint's group is checked before its length", ["VL-1"], take=10, checkpoint=other)
    neg("reject_empty_log", [], "log_invalid", "no entries at all", ["VL-3"], take=0)
    neg("reject_malformed_genesis_of_other_group", [], "malformed",
        "a genesis with a trailing byte verified as another group's: each entry is decoded "
        "before the rules (G1) apply", ["VL-4", "CODEC-8"], take=0, group=bytes(32),
        raw_tail=[full[0] + b"\x00"])
    neg("reject_rule_before_later_malformed_entry", [lambda st: entry_after(
        st, o, RoleBody(m.sign_pk, Role.MODERATOR), prev_hash=st.hashes[11])], "log_chain_broken",
        "entry 14 breaks the chain and entry 15 is junk: entries are decoded as they are "
        "reached, so the first error is entry 14's", ["VL-4", "C3"], raw_tail=[b"\x02\x01"])
    fork_12 = entry_after(world.states[11], a, RotateBody(2, bytes(32)))
    neg("reject_fork_before_invalid_entry", [], "log_fork",
        "a checkpoint at entry 12; the relay serves another entry 12 followed by an invalid "
        "entry 13: the fork is reported as soon as entry 12 is applied", ["VL-4"], take=12,
        checkpoint=LogCheckpoint(gid, 12, state.hashes[12]),
        raw_tail=[fork_12.raw, entry_after(apply_entry(world.states[11], fork_12), m,
                                           RotateBody(3, bytes(32))).raw])
    cp_6 = LogCheckpoint(gid, 6, state.hashes[6])
    vectors.append(vec(
        "full_log_with_checkpoint", "verify_log",
        {"group_id": gid.hex(), "entries_from_full_log": len(full), "extra_entries": [],
         "checkpoint": cp_6.encode().hex()},
        {"checkpoint": verify_log(gid, full, checkpoint=cp_6).checkpoint().encode().hex()},
        "the full log verified against a saved checkpoint at entry 6",
        accept=["VL-1", "VL-2", "VL-3", "VL-4"]))

    # --- check_checkpoint and check_same_entry ---------------------------------------------
    for name, checkpoint, code, description, rules in (
        ("checkpoint_passes", state.checkpoint(), None, "the state's own checkpoint",
         ["CHK-1", "CHK-2", "CHK-3"]),
        ("reject_check_checkpoint_other_group", LogCheckpoint(bytes(32), 12, state.hashes[12]),
         "log_group_id_mismatch", "a checkpoint of another group", ["CHK-1"]),
        ("reject_check_checkpoint_rollback", LogCheckpoint(gid, 20, state.head), "log_rollback",
         "a checkpoint at entry 20 against a state ending at entry 13", ["CHK-2"]),
        ("reject_check_checkpoint_fork", LogCheckpoint(gid, 12, state.hashes[11]), "log_fork",
         "a checkpoint at entry 12 naming entry 11's hash", ["CHK-3"]),
    ):
        inputs = {"state": STATE_REF, "checkpoint": checkpoint.encode().hex()}
        if code is None:
            check_checkpoint(state, checkpoint)
            vectors.append(vec(name, "check_checkpoint", inputs, {"ok": True}, description,
                               accept=rules))
        else:
            vectors.append(vec(name, "check_checkpoint", inputs, error_of(
                code, lambda c=checkpoint: check_checkpoint(state, c)), description,
                reject=rules))
    for name, seq, entry_hash, description in (
        ("same_entry_known", 12, state.hashes[12], "entry 12 with its verified hash"),
        ("same_entry_beyond_state", 20, state.hashes[12],
         "entry 20, beyond the state: unknown, not a fork"),
    ):
        check_same_entry(state, seq, entry_hash)
        vectors.append(vec(name, "check_same_entry",
                           {"state": STATE_REF, "seq": seq, "hash": entry_hash.hex()},
                           {"ok": True}, description, accept=["SAME-1"]))
    vectors.append(vec("reject_same_entry_other_hash", "check_same_entry",
                       {"state": STATE_REF, "seq": 12, "hash": state.hashes[11].hex()},
                       error_of("log_fork", lambda: check_same_entry(state, 12,
                                                                      state.hashes[11])),
                       "entry 12 shown with entry 11's hash", reject=["SAME-1"]))
    return vectors


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

    def content_bytes(granter: Identity, group: bytes, epoch: int, sign_pk: bytes,
                      box_pk: bytes, key: bytes) -> bytes:
        signed = (Writer(Tag.GRANT_CONTENT).fixed(group, 32).u64(epoch).fixed(sign_pk, 32)
                  .fixed(box_pk, 32).fixed(granter.sign_pk, 32).fixed(key, 32).finish())
        return signed + granter.sign(labels.EPOCH_GRANT, signed)

    k2, owner_pub = world.epoch_keys[2], p["owner"].public
    zero_group = content_bytes(p["admin"], bytes(32), 2, member.sign_pk, member.box_pk, k2)
    more: list[tuple[str, bytes, str, str, str]] = [
        ("reject_sealed_content_not_a_grant", crafted(bytes((Tag.POST_BODY,)) + good[1:]),
         "member", "grant_invalid", "the sealed plaintext carries a post body's tag", "GR-3"),
        ("reject_relabelled_group", replace(to_member, group_id=bytes(32)).encode(), "member",
         "grant_invalid", "header group id 32 zero bytes, sealed content the real group",
         "GR-4"),
        ("reject_sealed_for_other_sign_key", crafted(content_bytes(
            p["admin"], gid, 2, owner_pub.sign_pk, member.box_pk, k2)), "member",
         "grant_invalid", "sealed to the member's box key, the header naming the member, the "
         "content naming the owner's signing key", "GR-6"),
        ("reject_sealed_naming_other_box_key", crafted(content_bytes(
            p["admin"], gid, 2, member.sign_pk, owner_pub.box_pk, k2)), "member",
         "grant_invalid", "sealed to the member, naming the member's signing key but the "
         "owner's box key inside", "GR-7"),
        ("reject_grant_of_other_group", EpochGrant(bytes(32), 2, member.sign_pk,
                                                   seal_with_ephemeral(zero_group, member.box_pk,
                                                                       rng(32))).encode(),
         "member", "grant_invalid", "header and content agree on another group (32 zero bytes)",
         "GR-8"),
    ]
    for name, data, opener, code, description, rule in more:
        me = p[opener]
        vectors.append(vec(
            name, "open_grant",
            {"epoch_grant": data.hex(), "opener_sign_seed": me.sign_seed.hex(),
             "opener_box_sk": me.box_sk.hex(), "state": STATE_REF},
            error_of(code, lambda data=data, me=me: open_grant(EpochGrant.decode(data), me,
                                                               state)),
            description, reject=[rule]))
    # Grant rule 10 for a former admin: the admin of the full log is demoted at entry 14,
    # epoch 3 starts at 15, and the admin is removed at 16, starting epoch 4.
    former_state = world.scenarios["log_former_admin"][2]
    former_ref = "log.json#log_former_admin"
    me = p["member"]
    all_keys = {**world.epoch_keys, **world.scenario_keys}
    for epoch, accepted, description in (
        (2, True, "epoch 2 started at entry 13, while the granter was an admin"),
        (3, False, "epoch 3 started at entry 15, after the granter's demotion at 14"),
        (4, False, "epoch 4 started by the granter's own removal at entry 16"),
    ):
        data = crafted(grant_content(p["admin"], gid, epoch, member, all_keys[epoch]),
                       epoch=epoch)
        inputs = {"epoch_grant": data.hex(), "opener_sign_seed": me.sign_seed.hex(),
                  "opener_box_sk": me.box_sk.hex(), "state": former_ref}
        if accepted:
            key = open_grant(EpochGrant.decode(data), me, former_state)
            assert key == all_keys[epoch]
            vectors.append(vec(f"former_admin_grant_epoch_{epoch}", "open_grant", inputs,
                               {"epoch_key": key.hex()},
                               "a grant by a former admin, " + description,
                               accept=[f"GR-{i}" for i in range(1, 13)]))
        else:
            vectors.append(vec(
                f"reject_former_admin_grant_epoch_{epoch}", "open_grant", inputs,
                error_of("grant_invalid", lambda data=data: open_grant(
                    EpochGrant.decode(data), me, former_state)),
                "a grant by a former admin, " + description, reject=["GR-10"]))
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
        ("reject_longer_than_65536", b"\x80" + bytes(65_536),
         "65,537 bytes (validly padded but longer than the largest bucket)"),
    ):
        vectors.append(vec(name, "unpad", {"padded": padded.hex()},
                           error_of("decryption_failed", lambda padded=padded: unpad(padded)),
                           description))
    return doc("padding", "Size buckets and ISO/IEC 7816-4 padding (0x80 then zeros, as "
               "libsodium's sodium_pad).", vectors)


# --- attachments ---------------------------------------------------------------------------


def attachment_json(att: Attachment) -> Json:
    return {"blob_id": att.blob_id.hex(), "blob_key": att.blob_key.hex(),
            "digest": att.digest.hex(), "size": att.size, "media_type": att.media_type,
            "file_name": att.file_name}


def make_attachments() -> list[tuple[bytes, str, tuple[bytes, bytes, bytes], Attachment, bytes]]:
    rng = seeded_random("vault/vectors/attachments")
    out = []
    for data, media, name in ((b"Meeting notes: bring a friend.\n", "text/plain",
                               "meeting notes.txt"),
                              (bytes(range(256)) * 4, "application/octet-stream", ""),
                              (b"", "image/png", "Élodie's garden 🌷.png")):
        draws = (rng(32), rng(24), rng(16))  # blob key, nonce, blob id: the core's draw order
        scripted = Scripted(*draws)
        att, blob = make_attachment(data, media, name, random=scripted)
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
            {"data": data.hex(), "media_type": media, "file_name": att.file_name,
             "blob_key": key.hex(),
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
        "poll_options": list(body.poll_options),
        "poll_closes_at_ms": body.poll_closes_at_ms, "vote_choice": body.vote_choice,
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
    # The version-2 post draws from its own source, so the draws above and below (and every
    # vector made from them) are those of the builds before file names existed.
    named_rng = seeded_random("vault/vectors/posts-v2")
    ids["named"] = named_rng(16)

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
    # Version 1 (PB-1): attachments without names, byte for byte what the builds before
    # file names wrote (977e39d's vector of the same name).
    posts.append(("post_with_attachments", "member", body(
        "member", "photo", 2, PostKind.POST, text="Notes from last week (\u00e9t\u00e9).",
        attachments=(replace(atts[0][3], file_name=""), replace(atts[2][3], file_name="")))))
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
    # Version 2 (PB-2): named attachments; the unnamed one carries an empty file name.
    posts.append(("post_with_named_attachments", "member", body(
        "member", "named", 3, PostKind.POST, text="The garden, and last week's notes.",
        attachments=(atts[0][3], atts[1][3], atts[2][3]))))
    # Polls and votes draw from their own source too (the vectors above are unchanged).
    poll_rng = seeded_random("vault/vectors/posts-polls")
    ids["poll"], ids["vote"] = poll_rng(16), poll_rng(16)
    posts.append(("poll", "owner", body(
        "owner", "poll", 4, PostKind.POLL, text="Which evening suits you for our next meeting?",
        poll_options=("Tuesday", "Thursday", "Either is fine"),
        poll_closes_at_ms=t + 7 * DAY)))
    posts.append(("vote", "member", body(
        "member", "vote", 4, PostKind.VOTE, refs=(ids["poll"],), vote_choice=1)))
    pin_rng = seeded_random("vault/vectors/posts-pins")
    ids["pin"] = pin_rng(16)
    posts.append(("pin", "admin", body("admin", "pin", 3, PostKind.PIN,
                                       refs=(ids["welcome"],))))

    vectors: list[Json] = []
    envelopes: dict[str, PostEnvelope] = {}
    for name, author, post in posts:
        me, key = p[author], world.epoch_keys[post.epoch]
        nonce = (named_rng if name == "post_with_named_attachments"
                 else poll_rng if name in ("poll", "vote")
                 else pin_rng if name == "pin" else rng)(24)
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
    vectors.extend(post_rule_vectors(world, atts, envelopes, base))
    return doc("posts", "Post bodies, their signatures, padding and the AEAD envelope under "
               "the epoch's post key, with pinned nonces; posts the opening checks refuse; the "
               "body rules; the timeline, the thread view, check_can_post and arrivals.",
               vectors)


def raw_post_body(body: PostBody, *, version: int | None = None,
                  file_names: bool | None = None, **changes: Any) -> bytes:
    """A post body's wire form with any field changed, no rule checked (``kind`` an int;
    ``attachments`` a list of ``(blob_id, key, digest, size, media_type[, file_name])``).

    *version* defaults to the one PB-2 gives (2 when an attachment has a name, else 1);
    *file_names* (whether attachments carry the field) defaults to what the version says."""
    f: dict[str, Any] = {
        "author": body.author, "group_id": body.group_id, "epoch": body.epoch,
        "post_id": body.post_id, "author_seq": body.author_seq, "log_seq": body.log_seq,
        "log_head": body.log_head, "timestamp_ms": body.timestamp_ms, "kind": int(body.kind),
        "refs": list(body.refs), "text": body.text, "content_warning": body.content_warning,
        "attachments": [(a.blob_id, a.blob_key, a.digest, a.size, a.media_type, a.file_name)
                        for a in body.attachments],
        "expires_at_ms": body.expires_at_ms, "poll_options": list(body.poll_options),
        "poll_closes_at_ms": body.poll_closes_at_ms, "vote_choice": body.vote_choice,
    }
    f.update(changes)
    if version is None:
        version = 2 if any(a[5:] and a[5] for a in f["attachments"]) else 1
    if file_names is None:
        file_names = version == 2
    w = (Writer(Tag.POST_BODY, version=version).fixed(f["author"], 32)
         .fixed(f["group_id"], 32).u64(f["epoch"]).fixed(f["post_id"], 16)
         .u64(f["author_seq"]).u64(f["log_seq"])
         .fixed(f["log_head"], 32).u64(f["timestamp_ms"]).u8(f["kind"]).u32(len(f["refs"])))
    for ref in f["refs"]:
        w.raw(ref)
    w.text(f["text"]).opt_text(f["content_warning"]).u32(len(f["attachments"]))
    for blob_id, key, digest, size, media, *name in f["attachments"]:
        w.fixed(blob_id, 16).fixed(key, 32).fixed(digest, 32).u64(size).text(media)
        if file_names:
            w.text(name[0] if name else "")
    w.opt_u64(f["expires_at_ms"])
    if f["kind"] == PostKind.POLL:
        w.u32(len(f["poll_options"]))
        for option in f["poll_options"]:
            w.text(option)
        w.opt_u64(f["poll_closes_at_ms"])
    elif f["kind"] == PostKind.VOTE:
        w.u8(f["vote_choice"] or 0)
    return w.finish()


def seal_raw(plaintext: bytes, epoch_key: bytes, nonce: bytes, *, group_id: bytes, epoch: int,
             post_id: bytes, log_seq: int, log_head: bytes,
             expires_at_ms: int | None) -> PostEnvelope:
    """An envelope around any plaintext (padded or not): what an epoch-key holder can make."""
    shell = PostEnvelope(group_id, epoch, post_id, log_seq, log_head, expires_at_ms, nonce, b"")
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        plaintext, shell.header, nonce, post_key(epoch_key, group_id, epoch))
    return replace(shell, ciphertext=ciphertext)


def signed_pair(author: Identity, body: PostBody) -> Json:
    return {"body": body.encode().hex(),
            "signature": author.sign(labels.POST_SIGNATURE, body.encode()).hex()}


def events_json(events: Sequence[Any]) -> list[Json]:
    """Timeline events in the vectors' JSON form (README: posts.json)."""
    out: list[Json] = []
    for e in events:
        name = type(e).__name__
        if name in ("NewPost",):
            out.append({"event": name, "post_id": e.post.post_id.hex()})
        elif name in ("DuplicateIgnored", "Resealed"):
            out.append({"event": name, "post_id": e.post_id.hex()})
        elif name == "GapDetected":
            out.append({"event": name, "author": e.author.hex(), "first": e.first,
                        "last": e.last})
        elif name == "SequenceJump":
            out.append({"event": name, "post_id": e.post_id.hex(), "author": e.author.hex(),
                        "author_seq": e.author_seq, "previous": e.previous})
        elif name == "GapFilled":
            out.append({"event": name, "author": e.author.hex(), "author_seq": e.author_seq})
        elif name == "MissingReferences":
            out.append({"event": name, "post_id": e.post_id.hex(),
                        "refs": [r.hex() for r in e.refs]})
        else:
            assert name == "UnknownHead"
            out.append({"event": name, "post_id": e.post_id.hex(), "log_seq": e.log_seq,
                        "log_head": e.log_head.hex()})
    return out


def timeline_summary(timeline: Timeline) -> Json:
    return {"gaps": [{"author": author.hex(), "ranges": [list(g) for g in gaps]}
                     for author, gaps in sorted(timeline.gaps().items())],
            "pending": sorted(e.post_id.hex() for e in timeline.pending()),
            "ordered": [post.post_id.hex() for post in timeline.ordered()],
            "ordered_log_seqs": [post.body.log_seq for post in timeline.ordered()]}


def thread_json(view: ThreadView) -> Json:
    return {
        "posts": [{
            "post_id": v.post_id.hex(), "author": v.author.hex(), "kind": int(v.kind),
            "reply_to": h(v.reply_to), "timestamp_ms": v.timestamp_ms, "text": v.text,
            "content_warning": v.content_warning,
            "attachments": [attachment_json(a) for a in v.attachments],
            "edited_at_ms": v.edited_at_ms, "deleted": v.deleted, "deleted_by": h(v.deleted_by),
            "reactions": [{"text": t, "authors": [x.hex() for x in who]}
                          for t, who in v.reactions],
            "warned_reactions": [{"content_warning": cw, "text": t,
                                  "authors": [x.hex() for x in who]}
                                 for cw, t, who in v.warned_reactions],
            "poll": None if v.poll is None else {
                "options": list(v.poll.options), "closes_at_ms": v.poll.closes_at_ms,
                "votes": [[x.hex() for x in who] for who in v.poll.votes]},
            "pinned_by": h(v.pinned_by),
            **({} if v.channel is None else {"channel": v.channel.hex()}),
        } for v in view.posts],
        "ignored": [{"post_id": i.post_id.hex(), "cause": i.cause} for i in view.ignored],
    }


def opened_from(pair: Json) -> OpenedPost:
    """An opened post from signed body bytes (the timeline looks at body and signature)."""
    body = PostBody.decode(bytes.fromhex(pair["body"]))
    shell = PostEnvelope(body.group_id, body.epoch, body.post_id, body.log_seq, body.log_head,
                         body.expires_at_ms, bytes(24), b"")
    return OpenedPost(body, shell, bytes.fromhex(pair["signature"]))


def post_rule_vectors(world: World, atts: list[Any], envelopes: dict[str, PostEnvelope],
                      base: PostBody) -> list[Json]:
    p, gid, state = world.people, world.group_id, world.state
    rng = seeded_random("vault/vectors/post-rules")
    vectors: list[Json] = []
    k2 = world.epoch_keys[2]
    att = atts[0][3]
    att_fields = (att.blob_id, att.blob_key, att.digest, att.size, att.media_type,
                  att.file_name)
    other_id = rng(16)

    # --- the body rules, on a decoded body (POST, ATT, DEC-4) -------------------------------
    reply = replace(base, kind=PostKind.REPLY, refs=(other_id,))
    for name, data, code, description, reject in (
        ("reject_body_author_seq_0", raw_post_body(base, author_seq=0), "post_invalid",
         "author_seq 0", ["POST-1"]),
        ("reject_body_duplicate_reference", raw_post_body(base, refs=[other_id, other_id]),
         "post_invalid", "one reference listed twice", ["POST-2"]),
        ("reject_body_refers_to_itself", raw_post_body(base, refs=[base.post_id]),
         "post_invalid", "a post referring to its own id", ["POST-2"]),
        ("reject_reply_without_target", raw_post_body(reply, refs=[]), "post_invalid",
         "a REPLY with no reference", ["POST-3"]),
        ("reject_reaction_empty", raw_post_body(reply, kind=3, text=""), "post_invalid",
         "a REACTION with empty text", ["POST-4"]),
        ("reject_reaction_65_bytes", raw_post_body(reply, kind=3, text="\u00e9" * 32 + "x"),
         "post_invalid", "a REACTION of 65 UTF-8 bytes (33 characters)", ["POST-4"]),
        ("reject_reaction_with_attachment", raw_post_body(
            reply, kind=3, text="+", attachments=[att_fields]), "post_invalid",
         "a REACTION carrying an attachment", ["POST-4"]),
        ("reject_delete_with_text", raw_post_body(reply, kind=5, text="x"), "post_invalid",
         "a DELETE with text", ["POST-5"]),
        ("reject_delete_with_warning", raw_post_body(reply, kind=5, text="",
                                                     content_warning=""), "post_invalid",
         "a DELETE with an (empty) content warning", ["POST-5"]),
        ("reject_delete_with_attachment", raw_post_body(reply, kind=5, text="",
                                                        attachments=[att_fields]),
         "post_invalid", "a DELETE with an attachment", ["POST-5"]),
        ("reject_body_expires_when_written", raw_post_body(
            base, expires_at_ms=base.timestamp_ms), "post_invalid",
         "expires_at_ms equal to timestamp_ms", ["POST-6"]),
        ("reject_attachment_too_large", raw_post_body(
            base, attachments=[(*att_fields[:3], 10_485_760, "text/plain")]), "too_large",
         "an attachment of 10,485,760 bytes", ["ATT-1"]),
        ("reject_attachment_media_type_space", raw_post_body(
            base, attachments=[(*att_fields[:4], "text/plain; charset=utf-8")]),
         "post_invalid", "a media type with a space", ["ATT-2"]),
        ("reject_attachment_media_type_empty", raw_post_body(
            base, attachments=[(*att_fields[:4], "")]), "post_invalid", "an empty media type",
         ["ATT-2"]),
        ("reject_attachment_file_name_path", raw_post_body(
            base, attachments=[(*att_fields[:5], "../notes.txt")]), "post_invalid",
         "a file name with a path separator", ["ATT-3"]),
        ("reject_attachment_file_name_dot_dot", raw_post_body(
            base, attachments=[(*att_fields[:5], "..")]), "post_invalid", "the file name ..",
         ["ATT-3"]),
        ("reject_attachment_file_name_bidi_override", raw_post_body(
            base, attachments=[(*att_fields[:5], "photo\u202egpj.exe")]), "post_invalid",
         "a right-to-left override that shows photo\u202egpj.exe as photoexe.jpg", ["ATT-3"]),
        ("reject_attachment_file_name_newline", raw_post_body(
            base, attachments=[(*att_fields[:5], "notes\n.txt")]), "post_invalid",
         "a file name with a line feed", ["ATT-3"]),
        ("reject_body_version_0", raw_post_body(base, version=0), "malformed",
         "a post body of version 0", ["PB-1"]),
        ("reject_body_version_3", raw_post_body(base, version=3, attachments=[att_fields]),
         "malformed", "a post body of version 3 (a later protocol's), with a named attachment",
         ["PB-1"]),
        ("reject_body_version_2_without_attachments", raw_post_body(base, version=2),
         "malformed", "version 2 with no attachment: this body's one encoding is version 1",
         ["PB-2"]),
        ("reject_body_version_2_unnamed_attachment", raw_post_body(
            base, version=2, attachments=[(*att_fields[:5], "")]), "malformed",
         "version 2 whose only attachment has an empty file name: version 1 encodes it",
         ["PB-2"]),
        ("reject_body_version_2_unnamed_and_too_large", raw_post_body(
            base, version=2, attachments=[(*att_fields[:3], 10_485_760, "text/plain", "")]),
         "malformed", "version 2 without a named attachment, whose attachment is also too "
         "large: PB-2 is part of the structure, checked before the attachments' rules",
         ["PB-2", "DEC-4"]),
        ("reject_body_version_1_with_file_name", raw_post_body(
            base, version=1, file_names=True, attachments=[att_fields]), "malformed",
         "a version-1 body whose attachment carries a file name field (the layout commit "
         "4072516 wrote without a version of its own): a version-1 attachment ends with its "
         "media type, so the name's length is read as the expiry flag and bytes remain",
         ["CODEC-8"]),
        ("reject_attachment_file_name_256_bytes", raw_post_body(
            base, attachments=[(*att_fields[:5], "é" * 128)]), "malformed",
         "a file name of 256 UTF-8 bytes (128 characters): longer than its field",
         ["CODEC-4"]),
        ("reject_attachment_too_large_and_seq_0", raw_post_body(
            base, author_seq=0, attachments=[(*att_fields[:3], 10_485_760, "text/plain")]),
         "too_large", "an attachment too large and author_seq 0: attachments come before the "
         "kind rules", ["ATT-1", "DEC-4"]),
        ("reject_bad_media_type_and_trailing_byte", raw_post_body(
            base, attachments=[(*att_fields[:4], "a b")]) + b"\x00", "malformed",
         "a media type with a space and a trailing byte: the structure comes first",
         ["CODEC-8", "DEC-4"]),
        ("reject_body_unknown_kind", raw_post_body(base, kind=9), "malformed", "post kind 9",
         ["CODEC-7"]),
        ("reject_poll_one_option", raw_post_body(
            base, kind=6, poll_options=["Yes"]), "post_invalid", "a POLL with one option",
         ["POST-7"]),
        ("reject_poll_option_twice", raw_post_body(
            base, kind=6, poll_options=["Yes", "No", "Yes"]), "post_invalid",
         "a POLL listing the option 'Yes' twice", ["POST-7"]),
        ("reject_poll_empty_option", raw_post_body(
            base, kind=6, poll_options=["Yes", ""]), "post_invalid",
         "a POLL with an empty option", ["POST-7"]),
        ("reject_poll_without_question", raw_post_body(
            base, kind=6, text="", poll_options=["Yes", "No"]), "post_invalid",
         "a POLL with empty text (no question)", ["POST-7"]),
        ("reject_poll_with_attachment", raw_post_body(
            base, kind=6, poll_options=["Yes", "No"], attachments=[att_fields]),
         "post_invalid", "a POLL carrying an attachment", ["POST-7"]),
        ("reject_poll_closes_when_asked", raw_post_body(
            base, kind=6, poll_options=["Yes", "No"],
            poll_closes_at_ms=base.timestamp_ms), "post_invalid",
         "poll_closes_at_ms equal to timestamp_ms", ["POST-7"]),
        ("reject_poll_11_options", raw_post_body(
            base, kind=6, poll_options=[str(i) for i in range(11)]), "malformed",
         "a POLL with 11 options (at most 10)", ["CODEC-4"]),
        ("reject_poll_option_101_bytes", raw_post_body(
            base, kind=6, poll_options=["Yes", "n" * 101]), "malformed",
         "a poll option of 101 bytes: longer than its field", ["CODEC-4"]),
        ("reject_poll_without_options_field", raw_post_body(base, kind=6)[:-5],
         "malformed", "a POLL body that ends after the expiry (no options field)",
         ["CODEC-3"]),
        ("reject_vote_without_target", raw_post_body(
            base, kind=7, text="", vote_choice=0), "post_invalid",
         "a VOTE with no reference", ["POST-3"]),
        ("reject_vote_with_text", raw_post_body(
            reply, kind=7, text="Tuesday", vote_choice=0), "post_invalid",
         "a VOTE with text", ["POST-8"]),
        ("reject_vote_with_warning", raw_post_body(
            reply, kind=7, text="", content_warning="", vote_choice=0), "post_invalid",
         "a VOTE with an (empty) content warning", ["POST-8"]),
        ("reject_vote_choice_10", raw_post_body(
            reply, kind=7, text="", vote_choice=10), "post_invalid",
         "a VOTE for option 10 (no poll has an eleventh option)", ["POST-8"]),
        ("reject_pin_with_text", raw_post_body(reply, kind=8, text="pinned"),
         "post_invalid", "a PIN with text", ["POST-5"]),
        ("reject_pin_with_warning", raw_post_body(reply, kind=8, text="",
                                                  content_warning=""), "post_invalid",
         "a PIN with an (empty) content warning", ["POST-5"]),
        ("reject_pin_without_target", raw_post_body(base, kind=8, text=""), "post_invalid",
         "a PIN with no reference", ["POST-3"]),
        ("reject_post_with_vote_choice", raw_post_body(base) + b"\x00", "malformed",
         "a POST followed by one more byte (only a VOTE carries a choice)", ["PB-3"]),
        ("reject_post_channel_unknown_kind", raw_post_body(base) + b"\x03" + bytes(15),
         "malformed", "a POST naming a channel of kind 3 (a later protocol's)", ["CHAN-1"]),
        ("reject_delete_with_channel", raw_post_body(base, kind=5, text="",
                                                     refs=[base.post_id[::-1]])
         + b"\x01" + bytes(15), "malformed",
         "a DELETE followed by a channel id (only a POST, POLL or REPLY names one)",
         ["CODEC-8", "PB-3"]),
        ("reject_body_65_references", raw_post_body(base, refs=[bytes((i,)) * 16
                                                               for i in range(65)]),
         "malformed", "65 references (at most 64)", ["CODEC-4"]),
        ("reject_body_invalid_utf8", raw_post_body(base, text="ab")[:-12] + b"\xc0\xaf"
         + raw_post_body(base, text="ab")[-10:], "malformed",
         "text holding the overlong UTF-8 form C0 AF of '/'", ["CODEC-6"]),
    ):
        vectors.append(vec(name, "decode_post_body", {"data": data.hex()},
                           error_of(code, lambda d=data: PostBody.decode(d)), description,
                           reject=reject))

    # --- open_post: checks 1, 3-8 and their order ------------------------------------------
    welcome = envelopes["post_welcome"]
    owner, member, outsider = p["owner"], p["member"], p["outsider"]
    hdr: Json = {"group_id": gid, "epoch": 2, "log_seq": state.seq, "log_head": state.head,
                 "expires_at_ms": None}

    def sealed(body_bytes: bytes, signer: Identity = owner, *, key: bytes = k2,
               header: Json | None = None, post_id: bytes | None = None) -> PostEnvelope:
        fields = {**hdr, **(header or {})}
        plaintext = pad(body_bytes + sign(signer.sign_sk, labels.POST_SIGNATURE, body_bytes))
        return seal_raw(plaintext, key, rng(24), post_id=post_id or base.post_id, **fields)

    forged_id = rng(16)
    unnamed_v2 = raw_post_body(base, version=2, attachments=[(*att_fields[:5], "")])
    unpadded = base.encode() + sign(owner.sign_sk, labels.POST_SIGNATURE, base.encode())
    unpadded += bytes(511 - len(unpadded)) + b"\x01"
    cases: list[tuple[str, PostEnvelope, bytes, str, str, list[str]]] = [
        ("reject_other_group_and_wrong_key", replace(welcome, group_id=bytes(32)),
         world.epoch_keys[1], "post_invalid",
         "an envelope naming another group, opened with the wrong key: the group is checked "
         "before decrypting", ["OPEN-1"]),
        ("reject_post_bad_padding", seal_raw(unpadded, k2, rng(24), post_id=base.post_id,
                                             **hdr), k2, "decryption_failed",
         "a 512-byte plaintext whose last byte is 0x01: no valid padding", ["OPEN-3"]),
        ("reject_post_body_malformed", sealed(base.encode()[:-1]), k2, "post_invalid",
         "a signed body missing its last byte", ["OPEN-4"]),
        ("reject_post_body_kind_rule", sealed(raw_post_body(base, author_seq=0)), k2,
         "post_invalid", "a body with author_seq 0", ["OPEN-4", "POST-1"]),
        ("reject_post_body_version_2_unnamed", seal_raw(
            pad(unnamed_v2 + sign(owner.sign_sk, labels.POST_SIGNATURE, unnamed_v2)), k2,
            seeded_random("vault/vectors/post-rules-v2")(24), post_id=base.post_id, **hdr), k2,
         "post_invalid", "a signed version-2 body whose only attachment has no name (PB-2, "
         "malformed on its own)", ["OPEN-4", "PB-2"]),
        ("reject_post_attachment_too_large", sealed(raw_post_body(
            base, attachments=[(*att_fields[:3], 10_485_760, "text/plain")])), k2,
         "post_invalid", "a body with a 10,485,760-byte attachment (too_large on its own)",
         ["OPEN-4", "ATT-1"]),
        ("reject_post_id_mismatch", sealed(base.encode(), post_id=forged_id), k2,
         "post_invalid", "the header's post id differs from the signed body's", ["OPEN-5"]),
        ("reject_post_group_mismatch", sealed(replace(base, group_id=bytes(32)).encode()), k2,
         "post_invalid", "the signed body names another group than the header", ["OPEN-6"]),
        ("reject_post_epoch_mismatch", sealed(replace(base, epoch=1).encode()), k2,
         "post_invalid", "the signed body says epoch 1, the header epoch 2", ["OPEN-7"]),
        ("reject_post_log_position_mismatch", sealed(replace(
            base, log_seq=12, log_head=state.hashes[12]).encode()), k2, "post_invalid",
         "the signed body names log entry 12, the header entry 13", ["OPEN-8"]),
        ("reject_outsider_with_wrong_epoch", sealed(replace(
            base, author=outsider.sign_pk, epoch=1).encode(), outsider,
            key=world.epoch_keys[1], header={"epoch": 1}), world.epoch_keys[1],
         "post_invalid", "an outsider's post for epoch 1 at log entry 13: the epoch check "
         "comes before the membership check", ["OPEN-12"]),
        ("reject_outsider_signed_by_member", sealed(replace(
            base, author=outsider.sign_pk).encode(), member), k2, "not_a_member",
         "a body naming the outsider as author, signed by the member: membership is checked "
         "before the signature", ["OPEN-13"]),
    ]
    for name, envelope, key, code, description, reject in cases:
        data = envelope.encode()
        vectors.append(vec(
            name, "open_post", {"envelope": data.hex(), "epoch_key": key.hex(),
                                "state": STATE_REF},
            error_of(code, lambda d=data, k=key: open_post(PostEnvelope.decode(d), k, state)),
            description, reject=reject))
    bad_flag = welcome.encode()[:98] + b"\x02" + welcome.encode()[99:]
    vectors.append(vec("reject_envelope_flag_2", "decode_post_envelope", {"data": bad_flag.hex()},
                       error_of("malformed", lambda: PostEnvelope.decode(bad_flag)),
                       "the expiry's presence flag is 2", reject=["CODEC-5"]))

    # --- timeline (§6.6) ----------------------------------------------------------------
    t = T0 + 2 * HOUR
    clock = itertools.count()

    def post(author: str, seq: int, kind: PostKind = PostKind.POST, *, refs: tuple[bytes, ...]
             = (), log_seq: int = 13, post_id: bytes | None = None, text: str = "",
             cw: str | None = None, ts: int | None = None, options: tuple[str, ...] = (),
             closes: int | None = None, choice: int | None = None,
             expires: int | None = None, channel: bytes | None = None
             ) -> tuple[PostBody, Json]:
        body = PostBody(author=p[author].sign_pk, group_id=gid, epoch=state.epoch_at(log_seq),
                        post_id=post_id or rng(16), author_seq=seq, log_seq=log_seq,
                        log_head=state.hashes[log_seq],
                        timestamp_ms=t + 1000 * next(clock) if ts is None else ts, kind=kind,
                        refs=refs, text=text or (
                            f"{kind.name.lower()} {seq}"
                            if kind not in (PostKind.DELETE, PostKind.VOTE, PostKind.PIN)
                            else ""),
                        content_warning=cw, poll_options=options, poll_closes_at_ms=closes,
                        vote_choice=choice, expires_at_ms=expires, channel=channel)
        return body, signed_pair(p[author], body)

    def run_timeline(name: str, steps: list[Json], description: str, *, accept: Sequence[str]
                     = (), reject: Sequence[str] = ()) -> None:
        timeline = Timeline()
        results: list[Any] = []
        for step in steps:
            try:
                if "add" in step:
                    results.append(events_json(timeline.add(opened_from(step["add"]))))
                elif "expect" in step:
                    gap = timeline.expect(bytes.fromhex(step["expect"]["author"]),
                                          step["expect"]["seq"])
                    results.append(events_json([] if gap is None else [gap]))
                else:
                    e = step["add_envelope"]
                    results.append(events_json(timeline.add_envelope(
                        PostEnvelope.decode(bytes.fromhex(e["envelope"])),
                        bytes.fromhex(e["epoch_key"]), state)))
            except VaultError as exc:
                if step is steps[-1] and reject and name.startswith("reject_"):
                    vectors.append(vec(name, "timeline", {"steps": steps}, {"error": exc.code},
                                       description, accept=accept, reject=reject))
                    return
                results.append({"error": exc.code})
        assert not name.startswith("reject_")
        vectors.append(vec(name, "timeline", {"steps": steps},
                           {"steps": results, **timeline_summary(timeline)}, description,
                           accept=accept, reject=reject))

    o1, o1j = post("owner", 1)
    o3, o3j = post("owner", 3)
    _o4, o4j = post("owner", 4)
    _m1, m1j = post("member", 1, PostKind.REPLY, refs=(o3.post_id,))
    run_timeline("timeline_gaps_and_references", [
        {"add": o1j}, {"add": o1j}, {"add": o4j}, {"add": m1j}, {"add": o3j},
    ], "owner's post 1 (twice: the repeat is ignored), 4 (posts 2-3 missing), the member's "
       "reply to the owner's post 3 (not received yet), then post 3 (fills its number)",
        accept=["TL-1", "TL-2", "TL-3", "TL-5", "TL-7"], reject=["TL-5"])
    first, first_j = post("owner", 5, log_seq=12, text="sealed twice")
    again = replace(first, epoch=state.epoch_at(13), log_seq=13, log_head=state.hashes[13])
    again_j = signed_pair(p["owner"], again)
    changed = replace(again, text="sealed twice, other words")
    run_timeline("timeline_resealed_post", [{"add": first_j}, {"add": again_j},
                                            {"add": first_j}],
                 "the owner's post 5 at log entry 12, then the same post sealed again at entry "
                 "13 (kept in its place), then the first sealing again (not taken back)",
                 accept=["TL-8"])
    run_timeline("reject_resealed_with_other_words", [
        {"add": first_j}, {"add": signed_pair(p["owner"], changed)}],
        "the same post id and number at entry 13 with other words: not a sealing again",
        reject=["TL-8"])
    _a1, a1j = post("admin", 1)
    _a_jump, a_jumpj = post("admin", 100_002)
    _mm1, mm1j = post("member", 1)
    _mm_far, mm_farj = post("member", 100_001)
    run_timeline("timeline_sequence_jump", [
        {"add": a1j}, {"add": a_jumpj}, {"add": mm1j}, {"add": mm_farj},
    ], "the admin's post 1 then 100,002 (a jump of more than 100,000: SequenceJump, no gap); "
       "the member's post 1 then 100,001 (exactly 100,000 above: a gap of 99,999 numbers)",
        accept=["TL-3"], reject=["TL-3"])
    _o2, o2j = post("owner", 2)
    _o7, o7j = post("owner", 7)
    owner_hex = owner.sign_pk.hex()
    run_timeline("timeline_marks", [
        {"expect": {"author": owner_hex, "seq": 5}}, {"expect": {"author": owner_hex, "seq": 3}},
        {"add": o2j}, {"add": o7j},
    ], "an imported mark says the owner's posts up to 5 were seen: 1-5 become missing; a "
       "lower mark changes nothing; post 2 fills a number; post 7 opens a gap at 6",
        accept=["TL-4", "TL-3"], reject=["TL-4"])
    held = world_unknown_envelope(world, base)
    run_timeline("timeline_unknown_head", [
        {"add_envelope": {"envelope": held.encode().hex(), "epoch_key": k2.hex(),
                          "state": STATE_REF}},
        {"add_envelope": {"envelope": welcome.encode().hex(), "epoch_key": k2.hex(),
                          "state": STATE_REF}},
    ], "a post naming log entry 20 (beyond the state) is held pending; the welcome post opens",
        accept=["TL-6"], reject=["TL-6"])
    c_a = rng(16)
    c_b = rng(16)
    _cyc_a, cyc_aj = post("owner", 1, refs=(c_b,), post_id=c_a, ts=t)
    _cyc_b, cyc_bj = post("member", 1, refs=(c_a,), post_id=c_b, ts=t + 5)
    _later, laterj = post("admin", 1, ts=t - 5)
    run_timeline("timeline_order_and_cycle", [
        {"add": cyc_aj}, {"add": cyc_bj}, {"add": laterj},
    ], "two posts that refer to each other (a cycle only a malicious author can make) and an "
       "earlier independent post: the earlier post first, then the cycle broken at its "
       "smallest (timestamp, post id)", accept=["TL-7"], reject=["TL-7"])
    _o1_other, o1_otherj = post("owner", 1, post_id=o1.post_id, text="another text")
    _m_same_id, m_same_idj = post("member", 1, post_id=o1.post_id)
    _o1_again, o1_againj = post("owner", 1)
    run_timeline("timeline_failed_step_changes_nothing", [
        {"add": o1j}, {"add": o1_otherj}, {"add": o2j},
    ], "a second body under post 1's id fails and changes nothing; post 2 then follows as "
       "if it had not been tried", accept=["TL-1"])
    run_timeline("reject_timeline_same_id_other_body", [{"add": o1j}, {"add": o1_otherj}],
                 "the owner publishes two different bodies under one post id", reject=["TL-1"])
    run_timeline("reject_timeline_same_id_other_author", [{"add": o1j}, {"add": m_same_idj}],
                 "the member uses the owner's post id", reject=["TL-1"])
    run_timeline("reject_timeline_same_seq", [{"add": o1j}, {"add": o1_againj}],
                 "the owner publishes two posts numbered 1", reject=["TL-2"])

    # --- thread view (§6.7) -------------------------------------------------------------
    def run_view(name: str, posts: list[Json], description: str, *, accept: Sequence[str],
                 reject: Sequence[str]) -> None:
        timeline = Timeline()
        for pair in posts:
            timeline.add(opened_from(pair))
        vectors.append(vec(name, "thread_view", {"state": STATE_REF, "posts": posts},
                           thread_json(thread_view(timeline, state)), description,
                           accept=accept, reject=reject))

    pp, ppj = post("owner", 1, text="Hello")
    xr, xrj = post("member", 1, PostKind.REACTION, refs=(pp.post_id,), text="\U0001f49c")
    _e1, e1j = post("owner", 2, PostKind.EDIT, refs=(pp.post_id,), text="Hello, everyone",
                   cw="long")
    _e2, e2j = post("owner", 3, PostKind.EDIT, refs=(pp.post_id,), text="Hello, everyone!")
    _e3, e3j = post("member", 2, PostKind.EDIT, refs=(pp.post_id,), text="Hi")
    _e4, e4j = post("member", 3, PostKind.EDIT, refs=(xr.post_id,), text="x")
    _e5, e5j = post("admin", 1, PostKind.EDIT, refs=(rng(16),), text="x")
    _e6, e6j = post("owner", 4, PostKind.EDIT, refs=(pp.post_id,), log_seq=12, text="Backdated")
    run_view("thread_view_edits", [ppj, xrj, e1j, e2j, e3j, e4j, e5j, e6j],
             "two edits by the author (the higher author_seq wins), an edit by another member, "
             "an edit of a reaction, an edit of an unknown post and a backdated edit",
             accept=["TV-2"], reject=["TV-2", "TV-1"])

    p0, p0j = post("owner", 1, log_seq=9, text="Rules for tonight")
    p1, p1j = post("owner", 2, log_seq=3, text="Welcome, first post")
    rr, rrj = post("member", 1, PostKind.REPLY, refs=(p0.post_id,))
    xx, xxj = post("member", 2, PostKind.REACTION, refs=(p1.post_id,), text="+1")
    _x2, x2j = post("admin", 1, PostKind.REACTION, refs=(p1.post_id,), text="\U0001f44d")
    d1, d1j = post("admin", 2, PostKind.DELETE, refs=(rr.post_id,))
    _d2, d2j = post("joiner", 1, PostKind.DELETE, refs=(p0.post_id,), log_seq=10)
    _d3, d3j = post("joiner", 2, PostKind.DELETE, refs=(p1.post_id,), log_seq=5)
    _d4, d4j = post("member", 3, PostKind.DELETE, refs=(xx.post_id,))
    _d5, d5j = post("member", 4, PostKind.DELETE, refs=(d1.post_id,))
    _d6, d6j = post("owner", 3, PostKind.DELETE, refs=(p0.post_id,))
    run_view("thread_view_deletes", [p0j, p1j, rrj, xxj, x2j, d1j, d2j, d3j, d4j, d5j, d6j],
             "the admin deletes the member's reply; the joiner deletes a post at log entry 10, "
             "when it was a moderator (it has left since): applies; the joiner's delete at "
             "entry 5, before its promotion: ignored; the member withdraws its own reaction; "
             "a delete of a delete is ignored; the owner's later delete of the same post "
             "leaves the first deleter in place",
             accept=["TV-3"], reject=["TV-3"])

    q0, q0j = post("owner", 1, text="Good news")
    qr, qrj = post("admin", 1, PostKind.REPLY, refs=(q0.post_id,), text="So glad")
    r1, r1j = post("member", 1, PostKind.REACTION, refs=(q0.post_id,), text="\U0001f49c")
    _r2, r2j = post("admin", 2, PostKind.REACTION, refs=(q0.post_id,), text="\U0001f49c")
    _r3, r3j = post("member", 2, PostKind.REACTION, refs=(q0.post_id,), text="\U0001f49c")
    _r4, r4j = post("admin", 3, PostKind.REACTION, refs=(q0.post_id,), text="\U0001f64f",
                   cw="grief")
    _r5, r5j = post("member", 3, PostKind.REACTION, refs=(q0.post_id,), text="\U0001f64f",
                   cw="grief")
    _r6, r6j = post("owner", 2, PostKind.REACTION, refs=(q0.post_id,), text="\U0001f44d")
    _r7, r7j = post("member", 4, PostKind.REACTION, refs=(r1.post_id,), text="\U0001f44d")
    _r8, r8j = post("member", 5, PostKind.REACTION, refs=(rng(16),), text="\U0001f44d")
    _r9, r9j = post("member", 6, PostKind.REACTION, refs=(qr.post_id,), text="\U0001f44d",
                   log_seq=12)
    run_view("thread_view_reactions", [q0j, qrj, r1j, r2j, r3j, r4j, r5j, r6j, r7j, r8j, r9j],
             "reactions counted once per author and (text, warning), sorted by text; those "
             "with a content warning listed apart; a reaction to a reaction, to an unknown "
             "post and a backdated one are ignored",
             accept=["TV-4"], reject=["TV-4", "TV-1"])

    b0, b0j = post("owner", 1, text="Check-in thread")
    _b1, b1j = post("member", 1, PostKind.REPLY, refs=(b0.post_id,))
    _b2, b2j = post("admin", 1, PostKind.REPLY, refs=(b0.post_id,), log_seq=12)
    _b3, b3j = post("member", 2, PostKind.REPLY, refs=(rng(16),))
    run_view("thread_view_backdated_replies", [b0j, b1j, b2j, b3j],
             "a reply at the target's log position is shown; a reply written at an earlier "
             "log position than its target is hidden and listed; a reply to a post not "
             "received is shown", accept=["TV-1"], reject=["TV-1"])

    # --- check_can_post (§6.8) --------------------------------------------------------
    for name, ref, epoch, author, code, description, rules in (
        ("can_post_current_member", STATE_REF, 2, "owner", None,
         "the owner, in the current epoch 2", ["CAN-1", "CAN-2", "CAN-3"]),
        ("can_post_without_author", STATE_REF, 2, None, None,
         "no author given: only the epoch rules apply", ["CAN-2", "CAN-3"]),
        ("reject_can_post_former_member", STATE_REF, 2, "approved", "not_a_member",
         "the member removed at entry 11", ["CAN-1"]),
        ("reject_can_post_former_member_old_epoch", STATE_REF, 1, "approved", "not_a_member",
         "the removed member in epoch 1: membership is checked first", ["CAN-1"]),
        ("reject_can_post_old_epoch", STATE_REF, 1, "owner", "epoch_stale",
         "epoch 1 while the log's current epoch is 2", ["CAN-2"]),
        ("reject_can_post_later_epoch", STATE_REF, 3, "owner", "epoch_stale",
         "epoch 3, not in the log yet", ["CAN-2"]),
        ("reject_can_post_rotation_pending", STATE_REF + "@12", 1, "owner", "rotation_pending",
         "after the joiner's LEAVE at entry 12 and before the ROTATE at 13", ["CAN-3"]),
    ):
        st = state if ref == STATE_REF else world.states[12]
        who = None if author is None else p[author].sign_pk
        inputs = {"state": ref, "epoch": epoch, "author": h(who)}
        if code is None:
            check_can_post(st, epoch, author=who)
            vectors.append(vec(name, "check_can_post", inputs, {"ok": True}, description,
                               accept=rules))
        else:
            vectors.append(vec(name, "check_can_post", inputs, error_of(
                code, lambda st=st, e=epoch, w=who: check_can_post(st, e, author=w)),
                description, reject=rules))

    # --- arrivals (§6.9) --------------------------------------------------------------
    removed_post, _ = post("approved", 1, log_seq=10, ts=T0 + HOUR)
    owner_late, _ = post("owner", 1, log_seq=10, ts=T0 + 2 * HOUR)
    owner_early, _ = post("owner", 2, log_seq=10, ts=T0 + 10 * MINUTE + 30_000)
    owner_3, _ = post("owner", 3, log_seq=3, ts=T0 + 2 * HOUR)
    joiner_post, _ = post("joiner", 1, log_seq=10, ts=T0 + 2 * HOUR)
    for name, body, known, fence, description, accept, reject in (
        ("reject_arrival_after_departure_fence", removed_post, 13, 11,
         "a post by the member removed at entry 11, first served after a complete read that "
         "began at entry 11", [], ["ARRIVAL-1"]),
        ("arrival_late_author", removed_post, 13, 10,
         "the same post served by the read that first showed the removal: kept, marked",
         ["ARRIVAL-1"], ["ARRIVAL-2", "ARRIVAL-3"]),
        ("arrival_before_departure_known", removed_post, 10, -1,
         "the same post received when this device's log ended at entry 10: not late",
         ["ARRIVAL-1", "ARRIVAL-2"], ["ARRIVAL-3"]),
        ("arrival_not_exposed", owner_early, 13, -1,
         "the owner's post at entry 10, dated before both departures, with no complete read "
         "before it", ["ARRIVAL-1", "ARRIVAL-2", "ARRIVAL-3"], []),
        ("arrival_exposed_by_time", owner_late, 13, -1,
         "the owner's post at entry 10 dated after both departures (11 and 12): both former "
         "members held its key", ["ARRIVAL-2"], ["ARRIVAL-3"]),
        ("arrival_exposed_by_fence", owner_early, 13, 12,
         "the early-dated post first served after a complete read that began at entry 12",
         ["ARRIVAL-2"], ["ARRIVAL-3"]),
        ("arrival_exposed_joined_after", owner_3, 13, -1,
         "a post at entry 3: the member admitted at entry 4 never held its key", [],
         ["ARRIVAL-3"]),
        ("arrival_own_departure", joiner_post, 13, -1,
         "the joiner's own post at entry 10 (it left at 12): late, and exposed to the member "
         "removed at 11, not to itself", [], ["ARRIVAL-2", "ARRIVAL-3"]),
    ):
        arrival = Arrival(known, fence)
        inputs = {"state": STATE_REF, "body": body.encode().hex(), "known_seq": known,
                  "fence_seq": fence}
        if name.startswith("reject_"):
            expected = error_of("not_a_member", lambda b=body, a=arrival: check_not_departed(
                state, b, a))
        else:
            check_not_departed(state, body, arrival)
            verdict = judge(state, body, arrival)
            expected = {"late_author": verdict.late_author,
                        "exposed_to": [x.hex() for x in verdict.exposed_to]}
        vectors.append(vec(name, "judge_arrival", inputs, expected, description,
                           accept=accept, reject=reject))

    # --- polls in the thread view (§6.7, TV-5); own post ids, last, so nothing above moves --
    poll_rng = seeded_random("vault/vectors/post-rules-polls")
    closes = t + 2_000_000  # after every timestamp the clock gives these vectors
    pl, plj = post("owner", 1, PostKind.POLL, text="Which evening suits you?",
                   post_id=poll_rng(16), ts=t + 1_000_000, log_seq=10,
                   options=("Tuesday", "Thursday", "Either"), closes=closes)
    np, npj = post("admin", 1, text="Ordinary post", post_id=poll_rng(16))

    def vote(author: str, seq: int, choice: int, **extra: Any) -> Json:
        return post(author, seq, PostKind.VOTE, refs=extra.pop("refs", (pl.post_id,)),
                    post_id=poll_rng(16), choice=choice, **extra)[1]

    v1 = vote("member", 1, 0)
    v2 = vote("admin", 2, 1)
    v3 = vote("member", 2, 2)  # the member changes its vote: the higher author_seq counts
    v4 = vote("joiner", 1, 1, log_seq=10)
    v5 = vote("admin", 3, 3)  # option 3 of 3: no such option
    v6 = vote("owner", 2, 0, ts=closes)  # at the closing time: too late
    v7 = vote("admin", 4, 0, refs=(np.post_id,))  # not a poll
    v8 = vote("admin", 5, 0, refs=(poll_rng(16),))  # a poll not received
    v9 = vote("member", 3, 1, log_seq=5)  # before the poll existed
    v10 = vote("member", 5, 0, expires=t + 3_000_000)  # would disappear on its own
    _pe, pej = post("owner", 3, PostKind.EDIT, refs=(pl.post_id,), text="Edited question",
                    post_id=poll_rng(16))
    v1_body = PostBody.decode(bytes.fromhex(v1["body"]))
    _vd, vdj = post("member", 4, PostKind.DELETE, refs=(v1_body.post_id,),
                    post_id=poll_rng(16))
    _pr, prj = post("admin", 6, PostKind.REACTION, refs=(pl.post_id,), text="+1",
                    post_id=poll_rng(16))
    run_view("thread_view_poll", [plj, npj, v1, v2, v3, v4, v5, v6, v7, v8, v9, pej, vdj, prj,
                                  v10],
             "a poll written at entry 10 with three options: the member votes twice (its later "
             "vote counts), the admin and the joiner (at entry 10, when it was a member; it "
             "has left since) vote; a vote for a "
             "fourth option, one written at the closing time, one on an ordinary post, one on "
             "a poll not received, one written before the poll existed and one with an expiry "
             "of its own (the poll has none) are ignored, as are an edit of the poll and a "
             "delete of a vote; a reaction to the poll counts",
             accept=["TV-5", "TV-4"], reject=["TV-5", "TV-2", "TV-3"])
    _pd, pdj = post("owner", 4, PostKind.DELETE, refs=(pl.post_id,), post_id=poll_rng(16))
    run_view("thread_view_poll_deleted", [plj, v1, v2, pdj],
             "its author deletes the poll: a tombstone without options or votes",
             accept=["TV-3", "TV-5"], reject=[])

    # --- pins (§6.7, TV-6) ------------------------------------------------------------
    pin_rng = seeded_random("vault/vectors/post-rules-pins")
    g1, g1j = post("owner", 1, text="Group agreements", post_id=pin_rng(16), log_seq=9)
    g2, g2j = post("member", 1, text="Useful numbers", post_id=pin_rng(16), log_seq=9)
    gr, grj = post("member", 2, PostKind.REACTION, refs=(g1.post_id,), text="+1",
                   post_id=pin_rng(16))

    def pin(author: str, seq: int, target: bytes, **extra: Any) -> tuple[PostBody, Json]:
        return post(author, seq, PostKind.PIN, refs=(target,), post_id=pin_rng(16), **extra)

    k1, k1j = pin("admin", 1, g1.post_id)
    _k2, k2j = pin("member", 3, g2.post_id)
    _k3, k3j = pin("joiner", 1, g2.post_id, log_seq=10)
    _k4, k4j = pin("admin", 2, gr.post_id)
    _k5, k5j = pin("owner", 2, g1.post_id)
    _k6, k6j = pin("admin", 3, pin_rng(16))
    _k7, k7j = pin("joiner", 2, g1.post_id, log_seq=5)
    _kd, kdj = post("owner", 3, PostKind.DELETE, refs=(k1.post_id,), post_id=pin_rng(16))
    _k8, k8j = pin("admin", 4, g2.post_id, expires=t + 3_000_000)
    run_view("thread_view_pins", [g1j, g2j, grj, k1j, k2j, k3j, k4j, k5j, k6j, k7j, kdj, k8j],
             "the admin pins the owner's post and the owner unpins it (a delete of the pin): "
             "the owner's own later pin is then the one in force; the joiner's pin at entry "
             "10 (a moderator then, gone since) applies; a member's pin, a pin of a "
             "reaction, a pin of a post not received, a pin written at entry 5 of a "
             "post written at entry 9 (backdated) and a pin with an expiry of its own (its "
             "post has none) are ignored",
             accept=["TV-6", "TV-3"], reject=["TV-6"])

    # --- channels (§6.10, TV-7) -------------------------------------------------------------
    ch_rng = seeded_random("vault/vectors/post-rules-channels")
    news = bytes((ChannelKind.ANNOUNCEMENTS,)) + ch_rng(15)
    talk = bytes((ChannelKind.DISCUSSION,)) + ch_rng(15)
    c1, c1j = post("owner", 1, text="We meet on Thursday this week", post_id=ch_rng(16),
                   channel=news)
    _c2, c2j = post("member", 1, text="Can I post here?", post_id=ch_rng(16), channel=news)
    _c3, c3j = post("member", 2, PostKind.REPLY, refs=(c1.post_id,), text="Thanks",
                    post_id=ch_rng(16), channel=news)
    c4, c4j = post("admin", 1, PostKind.REPLY, refs=(c1.post_id,), text="Room 4",
                   post_id=ch_rng(16), channel=news)
    _c5, c5j = post("member", 3, PostKind.REACTION, refs=(c1.post_id,), text="+1",
                    post_id=ch_rng(16))
    _c6, c6j = post("joiner", 1, PostKind.POLL, text="Which room?", options=("3", "4"),
                    post_id=ch_rng(16), log_seq=10, channel=news)
    c7, c7j = post("member", 4, text="Anyone around tonight?", post_id=ch_rng(16),
                   channel=talk)
    _c8, c8j = post("member", 5, PostKind.REPLY, refs=(c4.post_id,), text="Which floor?",
                    post_id=ch_rng(16), channel=news)
    _c9, c9j = post("owner", 2, PostKind.REPLY, refs=(c7.post_id,), text="I am",
                    post_id=ch_rng(16))
    run_view("thread_view_channels", [c1j, c2j, c3j, c4j, c5j, c6j, c7j, c8j, c9j],
             "an announcements channel: the owner's post, the admin's reply and the "
             "member's reaction apply; the joiner's poll at entry 10 (a moderator then) is "
             "shown; the member's post there and their replies there are not shown; the "
             "member's post in a discussion channel is, and the owner's reply to it that "
             "names no channel (the main one) is not: a reply is in its target's channel",
             accept=["TV-7", "PB-3", "CHAN-1"], reject=["TV-7"])
    return vectors


def world_unknown_envelope(world: World, base: PostBody) -> PostEnvelope:
    """The welcome post rewritten at log entry 20, beyond the full log (an unknown head)."""
    body = replace(base, log_seq=20, post_id=bytes(range(16)))
    return craft_envelope(world.people["owner"], body.encode(), world.epoch_keys[2],
                          bytes(range(24)), group_id=world.group_id, epoch=2,
                          post_id=body.post_id, log_seq=20, log_head=base.log_head,
                          expires_at_ms=None)


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
    ch_rng = seeded_random("vault/vectors/metadata-channels")
    channels = (Channel(bytes((ChannelKind.ANNOUNCEMENTS,)) + ch_rng(15), "Announcements"),
                Channel(bytes((ChannelKind.DISCUSSION,)) + ch_rng(15), "Caf\u00e9 talk"))
    with_channels = GroupMetadata(later.name, later.description, later.rules, channels)
    vectors.append(vec("group_metadata_channels", "group_metadata",
                       {"name": with_channels.name, "description": with_channels.description,
                        "rules": with_channels.rules,
                        "channels": [{"channel_id": c.channel_id.hex(), "name": c.name}
                                     for c in channels]},
                       {"encoded": with_channels.encode().hex()},
                       "two channels after the rules, in the order members see them: an "
                       "announcements channel (kind 2) and a discussion (kind 1)"))
    plain = later.encode()
    listed = with_channels.encode()
    first = 4 + 16 + 4 + len(b"Announcements")
    for name, data, code, description in (
        ("reject_group_metadata_empty_channel_list", plain + bytes(4), "malformed",
         "a channel count of 0: a group without channels has no list at all"),
        ("reject_group_metadata_channel_kind_0", plain + listed[len(plain):][:4] + bytes(16)
         + listed[len(plain) + 20:len(plain) + first], "malformed",
         "a channel id whose kind byte is 0"),
        ("reject_group_metadata_channel_listed_twice",
         plain + bytes.fromhex("00000002") + listed[len(plain) + 4:len(plain) + first] * 2,
         "metadata_invalid", "the same channel listed twice"),
    ):
        vectors.append(vec(name, "decode_group_metadata", {"data": data.hex()},
                           error_of(code, lambda d=data: GroupMetadata.decode(d)),
                           description))
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
    accepted = labelled_hash(labels.RULES_REF, b"an example METADATA entry")
    with_rules = MemberProfile(PROFILE_0.display_name, accepted)
    vectors.append(vec("member_profile_accepted_rules", "member_profile",
                       {"display_name": PROFILE_0.display_name, "accepted_rules": accepted.hex()},
                       {"encoded": with_rules.encode().hex()},
                       "the rules ref the member accepted, after the name"))
    vectors.append(vec("reject_member_profile_short_accepted_rules", "decode_member_profile",
                       {"data": with_rules.encode()[:-1].hex()},
                       error_of("malformed", lambda: MemberProfile.decode(
                           with_rules.encode()[:-1])),
                       "31 bytes after the name: accepted rules are 32 bytes or absent"))
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

    # Names (§7.1): code points only, the same on every Unicode version.
    for name, display_name, description in (
        ("member_profile_keycap", "1\ufe0f\u20e3 club",
         "a keycap sequence: U+FE0F after ASCII '1' is allowed because U+20E3 follows it"),
        ("member_profile_copyright_emoji", "\u00a9\ufe0f studio", "U+00A9 U+FE0F"),
        ("member_profile_skin_tone_sequence", "\U0001f469\U0001f3fd\u200d\U0001f4bb",
         "woman, skin tone, U+200D, laptop"),
        ("member_profile_devanagari_joiner", "\u0915\u094d\u200d\u0937\u092e\u093e",
         "Devanagari with U+200D after a virama (half form): a joiner between two visible "
         "non-ASCII characters"),
        ("member_profile_new_format_character", "Ra \U00013439",
         "U+13439, unassigned in Unicode 14.0 and a format character (Cf) since 15.0: "
         "allowed, because the refused list is frozen"),
    ):
        vectors.append(vec(name, "member_profile", {"display_name": display_name},
                           {"encoded": MemberProfile(display_name).encode().hex()},
                           description, accept=["NAME-1", "NAME-2", "NAME-3", "MD-1"]))
    for name, display_name, rule, description in (
        ("reject_name_next_line", "Mia\u0085", "NAME-1", "U+0085 NEXT LINE (Cc)"),
        ("reject_name_soft_hyphen", "Mi\u00ada", "NAME-1", "U+00AD SOFT HYPHEN"),
        ("reject_name_arabic_letter_mark", "\u0645\u064a\u0627\u061c", "NAME-1",
         "U+061C ARABIC LETTER MARK"),
        ("reject_name_mongolian_vowel_separator", "Mia\u180e", "NAME-1",
         "U+180E (a space before Unicode 6.3, a format character since)"),
        ("reject_name_isolate", "\u2066Mia", "NAME-1", "U+2066 LEFT-TO-RIGHT ISOLATE"),
        ("reject_name_byte_order_mark", "\ufeffMia", "NAME-1",
         "a leading U+FEFF: decoded as a character (never stripped), and refused"),
        ("reject_name_tag_character", "Mia\U000e0001", "NAME-1", "U+E0001 LANGUAGE TAG"),
        ("reject_name_musical_format", "Mia\U0001d173", "NAME-1",
         "U+1D173 MUSICAL SYMBOL BEGIN BEAM"),
        ("reject_name_delete_control", "Mia\x7f", "NAME-1", "U+007F in an ASCII name"),
        ("reject_name_tab", "Mia\tS", "NAME-1", "a tab in an ASCII name"),
        ("reject_name_joiner_in_ascii", "Ad\u200dmin", "NAME-2", "U+200D between ASCII letters"),
        ("reject_name_joiner_at_end", "\U0001f308\u200d", "NAME-2", "U+200D at the end"),
        ("reject_name_two_joiners", "\U0001f308\u200d\u200d\U0001f308", "NAME-2",
         "two U+200D in a row"),
        ("reject_name_selector_after_ascii", "A\ufe0f", "NAME-2", "U+FE0F after 'A' only"),
        ("reject_name_selector_alone", "\ufe0f", "NAME-2", "U+FE0F alone"),
    ):
        data = raw_seal(Writer(Tag.MEMBER_PROFILE).text(display_name).finish(), member_pk)
        vectors.append(vec(
            name, "open_metadata",
            {"envelope": data.hex(), "epoch_key": k0.hex(), "group_id": gid.hex(), "epoch": 0,
             "subject": member_pk.hex()},
            error_of("metadata_invalid", lambda d=data: open_metadata(d, k0, gid, 0,
                                                                      member_pk)),
            "a display name with " + description, reject=[rule, "MO-5"]))
    bad_pad = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        PROFILE_0.encode() + bytes(256 - ENVELOPE_OVERHEAD - len(PROFILE_0.encode())),
        bytes((Tag.METADATA_ENVELOPE, 1)) + gid + bytes(8) + member_pk, bytes(24),
        metadata_key(k0, gid, 0))
    bad_pad_env = Writer(Tag.METADATA_ENVELOPE).fixed(bytes(24), 24).var(bad_pad).finish()
    vectors.append(vec(
        "reject_metadata_bad_padding", "open_metadata",
        {"envelope": bad_pad_env.hex(), "epoch_key": k0.hex(), "group_id": gid.hex(),
         "epoch": 0, "subject": member_pk.hex()},
        error_of("decryption_failed", lambda: open_metadata(bad_pad_env, k0, gid, 0, member_pk)),
        "a profile followed by zeros without the 0x80 marker", reject=["MO-3"]))
    vectors.append(vec("member_profile_long_until_nfc", "member_profile",
                       {"display_name": "e\u0301" * 22 + "x"},
                       {"encoded": MemberProfile("e\u0301" * 22 + "x").encode().hex()},
                       "67 UTF-8 bytes as given, 45 once NFC-normalised: the limit is on NFC",
                       accept=["MD-1"]))
    for name, display_name, description in (
        ("reject_display_name_65_bytes", "\u00e9" * 32 + "x", "a display name of 65 UTF-8 bytes"),
        ("reject_display_name_long_in_nfc", "x" + "\u0344" * 30,
         "61 UTF-8 bytes as given, 121 once NFC-normalised (U+0344 becomes U+0308 U+0301)"),
    ):
        vectors.append(vec(name, "member_profile", {"display_name": display_name},
                           error_of("too_large", lambda n=display_name: MemberProfile(n)),
                           description, reject=["MD-1"]))
    for name, data, code, description, reject in (
        ("reject_decode_name_not_nfc_and_bidi", Writer(Tag.MEMBER_PROFILE).text(
            "Jose\u0301\u202e").finish(), "malformed",
         "on its own, a display name both not NFC and holding U+202E: the NFC check comes "
         "first and is malformed", ["DEC-7", "NAME-3"]),
        ("reject_decode_name_bidi", Writer(Tag.MEMBER_PROFILE).text("Mia\u202e").finish(),
         "metadata_invalid", "on its own, a display name holding U+202E", ["DEC-7", "NAME-1"]),
    ):
        vectors.append(vec(name, "decode_member_profile", {"data": data.hex()},
                           error_of(code, lambda d=data: MemberProfile.decode(d)), description,
                           reject=reject))
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
                           uri_error(lambda text=text: parse_invite_uri(text)), description))
    vectors.extend(invite_uri_rule_vectors(good))
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
        ("reject_request_bad_signature_and_trailing_byte", flip(raw, -1) + b"\x00",
         "malformed", "the signature flipped and one extra byte: structure first"),
        ("reject_request_bad_binding_and_trailing_byte", flip(raw, 179) + b"\x00",
         "malformed", "the joiner's binding signature flipped and one extra byte: structure "
         "first"),
        ("reject_request_joiner_header", raw[:50] + bytes((Tag.PRIVATE_IDENTITY,)) + raw[51:],
         "malformed", "the nested joiner identity carries the private identity's tag"),
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
    vectors.extend(rules_card_vectors(world))
    vectors.extend(inbox_vectors(world))
    return doc("invites", "Invite ids and secrets, invite key pairs, invite URIs (QR codes), "
               "join proofs, signed join requests, rules cards and rules acceptances, and the "
               "moderators' inbox.", vectors)


def raw_inbox_message(gid: bytes, item_id: bytes, sender: bytes, log_seq: int, log_head: bytes,
                      kind: int, *, thread: bytes | None = None, post: bytes | None = None,
                      subject: bytes | None = None, to: bytes | None = None, outcome: int = 0,
                      text: str = "", digest: bytes) -> bytes:
    """An InboxMessage's bytes with any fields, no rule checked (§8.8)."""
    return (Writer(Tag.INBOX_MESSAGE).fixed(gid, 32).fixed(item_id, 16).fixed(sender, 32)
            .u64(log_seq).fixed(log_head, 32).u64(T0_INBOX).u8(kind).opt_fixed(thread, 16)
            .opt_fixed(post, 16).opt_fixed(subject, 32).opt_fixed(to, 32).u8(outcome)
            .text(text).fixed(digest, 32).finish())


T0_INBOX = 1_760_000_000_000


def inbox_envelope(sender: Identity, signed: bytes, recipients: Sequence[PublicIdentity], *,
                   gid: bytes, item_id: bytes, log_seq: int, rng: RandomSource) -> bytes:
    """An InboxEnvelope of *signed* (signed here by *sender*), sealed to *recipients* with
    pinned ephemeral keys (crypto_box_seal draws its own: see seal_with_ephemeral)."""
    key, nonce = rng(32), rng(24)
    sealed = tuple(sorted((r.sign_pk, seal_with_ephemeral(key, r.box_pk, rng(32)))
                          for r in recipients))
    shell = InboxEnvelope(gid, item_id, log_seq, sealed, nonce, b"")
    signature = sign(sender.sign_sk, labels.INBOX_MESSAGE, signed)
    return replace(shell, ciphertext=aead_seal(key, nonce, pad(signed + signature),
                                               shell.header())).encode()


def inbox_vectors(world: World) -> list[Json]:
    """The moderators' inbox (§8.8): a report opened by an admin, and one refusal for each
    rule, each opened with the full log's state (owner and admin are its moderators)."""
    p, gid, state = world.people, world.group_id, world.state
    rng = seeded_random("vault/vectors/inbox")
    head_seq, head = state.seq, state.head
    post = rng(16)
    member, joiner, owner, admin = p["member"], p["joiner"], p["owner"], p["admin"]
    mods = [owner.public, admin.public]
    vectors: list[Json] = []

    def opened(name: str, reader: Identity, envelope: bytes, description: str,
               expected: Callable[[], Json] | str) -> None:
        inputs = {"state": STATE_REF, "reader_sign_seed": reader.sign_seed.hex(),
                  "reader_box_sk": reader.box_sk.hex(), "envelope": envelope.hex()}
        if isinstance(expected, str):
            result = error_of(expected, lambda: open_item(InboxEnvelope.decode(envelope),
                                                          reader, state))
        else:
            result = expected()
        vectors.append(vec(name, "open_inbox_item", inputs, result, description))

    def report(sender: Identity, recipients: Sequence[PublicIdentity], *, item_id: bytes,
               envelope_item: bytes | None = None, subject: bytes | None = None,
               log_head: bytes | None = None, kind: int = InboxKind.REPORT,
               outcome: int = 0, text: str = "Unkind words about a member") -> bytes:
        keys = [r.sign_pk for r in recipients]
        signed = raw_inbox_message(
            gid, item_id, sender.sign_pk, head_seq, head if log_head is None else log_head,
            kind, post=post if kind == InboxKind.REPORT else None,
            thread=None if kind == InboxKind.REPORT else b"\x01" * 16,
            subject=joiner.sign_pk if subject is None else subject, outcome=outcome,
            text=text, digest=recipients_digest(keys))
        return inbox_envelope(sender, signed, recipients, gid=gid,
                              item_id=item_id if envelope_item is None else envelope_item,
                              log_seq=head_seq, rng=rng)

    good = report(member, [*mods, member.public], item_id=rng(16))

    def fields() -> Json:
        message = open_item(InboxEnvelope.decode(good), admin, state).message
        return {"kind": int(message.kind), "sender": message.sender.hex(),
                "item_id": message.item_id.hex(), "post": h(message.post),
                "subject": h(message.subject), "to": h(message.to), "thread": h(message.thread),
                "outcome": int(message.outcome), "text": message.text,
                "recipients_digest": message.recipients_digest.hex()}

    opened("inbox_report", admin, good, "a member's report of a former member's post, sealed "
           "to the owner and the admin (the moderators at the log's head) and the member, "
           "opened by the admin", fields)
    opened("reject_inbox_not_for_you", joiner, good, "the same report, read by the former "
           "member it is about: not a recipient", "inbox_not_for_you")
    parsed = InboxEnvelope.decode(good)
    swapped = dict(parsed.recipients)
    swapped[admin.sign_pk] = swapped[owner.sign_pk]
    keyless = replace(parsed, recipients=tuple(sorted(swapped.items()))).encode()
    opened("reject_inbox_sealed_key", admin, keyless, "the admin's sealed key replaced by the "
           "owner's (a relay's edit: the header is the associated data too)", "inbox_invalid")
    moved = report(member, [*mods, member.public], item_id=rng(16), envelope_item=rng(16))
    opened("reject_inbox_moved", admin, moved, "the message names another item id than its "
           "envelope", "inbox_invalid")
    own = report(member, [*mods], item_id=rng(16), subject=member.sign_pk)
    opened("reject_inbox_own_post", admin, own, "a member reports their own post",
           "inbox_invalid")
    unknown = report(member, [*mods, member.public], item_id=rng(16), log_head=rng(32))
    opened("reject_inbox_unknown_head", admin, unknown, "written against another log head "
           "at the same position", "inbox_invalid")
    by_member = report(member, [*mods, member.public], item_id=rng(16),
                       kind=InboxKind.RESOLUTION, outcome=Outcome.DISMISSED, text="")
    opened("reject_inbox_resolution_by_member", admin, by_member, "a member (not a moderator) "
           "records a resolution", "inbox_invalid")
    shared = report(member, [*mods, member.public, p["approved"].public], item_id=rng(16))
    opened("reject_inbox_shared_with_non_moderator", admin, shared, "a report also sealed to "
           "a former member who was never a moderator", "inbox_invalid")
    hidden = report(member, [admin.public, member.public], item_id=rng(16))
    opened("reject_inbox_hidden_from_a_moderator", admin, hidden, "a report that leaves the "
           "owner (a moderator) out", "inbox_invalid")
    unsorted = good[:58] + struct.pack(">I", 0) + good[62:]
    vectors.append(vec("reject_inbox_no_recipients", "decode_inbox_envelope",
                       {"data": unsorted.hex()},
                       error_of("malformed", lambda: InboxEnvelope.decode(unsorted)),
                       "a recipient count of 0"))
    return vectors


def rules_card_vectors(world: World) -> list[Json]:
    """An admin's rules card for the approval invite, sealed with the invite's secret, and a
    joiner's signed acceptance (§8.7); the card checked against the full log's state."""
    gid, p, state = world.group_id, world.people, world.state
    inv, other = world.invites["approval"], world.invites["open"]
    rng = seeded_random("vault/vectors/rules-card")
    nonce, forged_nonce = rng(24), rng(24)
    signed_at = state.timestamp_ms + MINUTE
    ref = rules_ref(state)
    assert state.group_metadata is not None
    meta_epoch = state.group_metadata.epoch
    epoch_key = world.epoch_keys[meta_epoch]
    card = make_rules_card(p["admin"], state, inv.invite_id, GROUP_METADATA_0, epoch_key,
                           now_ms=signed_at)
    scripted = Scripted(nonce)
    envelope = seal_rules_card(card, inv.secret, random=scripted)
    scripted.done()
    assert state.group_metadata is not None
    vectors = [vec("rules_card", "rules_card",
                   {"state": STATE_REF, "signer_sign_seed": p["admin"].sign_seed.hex(),
                    "invite_id": inv.invite_id.hex(), "secret": inv.secret.hex(),
                    "name": GROUP_METADATA_0.name, "description": GROUP_METADATA_0.description,
                    "rules": GROUP_METADATA_0.rules, "signed_at_ms": signed_at,
                    "epoch_key": epoch_key.hex(), "nonce": nonce.hex()},
                   {"rules_ref_input": (gid + state.group_metadata.epoch.to_bytes(8, "big")
                                        + state.group_metadata.ciphertext).hex(),
                    "rules_ref": ref.hex(), "card_key": card_key(inv.secret).hex(),
                    "digest_key": digest_key(epoch_key, gid, meta_epoch).hex(),
                    "card": card.raw.hex(),
                    "signature_input": signature_input(labels.RULES_CARD, card.raw[:-64]),
                    "envelope": envelope.hex()},
                   "the metadata in force, as the admin attests it for one invite")]

    def reseal(other_card: RulesCard | bytes, secret: bytes, *,
               invite_id: bytes | None = None) -> bytes:
        raw = other_card if isinstance(other_card, bytes) else other_card.raw
        ad_invite = raw[34:50] if invite_id is None else invite_id
        total = bucket_size(len(raw) + 46)
        sealed = aead_seal(card_key(secret), forged_nonce, pad_to(raw, total - 46),
                           bytes((Tag.CARD_ENVELOPE, 1)) + gid + ad_invite)
        return Writer(Tag.CARD_ENVELOPE).fixed(forged_nonce, 24).var(sealed).finish()

    member_card = make_rules_card(p["member"], state, inv.invite_id, GROUP_METADATA_0,
                                  epoch_key, now_ms=signed_at)
    # An admin's card naming other metadata (as one written before the entry in force).
    stale = card.raw[:50] + NO_RULES + card.raw[82:-64]
    stale += sign(p["admin"].sign_sk, labels.RULES_CARD, stale)
    other_invites = make_rules_card(p["admin"], state, other.invite_id, GROUP_METADATA_0,
                                    epoch_key, now_ms=signed_at)
    for name, data, code, description in (
        ("reject_card_not_a_bucket", envelope[:-1], "malformed",
         "the envelope one byte short (CARD-1: a shape the relay can check)"),
        ("reject_card_flipped", flip(envelope, -1), "rules_card_invalid",
         "the last ciphertext byte flipped: it does not open"),
        ("reject_card_of_another_invite", reseal(other_invites, other.secret), "rules_card_invalid",
         "the open invite's card, served for the approval invite: it does not open with this "
         "invite's secret"),
        ("reject_card_claims_another_invite",
         reseal(other_invites, inv.secret, invite_id=inv.invite_id), "rules_card_invalid",
         "sealed with this invite's secret (an insider holding the QR code) but naming "
         "another invite"),
        ("reject_card_bad_signature", reseal(flip(card.raw, -1), inv.secret),
         "rules_card_invalid", "sealed with this invite's secret, the admin's signature flipped"),
        ("reject_card_not_by_an_admin", reseal(member_card, inv.secret), "rules_card_invalid",
         "signed by a member who is not an admin"),
        ("reject_card_stale", reseal(stale, inv.secret), "rules_card_stale",
         "an admin's card for an earlier METADATA entry"),
    ):
        vectors.append(vec(name, "open_rules_card",
                           {"state": STATE_REF, "data": data.hex(), "secret": inv.secret.hex(),
                            "invite_id": inv.invite_id.hex()},
                           error_of(code, lambda data=data: check_rules_card(
                               open_rules_card(data, inv.secret, gid, inv.invite_id), state)),
                           description))
    forged = bytearray(reseal(card, inv.secret))
    assert forged != envelope
    vectors.append(vec("open_rules_card", "open_rules_card",
                       {"state": STATE_REF, "data": bytes(forged).hex(),
                        "secret": inv.secret.hex(), "invite_id": inv.invite_id.hex()},
                       {"card": card.raw.hex(), "name": GROUP_METADATA_0.name},
                       "the same card sealed with another nonce opens to the same card"))
    joiner = p["approved"]
    acceptance = accept_rules(joiner, gid, ref, GROUP_METADATA_0.rules, card.digest_key,
                              now_ms=signed_at + MINUTE)
    vectors.append(vec("rules_acceptance", "rules_acceptance",
                       {"member_sign_seed": joiner.sign_seed.hex(), "group_id": gid.hex(),
                        "rules_ref": ref.hex(), "rules": GROUP_METADATA_0.rules,
                        "digest_key": card.digest_key.hex(),
                        "accepted_at_ms": signed_at + MINUTE},
                       {"rules_digest": rules_digest(card.digest_key,
                                                     GROUP_METADATA_0.rules).hex(),
                        "signature_input": signature_input(labels.RULES_ACCEPTANCE,
                                                           acceptance.raw[:-64]),
                        "acceptance": acceptance.raw.hex()}))
    for name, data, code, description in (
        ("reject_acceptance_flipped_ref", flip(acceptance.raw, 66), "bad_signature",
         "the accepted rules ref changed"),
        ("reject_acceptance_truncated", acceptance.raw[:-1], "malformed", "one byte short"),
    ):
        vectors.append(vec(name, "decode_rules_acceptance", {"data": data.hex()},
                           error_of(code, lambda data=data: RulesAcceptance.decode(data)),
                           description))
    return vectors


URI_REASONS: Final = ("NOT_AN_INVITE", "INCOMPLETE", "DAMAGED", "NEWER", "TOO_LONG",
                      "INSECURE", "USERINFO", "BAD_SERVER")


def uri_error(action: Callable[[], object]) -> Json:
    """``invite_uri_invalid`` with the name of the message it carries (§8.2)."""
    try:
        action()
    except VaultError as exc:
        assert exc.code == "invite_uri_invalid", exc
        (reason,) = (r for r in URI_REASONS if getattr(invites_module, r) == exc.message)
        return {"error": exc.code, "reason": reason}
    raise AssertionError("expected invite_uri_invalid, but nothing was raised")


def invite_uri_rule_vectors(good: str) -> list[Json]:
    """Trimming, the checks of §8.2 in order, and relay addresses (§8.1)."""
    vectors: list[Json] = []
    trim_set = invites_module.TRIMMED
    relay, fragment = good.split("/join#")
    link = parse_invite_uri(good)
    longest = InviteLink("https://relay.example.org/" + "p" * (MAX_RELAY_URL_LENGTH - 26),
                         link.group_id, link.invite_id, link.secret).to_uri()
    assert len(longest) == 2048
    for name, text, description, accept in (
        ("parse_with_every_trimmed_character", trim_set + good + trim_set[::-1],
         "all 26 trimmed characters (Unicode White_Space and U+FEFF) before and after",
         ["TRIM-1"]),
        ("parse_with_byte_order_mark", "\ufeff" + good + "\u0085",
         "a leading U+FEFF (which JavaScript's trim() removes and Python's strip() keeps) and "
         "a trailing U+0085 (which strip() removes and trim() keeps)", ["TRIM-1"]),
        ("parse_longest_uri", longest + "\u3000" * 3,
         "a URI of exactly 2,048 characters (its relay address has 1,929), then three "
         "U+3000 that are trimmed before the length is checked", ["TRIM-1", "URI-2"]),
    ):
        link = parse_invite_uri(text)
        vectors.append(vec(name, "parse_invite_uri", {"text": text},
                           {"relay_url": link.relay_url, "group_id": link.group_id.hex(),
                            "invite_id": link.invite_id.hex(), "secret": link.secret.hex()},
                           description, accept=accept))
    emoji_pad = "\U0001f600" * (2048 - len(good))
    negatives: list[tuple[str, str, str, list[str], list[str]]] = [
        ("reject_file_separator_not_trimmed", "\x1c" + good,
         "a leading U+001C (Python's strip() would remove it; it is not in the trim set)",
         ["TRIM-1", "URI-3"], []),
        ("reject_unit_separator_not_trimmed", good + "\x1f",
         "a trailing U+001F stays part of the secret", ["TRIM-1", "URI-11"], []),
        ("reject_zero_width_space_not_trimmed", "\u200b" + good, "a leading U+200B",
         ["TRIM-1", "URI-3"], []),
        ("reject_mongolian_vowel_separator_not_trimmed", good + "\u180e",
         "a trailing U+180E (white space before Unicode 6.3)", ["TRIM-1", "URI-11"], []),
        ("reject_only_white_space", " \ufeff\u3000\n", "nothing but trimmed characters",
         ["URI-1"], ["TRIM-1"]),
        ("reject_2049_code_points", good + "A" * (2049 - len(good)), "2,049 characters",
         ["URI-2"], ["URI-1"]),
        ("reject_2048_code_points_damaged", good + emoji_pad,
         "exactly 2,048 code points (astral emoji: more than 2,048 UTF-16 units and UTF-8 "
         "bytes): within the length limit, then the secret is too long", ["URI-11"],
         ["URI-2"]),
        ("reject_not_a_uri", "Meet us Tuesday", "plain text", ["URI-3"], []),
        ("reject_other_scheme", good.replace("https://", "vault://"), "scheme vault",
         ["URI-3"], []),
        ("reject_upper_case_join", good.replace("/join#", "/JOIN#"),
         "the path ends with /JOIN (the /join suffix is case-sensitive)", ["URI-4"], []),
        ("reject_join_with_slash", good.replace("/join#", "/join/#"), "the path ends with /join/",
         ["URI-4"], []),
        ("reject_empty_fragment", relay + "/join#", "an empty fragment", ["URI-5"], []),
        ("reject_version_max_newer", good.replace("#v1.", "#v999999999."),
         "fragment version v999999999 (the largest a newer version may have)", ["URI-6"], []),
        ("reject_version_ten_digits", good.replace("#v1.", "#v1000000000."),
         "fragment version v1000000000 (ten digits: not a version)", ["URI-6"], []),
        ("reject_version_upper_case", good.replace("#v1.", "#V1."), "fragment version V1",
         ["URI-6"], []),
        ("reject_version_leading_zero", good.replace("#v1.", "#v01."), "fragment version v01",
         ["URI-6"], []),
        ("reject_newer_version_with_query", good.replace("/join#v1.", "/join?x#v2."),
         "a query and version v2: the version is checked first", ["URI-6"], []),
        ("reject_double_slash_join", relay + "//join#" + fragment, "the relay part ends with /",
         ["URI-8"], []),
        ("reject_bad_relay_host", good.replace("relay.example.org", "relay_1.example.org"),
         "an underscore in the host", ["URI-9", "RELAY-6"], []),
        ("reject_three_fields", good.rsplit(".", 1)[0], "the secret field missing",
         ["URI-10"], []),
        ("reject_five_fields", good + ".AA", "a fifth field", ["URI-10"], []),
        ("reject_bad_server_and_three_fields", good.replace(
            "relay.example.org", "relay_1.example.org").rsplit(".", 1)[0],
         "a bad host and a missing field: the relay address is checked first", ["URI-9"], []),
        ("reject_group_id_standard_alphabet", relay + "/join#v1." + "+" + fragment[4:],
         "the group id's first character replaced by '+'", ["URI-11"], []),
    ]
    for name, text, description, reject, accept in negatives:
        vectors.append(vec(name, "parse_invite_uri", {"text": text},
                           uri_error(lambda text=text: parse_invite_uri(text)), description,
                           accept=accept, reject=reject))
    every = [f"RELAY-{i}" for i in range(1, 10)]
    long_ok = "https://relay.example.org/" + "p" * (MAX_RELAY_URL_LENGTH - 26)
    for name, url, description in (
        ("relay_upper_case_default_port_slash", "HTTPS://Relay.Example.ORG:443/vault/",
         "scheme and host lower-cased, default port and one trailing slash dropped"),
        ("relay_port_leading_zeros", "https://relay.example.org:0443",
         "port 0443 is 443, the default"),
        ("relay_port_and_path", "https://relay.example.org:8443/a/b/", "a port kept"),
        ("relay_ipv6_expanded", "https://[2001:0DB8:0:0:0:0:0:1]", "IPv6 rewritten (RFC 5952)"),
        ("relay_ipv6_tie", "https://[2001:db8:0:0:1:0:0:1]",
         "two runs of two zero groups: the first becomes ::"),
        ("relay_ipv4_mapped", "https://[::FFFF:127.0.0.1]:443",
         "an IPv4-mapped address, written in hex"),
        ("relay_ipv6_loopback_http", "http://[0:0:0:0:0:0:0:1]:8080", "::1 is loopback"),
        ("relay_localhost_http", "http://LOCALHOST", "localhost is loopback"),
        ("relay_ipv4_loopback_http", "http://127.1.2.3:80/", "127.0.0.0/8 is loopback"),
        ("relay_punycode_and_percent", "https://xn--bcher-kva.example/a%2fb/~x",
         "an IDN in punycode, percent-encoding kept as written"),
        ("relay_longest", long_ok, "exactly 1,929 characters"),
    ):
        vectors.append(vec(name, "normalize_relay_url", {"relay_url": url},
                           {"relay_url": normalize_relay_url(url)}, description, accept=every))
    for name, url, description, reject in (
        ("reject_relay_too_long", long_ok + "p", "1,930 characters", ["RELAY-1"]),
        ("reject_relay_non_ascii", "https://relay.example.org/\u00e9", "a non-ASCII character",
         ["RELAY-2"]),
        ("reject_relay_space", "https://relay.example.org/a b", "a space", ["RELAY-2"]),
        ("reject_relay_other_scheme", "ftp://relay.example.org", "scheme ftp", ["RELAY-3"]),
        ("reject_relay_no_scheme", "relay.example.org", "no scheme", ["RELAY-3"]),
        ("reject_relay_query", "https://relay.example.org/?x=1", "a query", ["RELAY-4"]),
        ("reject_relay_empty_query", "https://relay.example.org?", "an empty query",
         ["RELAY-4"]),
        ("reject_relay_fragment", "https://relay.example.org#top", "a fragment", ["RELAY-4"]),
        ("reject_relay_user", "https://user@relay.example.org", "a user name", ["RELAY-5"]),
        ("reject_relay_user_and_bad_host", "https://user:pw@relay_1", "a user name and "
         "password and a bad host: user info is checked first", ["RELAY-5"]),
        ("reject_relay_trailing_dot", "https://relay.example.org.", "a trailing dot in the host",
         ["RELAY-6"]),
        ("reject_relay_label_hyphen", "https://-relay.example.org", "a label starting with -",
         ["RELAY-6"]),
        ("reject_relay_ipv4_leading_zero", "https://127.0.0.01", "an IPv4 octet 01",
         ["RELAY-6"]),
        ("reject_relay_ipv4_short", "https://127.1", "two-part IPv4 shorthand", ["RELAY-6"]),
        ("reject_relay_hex_label", "https://relay.0x1f", "a last label 0x1f", ["RELAY-6"]),
        ("reject_relay_ipv6_zone", "https://[fe80::1%25eth0]", "an IPv6 zone id", ["RELAY-6"]),
        ("reject_relay_empty_host", "https:///vault", "no host", ["RELAY-6"]),
        ("reject_relay_empty_port", "https://relay.example.org:", "a colon without a port",
         ["RELAY-6"]),
        ("reject_relay_host_too_long", "https://" + ".".join(["a" * 63] * 4), "a host of 255 "
         "characters", ["RELAY-6"]),
        ("reject_relay_insecure", "http://relay.example.org", "plain http, not loopback",
         ["RELAY-7"]),
        ("reject_relay_mapped_loopback_http", "http://[::ffff:127.0.0.1]",
         "an IPv4-mapped loopback address is not loopback", ["RELAY-7"]),
        ("reject_relay_insecure_port_0", "http://relay.example.org:0",
         "plain http and port 0: http is checked first", ["RELAY-7"]),
        ("reject_relay_port_0", "https://relay.example.org:0", "port 0", ["RELAY-8"]),
        ("reject_relay_port_65536", "https://relay.example.org:65536", "port 65536",
         ["RELAY-8"]),
        ("reject_relay_dot_segment", "https://relay.example.org/a/../b", "a .. segment",
         ["RELAY-9"]),
        ("reject_relay_empty_segment", "https://relay.example.org/a//b", "an empty segment",
         ["RELAY-9"]),
        ("reject_relay_two_trailing_slashes", "https://relay.example.org//",
         "two trailing slashes (only one is dropped)", ["RELAY-9"]),
        ("reject_relay_bad_percent", "https://relay.example.org/a%zz", "% not followed by two "
         "hex digits", ["RELAY-9"]),
        ("reject_relay_bar", "https://relay.example.org/a|b", "a | in the path", ["RELAY-9"]),
    ):
        vectors.append(vec(name, "normalize_relay_url", {"relay_url": url},
                           uri_error(lambda url=url: normalize_relay_url(url)), description,
                           reject=reject))
    return vectors


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
    vectors.extend(keystore_rule_vectors(world, sealed, key, salt, rng, export_contents))
    vectors.extend(backup_vectors(world))
    return doc("keystore", "Keystore contents and a keystore file sealed with the real "
               "Argon2id parameters (t=3, m=65536 KiB, p=4) and a pinned salt and nonce; an "
               "identity export (the same file format with fixed entries); a backup and its "
               "recovery phrase (§3.5).", vectors)


def backup_vectors(world: World) -> list[Json]:
    """A backup (§3.5): the recovery phrase from its 16 bytes, typed phrases taken or refused
    (PHRASE-1 ... PHRASE-3), EpochKeys, a sealed backup, and opened contents accepted or
    refused (BACKUP-1 ... BACKUP-5)."""
    from vault.crypto import backup as B

    rng = seeded_random("vault/vectors/backup")
    vectors: list[Json] = []
    entropy = rng(16)
    phrase = B.new_recovery_phrase(Scripted(entropy))
    every_phrase = ["PHRASE-1", "PHRASE-2", "PHRASE-3"]
    vectors.append(vec("recovery_phrase", "recovery_phrase", {"entropy": entropy.hex()},
                       {"phrase": phrase}, "twelve BIP-39 English words from 16 random bytes",
                       accept=every_phrase))
    typed = "  " + phrase.upper().replace(" ", "\n", 2).replace(" ", "  ", 1) + "\t"
    vectors.append(vec("recovery_phrase_typed", "normal_phrase", {"typed": typed},
                       {"phrase": B.normal_phrase(typed)},
                       "capitals, line breaks, tabs and doubled spaces: the same phrase",
                       accept=every_phrase))
    full_width = "".join(chr(ord(c) + 0xFEE0) if "a" <= c <= "z" else "\u3000" if c == " "
                         else c for c in phrase)
    vectors.append(vec("recovery_phrase_full_width", "normal_phrase", {"typed": full_width},
                       {"phrase": B.normal_phrase(full_width)},
                       "typed with full-width letters and ideographic spaces (U+3000), as "
                       "some keyboards do: NFKD makes them the same phrase",
                       accept=every_phrase))
    words = phrase.split()
    wrong_word = " ".join([*words[:5], words[5] + "s", *words[6:]])
    from mnemonic import Mnemonic

    wordlist = Mnemonic("english")
    bad_sum = next(c for w in wordlist.wordlist if w != words[-1]
                   if not wordlist.check(c := " ".join([*words[:-1], w])))
    for name, text, description, rule in (
        ("reject_phrase_eleven_words", " ".join(words[:-1]), "eleven words", "PHRASE-1"),
        ("reject_phrase_unknown_word", wrong_word, "word 6 with an s added", "PHRASE-2"),
        ("reject_phrase_checksum", bad_sum, "the last word changed: the checksum fails",
         "PHRASE-3"),
    ):
        vectors.append(vec(name, "normal_phrase", {"typed": text},
                           error_of("recovery_phrase_invalid",
                                    lambda t=text: B.normal_phrase(t)),
                           description, reject=[rule]))
    keys = [(0, rng(32)), (2, rng(32))]
    vectors.append(vec("epoch_keys", "epoch_keys", {"keys": [[e, k.hex()] for e, k in keys]},
                       {"chunk": B.encode_epoch_keys(keys).hex()}, accept=["BACKUP-4"]))
    member, gid, state = world.people["member"], world.group_id, world.state
    marks = {world.people["owner"].sign_pk: 3}
    group = B.BackedUpGroup(ExportedIdentity(member, gid, RELAY_URL, state.checkpoint(), marks),
                            dict(keys))
    backup = B.Backup(1_767_225_600_000, (group,))
    contents = B.backup_contents(backup)
    salt, nonce = rng(16), rng(24)
    scripted = Scripted(salt, nonce)
    sealed = B.seal_backup(backup, phrase, random=scripted)
    scripted.done()
    every = [f"BACKUP-{i}" for i in range(1, 6)]
    vectors.append(vec(
        "backup", "open_backup", {"keystore": sealed.hex(), "phrase": phrase},
        {"contents": contents.encode().hex(), **_backup_summary(B.read_backup(contents))},
        "one group's identity, checkpoint, post marks and two epoch keys, sealed under the "
        "phrase above (Argon2id t=3, m=65536 KiB, p=4; pinned salt and nonce)", accept=every))
    other_gid = bytes(reversed(gid))
    second = B.BackedUpGroup(ExportedIdentity(world.people["owner"], other_gid, RELAY_URL))
    two = B.backup_contents(B.Backup(7, (group, second)))

    def edited(base: KeystoreContents, name: str, secret: bytes | None) -> bytes:
        entries = [(n, v) for n, v in base.entries if n != name]
        if secret is not None:
            entries.append((name, secret))
        return KeystoreContents(tuple(entries)).encode()

    vectors.append(vec("read_backup_two_groups", "read_backup",
                       {"contents": two.encode().hex()},
                       _backup_summary(B.read_backup(two)),
                       "two groups; the second with no checkpoint, marks or keys",
                       accept=every))
    too_many = Writer(Tag.BACKUP_HEADER).u64(0).u32(B.MAX_BACKUP_GROUPS + 1).finish()
    backwards = B.encode_epoch_keys([(2, keys[1][1]), (0, keys[0][1])])
    for name, data, description, rule in (
        ("reject_backup_no_header", edited(contents, "vault/backup", None),
         "an identity export's entries under vault/backup/0/ but no vault/backup",
         "BACKUP-1"),
        ("reject_backup_header_short", edited(contents, "vault/backup", too_many[:-1]),
         "a header one byte short", "BACKUP-1"),
        ("reject_backup_too_many_groups", edited(contents, "vault/backup", too_many),
         "a header listing 1,001 groups", "BACKUP-2"),
        ("reject_backup_group_missing", edited(contents, "vault/backup/0/relay", None),
         "group 0 without its relay entry", "BACKUP-3"),
        ("reject_backup_keys_out_of_order",
         edited(contents, "vault/backup/0/epoch-keys/0", backwards),
         "epoch keys 2 then 0", "BACKUP-4"),
        ("reject_backup_keys_malformed",
         edited(contents, "vault/backup/0/epoch-keys/0", backwards[:-1]),
         "an epoch-keys chunk one byte short", "BACKUP-4"),
        ("reject_backup_group_twice", edited(two, "vault/backup/1/group", gid),
         "groups 0 and 1 with the same group id", "BACKUP-5"),
    ):
        vectors.append(vec(name, "read_backup", {"contents": data.hex()},
                           error_of("keystore_corrupt", lambda d=data: B.read_backup(
                               KeystoreContents.decode(d))), description, reject=[rule]))
    return vectors


def _backup_summary(backup: Any) -> Json:
    return {"made_at_ms": backup.made_at_ms, "groups": [
        {"identity": g.exported.identity.encode_private().hex(),
         "group_id": g.exported.group_id.hex(), "relay_url": g.exported.relay_url,
         "checkpoint": h(None if g.exported.checkpoint is None
                         else g.exported.checkpoint.encode()),
         "post_marks": [[a.hex(), m] for a, m in sorted(g.exported.post_marks.items())],
         "epoch_keys": [[e, k.hex()] for e, k in sorted(g.epoch_keys.items())]}
        for g in backup.groups]}


def keystore_rule_vectors(world: World, sealed: bytes, key: bytes, salt: bytes,
                          rng: RandomSource, export_contents: KeystoreContents) -> list[Json]:
    """The sealing and opening rules of §3.1 in order, KeystoreContents (§3.2) and imports
    (§3.3). Keystores whose contents a conforming client would never write are sealed
    here with the key of the ``seal`` vector (same passphrase and salt, a new nonce each),
    so checking them costs no further Argon2id run."""
    vectors: list[Json] = []
    params = {"time_cost": 3, "memory_kib": 65536, "parallelism": 4}

    def with_key(contents: bytes) -> bytes:
        nonce = rng(24)
        header = (Writer(Tag.KEYSTORE_FILE).u32(3).u32(65536).u32(4).fixed(salt, 16)
                  .fixed(nonce, 24).finish())
        ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
            contents, frame(labels.KEYSTORE) + header, nonce, key)
        return header + len(ciphertext).to_bytes(4, "big") + ciphertext

    def header_with(t: int, m: int, par: int) -> bytes:
        return (sealed[:2] + t.to_bytes(4, "big") + m.to_bytes(4, "big")
                + par.to_bytes(4, "big") + sealed[14:])

    for name, passphrase, prm, code, description, rule in (
        ("reject_seal_empty_passphrase", "", params, "keystore_passphrase_rejected",
         "an empty passphrase", "KS-SEAL-1"),
        ("reject_seal_two_passes", PASSPHRASE, {**params, "time_cost": 2},
         "keystore_weak_parameters", "time_cost 2", "KS-SEAL-2"),
        ("reject_seal_one_lane", PASSPHRASE, {**params, "parallelism": 1},
         "keystore_weak_parameters", "parallelism 1 (what libsodium's crypto_pwhash computes)",
         "KS-SEAL-2"),
    ):
        vectors.append(vec(
            name, "seal_keystore",
            {"entries": [], "passphrase": passphrase, "params": prm, "salt": salt.hex(),
             "nonce": bytes(24).hex()},
            error_of(code, lambda pw=passphrase, prm=prm: seal_keystore(
                KeystoreContents(), pw, params=KdfParams(**prm),
                random=Scripted(salt, bytes(24)))),
            description, reject=[rule]))
    bad_contents = with_key(bytes((Tag.KEYSTORE_CONTENTS, 1)) + (2).to_bytes(4, "big")
                            + (1).to_bytes(4, "big") + b"a" + (0).to_bytes(4, "big")
                            + (1).to_bytes(4, "big") + b"a" + (0).to_bytes(4, "big"))
    ct_15 = sealed[:54] + (15).to_bytes(4, "big") + bytes(15)
    for name, data, passphrase, code, description, reject in (
        ("reject_empty_file", b"", PASSPHRASE, "keystore_corrupt", "zero bytes", ["KS-1"]),
        ("reject_trailing_byte", sealed + b"\x00", PASSPHRASE, "keystore_corrupt",
         "one byte after the ciphertext", ["KS-4"]),
        ("reject_ciphertext_15_bytes", ct_15, PASSPHRASE, "keystore_corrupt",
         "a ciphertext of 15 bytes (shorter than the AEAD tag)", ["KS-5"]),
        ("reject_memory_above_ceiling", header_with(3, 4 * 1024 * 1024 + 1, 4), PASSPHRASE,
         "keystore_corrupt", "memory_kib 4,194,305", ["KS-6"]),
        ("reject_lanes_above_ceiling", header_with(3, 65536, 65), PASSPHRASE,
         "keystore_corrupt", "parallelism 65", ["KS-6"]),
        ("reject_two_passes", header_with(2, 65536, 4), PASSPHRASE, "keystore_weak_parameters",
         "time_cost 2", ["KS-7"]),
        ("reject_one_lane", header_with(3, 65536, 1), PASSPHRASE, "keystore_weak_parameters",
         "parallelism 1: a keystore libsodium's crypto_pwhash could open is refused",
         ["KS-7"]),
        ("reject_ceiling_before_minimum", header_with(1000, 32768, 4), PASSPHRASE,
         "keystore_corrupt", "time_cost 1000 (above the ceiling) and memory_kib 32768 (below "
         "the minimum): the ceilings are checked first", ["KS-6"]),
        ("reject_empty_passphrase", sealed, "", "keystore_wrong_passphrase",
         "an empty passphrase (refused before any key derivation)", ["KS-8"]),
        ("reject_contents_duplicate_names", bad_contents, PASSPHRASE, "keystore_corrupt",
         "a file that opens, whose contents name two entries \"a\"", ["KS-10", "KC-4"]),
    ):
        vectors.append(vec(name, "open_keystore", {"keystore": data.hex(),
                                                   "passphrase": passphrase},
                           error_of(code, lambda d=data, pw=passphrase: open_keystore(d, pw)),
                           description, reject=reject))

    # KeystoreContents on its own (§3.2).
    def contents(*entries: tuple[bytes, bytes], count: int | None = None) -> bytes:
        w = Writer(Tag.KEYSTORE_CONTENTS).u32(len(entries) if count is None else count)
        for name, secret in entries:
            w.var(name).var(secret)
        return w.finish()

    for name, entries in (
        ("contents_nfc_and_nfd_names", (("caf\u00e9", b"\x01"), ("cafe\u0301", b"\x02"))),
        ("contents_byte_order_mark_name", (("\ufeffdevice", b"\x01"), ("device", b"\x02"))),
    ):
        value = KeystoreContents(entries)
        vectors.append(vec(name, "keystore_contents",
                           {"entries": [{"name": n, "secret": x.hex()} for n, x in entries]},
                           {"encoded": value.encode().hex()},
                           "names are exact strings: no normalisation, a leading U+FEFF kept",
                           accept=["KC-1", "KC-2", "KC-3", "KC-4", "CODEC-6"]))
    for name, data, description, reject in (
        ("reject_contents_10001_entries", contents(count=10_001),
         "a count of 10,001", ["KC-1"]),
        ("reject_contents_empty_name", contents((b"", b"x")), "an empty name", ["KC-2"]),
        ("reject_contents_name_256_bytes", contents((b"n" * 256, b"x")),
         "a name of 256 bytes", ["KC-2", "CODEC-4"]),
        ("reject_contents_secret_too_long", bytes((Tag.KEYSTORE_CONTENTS, 1))
         + (1).to_bytes(4, "big") + (1).to_bytes(4, "big") + b"n" + (65_537).to_bytes(4, "big"),
         "a secret length of 65,537 (the bytes are not even there)", ["KC-3", "CODEC-4"]),
        ("reject_contents_duplicate_name", contents((b"n", b"1"), (b"n", b"2")),
         "the name \"n\" twice", ["KC-4"]),
        ("reject_contents_overlong_utf8", contents((b"\xc0\xaf", b"x")),
         "a name in the overlong form C0 AF", ["CODEC-6"]),
        ("reject_contents_surrogate", contents((b"\xed\xa0\x80", b"x")),
         "a name holding the surrogate U+D800 (ED A0 80)", ["CODEC-6"]),
        ("reject_contents_above_unicode", contents((b"\xf4\x90\x80\x80", b"x")),
         "a name holding F4 90 80 80 (above U+10FFFF)", ["CODEC-6"]),
        ("reject_contents_truncated_sequence", contents((b"a\xe2\x82", b"x")),
         "a name ending inside a three-byte sequence", ["CODEC-6"]),
        ("reject_contents_trailing_byte", contents((b"n", b"1")) + b"\x00", "one extra byte",
         ["CODEC-8"]),
    ):
        vectors.append(vec(name, "decode_keystore_contents", {"data": data.hex()},
                           error_of("malformed", lambda d=data: KeystoreContents.decode(d)),
                           description, reject=reject))

    # Imports (§3.3).
    member, gid, state = world.people["member"], world.group_id, world.state
    owner_pk = world.people["owner"].sign_pk
    admin_pk = world.people["admin"].sign_pk
    identity_entry = ("vault/identity", member.encode_private())
    group_entry = ("vault/group", gid)
    relay_entry = ("vault/relay", RELAY_URL.encode())
    chunk_owner = encode_post_marks([(owner_pk, 3)])
    chunk_admin = encode_post_marks([(admin_pk, 2)])
    first, second = sorted((owner_pk, admin_pk))

    def export_of(*entries: tuple[str, bytes]) -> bytes:
        return with_key(KeystoreContents(entries).encode())

    every = [f"EXP-{i}" for i in range(1, 8)]
    for name, data, description in (
        ("import_reordered_with_extra_entry", export_of(
            ("vault/relay", b"HTTPS://Relay.Example.ORG:443/"), group_entry,
            ("device-name", b"Mia's phone"), identity_entry),
         "entries in another order, an extra entry, and a non-canonical relay address: "
         "imported, the address normalised"),
        ("import_marks_stop_at_hole", export_of(
            identity_entry, group_entry, relay_entry, ("vault/post-marks/0", chunk_owner),
            ("vault/post-marks/2", chunk_admin)),
         "post marks in chunks 0 and 2: chunk 2 (after the hole at 1) is not read"),
    ):
        back = import_identity(data, PASSPHRASE)
        vectors.append(vec(name, "import_identity",
                           {"keystore": data.hex(), "passphrase": PASSPHRASE},
                           {"identity": back.identity.encode_private().hex(),
                            "group_id": back.group_id.hex(), "relay_url": back.relay_url,
                            "checkpoint": None if back.checkpoint is None
                            else back.checkpoint.encode().hex(),
                            "post_marks": [[a.hex(), m] for a, m in
                                           sorted(back.post_marks.items())]},
                           description, accept=every))
    other_cp = LogCheckpoint(bytes(32), state.seq, state.head).encode()
    for name, data, description, rule in (
        ("reject_import_without_relay", export_of(identity_entry, group_entry),
         "no vault/relay entry", "EXP-1"),
        ("reject_import_short_group_id", export_of(identity_entry, ("vault/group", gid[:31]),
                                                   relay_entry),
         "a group id of 31 bytes", "EXP-2"),
        ("reject_import_bad_identity", export_of(("vault/identity", member.encode_private()[:-1]),
                                                 group_entry, relay_entry),
         "a private identity one byte short", "EXP-3"),
        ("reject_import_relay_not_utf8", export_of(identity_entry, group_entry,
                                                   ("vault/relay", b"https://\xff")),
         "a relay address that is not UTF-8", "EXP-4"),
        ("reject_import_insecure_relay", export_of(identity_entry, group_entry,
                                                   ("vault/relay", b"http://relay.example.org")),
         "a plain-http relay address", "EXP-4"),
        ("reject_import_checkpoint_other_group", export_of(
            identity_entry, group_entry, relay_entry, ("vault/checkpoint", other_cp)),
         "a checkpoint of another group", "EXP-5"),
        ("reject_import_checkpoint_malformed", export_of(
            identity_entry, group_entry, relay_entry,
            ("vault/checkpoint", state.checkpoint().encode() + b"\x00")),
         "a checkpoint with a trailing byte", "EXP-5"),
        ("reject_import_marks_malformed", export_of(
            identity_entry, group_entry, relay_entry, ("vault/post-marks/0", chunk_owner[:-1])),
         "a post-marks chunk one byte short", "EXP-6"),
        ("reject_import_mark_zero", export_of(
            identity_entry, group_entry, relay_entry,
            ("vault/post-marks/0", chunk_owner[:-8] + bytes(8))), "a mark of 0", "EXP-6"),
        ("reject_import_marks_repeat_author", export_of(
            identity_entry, group_entry, relay_entry,
            ("vault/post-marks/0", encode_post_marks([(first, 1)])),
            ("vault/post-marks/1", encode_post_marks([(first, 2)]))),
         "chunks 0 and 1 both list the same author", "EXP-7"),
    ):
        vectors.append(vec(name, "import_identity", {"keystore": data.hex(),
                                                     "passphrase": PASSPHRASE},
                           error_of("keystore_corrupt", lambda d=data: import_identity(
                               d, PASSPHRASE)), description, reject=[rule]))
    del second, export_contents
    return vectors


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
    members = sorted(world.state.members)[:2]
    for name, muted in (("muted_members_two", members), ("muted_members_none", [])):
        encoded = encode_muted_members(muted)
        assert decode_muted_members(encoded) == frozenset(muted)
        vectors.append(vec(name, "muted_members", {"members": [m.hex() for m in muted]},
                           {"encoded": encoded.hex()}))
    two = encode_muted_members(members)
    header = two[:2]
    for name, data, description in (
        ("reject_muted_members_out_of_order", header + (2).to_bytes(4, "big")
         + members[1] + members[0], "two members, the greater first"),
        ("reject_muted_members_repeated", header + (2).to_bytes(4, "big") + members[0] * 2,
         "one member twice"),
        ("reject_muted_members_too_many", header + (1001).to_bytes(4, "big"),
         "a count of 1,001 (refused before any member is read)"),
        ("reject_muted_members_truncated", two[:-1], "one byte short"),
    ):
        vectors.append(vec(name, "muted_members", {"data": data.hex()},
                           error_of("malformed", lambda d=data: decode_muted_members(d)),
                           description))
    notice = DeletedGroup("Tuesday circle \u2014 caf\u00e9", "Ann (1a2b)", T0 + 14 * MINUTE, 2,
                          False)
    encoded = encode_deleted_group(notice)
    assert decode_deleted_group(encoded) == notice
    vectors.append(vec("deleted_group_two_unsent", "deleted_group",
                       {"name": notice.name, "deleted_by": notice.deleted_by,
                        "deleted_at_ms": notice.deleted_at_ms,
                        "unsent_posts": notice.unsent_posts, "by_me": notice.by_me},
                       {"encoded": encoded.hex()}))
    for name, data, description in (
        ("reject_deleted_group_truncated", encoded[:-1], "one byte short"),
        ("reject_deleted_group_trailing_byte", encoded + b"\x00", "one byte more"),
        ("reject_deleted_group_flag_2", encoded[:-1] + b"\x02", "by_me is 2"),
    ):
        vectors.append(vec(name, "deleted_group", {"data": data.hex()},
                           error_of("malformed", lambda d=data: decode_deleted_group(d)),
                           description))
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
    for name, parts in (
        ("record_id_group_epoch", [gid, 2]),
        ("record_id_group_post", [gid, opened.post_id]),
        ("record_id_none", []),
        ("record_id_ab_c", [b"ab", b"c"]),
        ("record_id_a_bc", [b"a", b"bc"]),
        ("record_id_zero", [0]),
    ):
        vectors.append(vec(name, "record_id",
                           {"parts": [{"u64": x} if isinstance(x, int) else {"bytes": x.hex()}
                                      for x in parts]},
                           {"record_id": record_id(*parts).hex()}))
    records = [
        ("record_epoch_key", "epoch-key", record_id(gid, 2), world.epoch_keys[2]),
        ("record_stored_post", "post", record_id(gid, opened.post_id), stored),
        ("record_empty", "settings", b"", b""),
    ]
    sealed_records: dict[str, bytes] = {}
    for name, kind, rid_, plaintext in records:
        nonce = rng(24)
        scripted = Scripted(nonce)
        record = seal_record(key, kind, rid_, plaintext, random=scripted)
        scripted.done()
        assert open_record(key, kind, rid_, record) == plaintext
        sealed_records[name] = record
        aad = Writer(Tag.LOCAL_RECORD).text(kind).var(rid_).finish()
        vectors.append(vec(name, "seal_record",
                           {"secret": secret.hex(), "kind": kind, "record_id": rid_.hex(),
                            "plaintext": plaintext.hex(), "nonce": nonce.hex()},
                           {"store_key": key.hex(), "aad": aad.hex(),
                            "ciphertext": record[2 + 24 + 4:].hex(), "record": record.hex()}))
    record = sealed_records["record_epoch_key"]
    rid_2 = record_id(gid, 2)
    other_secret = rng(32)
    for name, data, store_secret, kind, rid, code, description in (
        ("reject_record_other_kind", record, secret, "post", rid_2, "decryption_failed",
         "an epoch-key record opened as a post record"),
        ("reject_record_other_row", record, secret, "epoch-key", record_id(gid, 1),
         "decryption_failed", "epoch 2's key record opened as epoch 1's"),
        ("reject_record_other_store", record, other_secret, "epoch-key", rid_2,
         "decryption_failed", "opened with another store's secret"),
        ("reject_record_flipped_byte", flip(record, 40), secret, "epoch-key", rid_2,
         "decryption_failed", "one ciphertext byte flipped"),
        ("reject_record_wrong_tag", bytes((Tag.STORED_POST,)) + record[1:], secret, "epoch-key",
         rid_2, "malformed", "stored-post tag instead of local-record"),
        ("reject_record_trailing_byte", record + b"\x00", secret, "epoch-key", rid_2,
         "malformed", "one byte after the ciphertext"),
        ("reject_record_untagged_id", record, secret, "epoch-key", gid + (2).to_bytes(8, "big"),
         "decryption_failed", "the row named by the plain bytes group_id || u64(2) instead of "
         "record_id(group_id, 2)"),
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
    seq_0 = (Writer(Tag.STORED_POST).var(envelope.encode())
             .var(raw_post_body(opened.body, author_seq=0)).fixed(opened.signature, 64).finish())
    for name, op, data, code, decode, description in (
        ("reject_stored_post_mismatch", "stored_post", mixed, "post_invalid", decode_stored_post,
         "one post's envelope stored with another post's body"),
        ("reject_stored_post_body_rule", "stored_post", seq_0, "post_invalid",
         decode_stored_post, "a stored body with author_seq 0"),
        ("reject_stored_post_body_rule_and_trailing_byte", "stored_post", seq_0 + b"\x00",
         "malformed", decode_stored_post,
         "a stored body with author_seq 0 and one byte after the record: its own structure "
         "first"),
        ("reject_pending_join_bad_request_and_trailing_byte", "pending_join",
         flip(pending, -1) + b"\x00", "malformed", decode_pending_join,
         "the stored join request's signature altered and one extra byte: its own structure "
         "first"),
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


# --- rule annotations of the vectors built above ----------------------------------------
# Vectors built in loops above are annotated here by name: (accepted rules, rejected rules).
# Every rule identifier is defined in docs/protocol.md; the test and README.md's table check
# that every rule there has an accepting and a rejecting vector.

_CODEC_OK = ("CODEC-1", "CODEC-2", "CODEC-3", "CODEC-8")
_LE_OK = ("LE-1", "LE-2", "LE-3", "LE-4", "DEC-2")
_LE_ID_OK = (*_LE_OK, "LE-5")
_PER_KIND = (
    *(f"INVITE-{i}" for i in range(1, 5)), *(f"REVOKE-{i}" for i in range(1, 4)),
    *(f"JOIN-{i}" for i in range(1, 5)), *(f"ADD-{i}" for i in range(1, 7)),
    *(f"I{i}" for i in range(1, 7)), *(f"REMOVE-{i}" for i in range(1, 6)), "LEAVE-1",
    *(f"ROLE-{i}" for i in range(1, 8)), "ROTATE-1", "ROTATE-2", "META-1", "META-2", "META-3",
)
_GRANT_OK = tuple(f"GR-{i}" for i in range(1, 13))
_OPEN_OK = (*(f"OPEN-{i}" for i in range(1, 15)), *(f"POST-{i}" for i in range(1, 9)),
            "ENV-1", "DEC-4", "CODEC-5", "CODEC-6", "CODEC-7", "PAD-2", "PAD-3", "PAD-4")
_URI_OK = ("TRIM-1", *(f"URI-{i}" for i in range(1, 12)))
_RELAY_OK = tuple(f"RELAY-{i}" for i in range(1, 10))
_KS_OK = tuple(f"KS-{i}" for i in range(1, 11))
_NAMES_OK = ("NAME-1", "NAME-2", "NAME-3", "MD-1", "DEC-7")
_MO_OK = tuple(f"MO-{i}" for i in range(1, 6))


def _accepts(*rules: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return tuple(rules), ()


def _rejects(*rules: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return (), tuple(rules)


RULES.update({
    "primitives": {
        "sign_post_0": _accepts("SIG-1", "SIG-2"),
        "sign_relay-auth_100": _accepts("SIG-1", "SIG-2"),
        "reject_signature_under_other_label": _rejects("SIG-1"),
        "reject_signature_changed_message": _rejects("SIG-1"),
        "reject_signature_changed_signature": _rejects("SIG-1"),
        "reject_signature_without_label_frame": _rejects("SIG-1"),
        **{name: _accepts("B64-1", "B64-2", "B64-3", "B64-4")
           for name in ("b64_0_", "b64_1_00", "b64_2_fbff", "b64_3_fbff", "b64_32_d72e")},
        "reject_b64_padding": _rejects("B64-1"),
        "reject_b64_standard_alphabet": _rejects("B64-2"),
        "reject_b64_non_ascii": _rejects("B64-2"),
        "reject_b64_white_space": _rejects("B64-2"),
        "reject_b64_impossible_length": _rejects("B64-3"),
        "reject_b64_non_canonical": _rejects("B64-4"),
    },
    "identity": {
        **{name: _accepts("ID-1", "DEC-1", *_CODEC_OK)
           for name in ("owner", "admin", "joiner", "approved", "member", "outsider",
                        "newcomer")},
        "reject_flipped_binding_signature": _rejects("ID-1"),
        "reject_swapped_box_key": _rejects("ID-1"),
        "reject_flipped_sign_pk": _rejects("ID-1"),
        "reject_wrong_tag": _rejects("CODEC-1"),
        "reject_version_2": _rejects("CODEC-2"),
        "reject_truncated": _rejects("CODEC-3"),
        "reject_trailing_byte": _rejects("CODEC-8"),
        "reject_bad_binding_and_trailing_byte": _rejects("DEC-1", "CODEC-8"),
        "reject_private_truncated": _rejects("CODEC-3"),
        "reject_private_wrong_tag": _rejects("CODEC-1"),
    },
    "log": {
        **{f"entry_{seq:02d}_{kind}": _accepts(*(_LE_ID_OK if seq in (0, 2, 4, 5, 6)
                                                else _LE_OK))
           for seq, kind in ((0, "genesis"), (1, "invite"), (2, "join"), (3, "invite"),
                             (4, "add"), (5, "add"), (6, "add"), (7, "role"),
                             (8, "invite_revoke"), (9, "metadata"), (10, "metadata"),
                             (11, "remove"), (12, "leave"), (13, "rotate"))},
        "entry_14_add_rotate_after_full_log": _accepts(*_LE_ID_OK),
        "full_log": _accepts("G1", "G2", "G3", "G4", "G5", "C1", "C2", "C3", "C4", "C6",
                             "C7", *_PER_KIND, "VL-3", "VL-4"),
        "full_log_then_add_rotate": _accepts(*(f"ADD-ROTATE-{i}" for i in range(1, 8))),
        "entry_14_history_after_full_log": _accepts(*_LE_ID_OK),
        "full_log_then_history": _accepts("HIST-1"),
        "full_log_then_delete_group": _accepts("DEL-1", "DEL-2"),
        "reject_delete_group_by_admin": _rejects("DEL-1"),
        "reject_entry_after_delete_group": _rejects("DEL-2"),
        "deletion_after_head": _accepts("DEL-3"),
        "deletion_past_unseen_entries": _accepts("DEL-3"),
        "reject_deletion_by_admin_after_head": _rejects("DEL-3"),
        "reject_deletion_by_admin_past_unseen_entries": _rejects("DEL-3"),
        "reject_deletion_not_a_deletion": _rejects("DEL-3"),
        "reject_history_by_member": _rejects("HIST-1"),
        "reject_history_unknown_policy": _rejects("LE-4"),
        "reject_history_epoch_without_from_epoch": _rejects("LE-4"),
        "reject_checkpoint_trailing_byte": _rejects("CODEC-8"),
        "reject_flipped_body_byte": _rejects("LE-3"),
        "reject_flipped_signature": _rejects("LE-3"),
        "reject_flipped_timestamp": _rejects("LE-3"),
        "reject_trailing_byte": _rejects("LE-2", "CODEC-8"),
        "reject_truncated": _rejects("LE-2", "CODEC-3"),
        "reject_version_2": _rejects("LE-2", "CODEC-2"),
        "reject_unknown_kind": _rejects("LE-2", "CODEC-7"),
        "reject_wrong_prev_hash": _rejects("C3"),
        "reject_seq_gap": _rejects("C2"),
        "reject_timestamp_backwards": _rejects("C4"),
        "reject_member_creates_invite": _rejects("INVITE-1"),
        "reject_removed_member_writes": _rejects("C6"),
        "reject_metadata_for_an_old_epoch": _rejects("META-2"),
        "reject_readding_removed_key": _rejects("ADD-4"),
        "reject_join_through_revoked_invite": _rejects("I2", "JOIN-3"),
        "reject_join_through_expired_invite": _rejects("I4", "JOIN-3"),
        "reject_rotate_skipping_an_epoch": _rejects("ROTATE-2"),
        "reject_last_owner_leaves": _rejects("LEAVE-1"),
        "reject_second_genesis": _rejects("C7"),
        "reject_rollback": _rejects("VL-2"),
        "reject_fork": _rejects("VL-4"),
        "reject_other_group": _rejects("G1"),
    },
    "epochs": {
        **{name: _accepts(*_GRANT_OK, "EG-1")
           for name in ("grant_epoch_0_owner_to_joiner", "grant_epoch_1_owner_to_member",
                        "grant_epoch_2_admin_to_owner", "grant_epoch_2_admin_to_admin",
                        "grant_epoch_2_admin_to_member")},
        "reject_grant_opened_by_other_member": _rejects("GR-1"),
        "reject_relabelled_recipient": _rejects("GR-2"),
        "reject_flipped_sealed_byte": _rejects("GR-2"),
        "reject_relabelled_epoch": _rejects("GR-5"),
        "reject_granter_not_admin": _rejects("GR-10"),
        "reject_key_not_committed": _rejects("GR-12"),
        "reject_bad_grant_signature": _rejects("GR-11"),
        "reject_unknown_epoch": _rejects("GR-9"),
        "reject_sealed_for_other_box_key": _rejects("GR-6"),
        "reject_short_sealed": _rejects("EG-1"),
    },
    "padding": {
        **{f"bucket_{n}": _accepts("PAD-1") for n in (0, 1, 255, 256, 257, 511, 512, 1000,
                                                       4095, 4096, 32767, 32768, 65535)},
        "reject_bucket_65536": _rejects("PAD-1"),
        **{f"pad_{n}": _accepts("PAD-2", "PAD-3", "PAD-4") for n in (0, 5, 255, 256)},
        "reject_no_marker": _rejects("PAD-3"),
        "reject_all_zero": _rejects("PAD-3"),
        "reject_empty": _rejects("PAD-3"),
        "reject_nonzero_after_marker": _rejects("PAD-4"),
        "reject_longer_than_65536": _rejects("PAD-2"),
    },
    "attachments": {
        "padded_size_10485759": _accepts("ATT-1"),
        "reject_padded_size_10485760": _rejects("ATT-1"),
        **{name: _accepts("DA-1", "DA-2", "DA-3", "DA-4", "DA-5", "ATT-1", "ATT-2", "ATT-3")
           for name in ("attachment_31_text", "attachment_1024_application",
                        "attachment_0_image")},
        "reject_truncated_blob": _rejects("DA-1"),
        "reject_other_blob": _rejects("DA-1"),
        "reject_flipped_blob_byte": _rejects("DA-2"),
        "reject_wrong_key": _rejects("DA-3"),
        "reject_bad_padding": _rejects("DA-4"),
        "reject_size_misstated": _rejects("DA-5"),
    },
    "posts": {
        **{name: _accepts(*_OPEN_OK) for name in (
            "post_welcome", "reply_with_warning_and_expiry", "reaction", "edit", "delete",
            "post_in_epoch_0", "post_bucket_512", "poll", "vote", "pin")},
        "post_with_attachments": _accepts(*_OPEN_OK, "PB-1", "PB-2", "ATT-1", "ATT-2",
                                          "ATT-3"),
        "post_with_named_attachments": _accepts(*_OPEN_OK, "PB-1", "PB-2", "ATT-1", "ATT-2",
                                                "ATT-3"),
        "reject_wrong_epoch_key": _rejects("OPEN-2"),
        "reject_flipped_ciphertext_byte": _rejects("OPEN-2"),
        "reject_flipped_tag_byte": _rejects("OPEN-2"),
        "reject_relabelled_post_id": _rejects("OPEN-2"),
        "reject_relabelled_log_head": _rejects("OPEN-2"),
        "reject_added_expiry": _rejects("OPEN-2"),
        "reject_outsider_author": _rejects("OPEN-13"),
        "reject_removed_member_author": _rejects("OPEN-13"),
        "reject_signature_by_another_member": _rejects("OPEN-14"),
        "reject_envelope_body_mismatch": _rejects("OPEN-9"),
        "reject_unknown_log_head": _rejects("OPEN-10"),
        "reject_forked_log_head": _rejects("OPEN-11"),
        "reject_epoch_not_at_log_position": _rejects("OPEN-12"),
        "reject_envelope_not_a_bucket": _rejects("ENV-1"),
        "reject_envelope_trailing_byte": _rejects("CODEC-8"),
        "reject_envelope_wrong_tag": _rejects("CODEC-1"),
    },
    "metadata": {
        **{name: _accepts(*_NAMES_OK) for name in (
            "group_metadata_159", "group_metadata_238", "member_profile_20",
            "member_profile_12", "member_profile_nfc", "member_profile_emoji_sequence")},
        **{name: _accepts(*_MO_OK) for name in (
            "group_metadata_epoch_0", "member_profile_epoch_0", "group_metadata_epoch_2",
            "member_profile_epoch_2")},
        "reject_profile_under_other_subject": _rejects("MO-2"),
        "reject_profile_as_group_metadata": _rejects("MO-2"),
        "reject_wrong_epoch": _rejects("MO-2"),
        "reject_flipped_byte": _rejects("MO-2"),
        "reject_not_a_bucket": _rejects("MO-1"),
        "reject_profile_inside_group_aad": _rejects("MO-4"),
        "reject_bidi_control_in_name": _rejects("NAME-1", "MO-5"),
        "reject_zero_width_space_in_name": _rejects("NAME-1", "MO-5"),
        "reject_line_separator_in_group_name": _rejects("NAME-1", "MO-5"),
        "reject_name_not_nfc": _rejects("NAME-3", "MO-5"),
        "member_profile_accepted_rules": _accepts(*_NAMES_OK, "PROF-1"),
        "group_metadata_channels": _accepts(*_NAMES_OK, "CHAN-1", "CHAN-2", "CHAN-3"),
        "reject_group_metadata_empty_channel_list": _rejects("CHAN-2"),
        "reject_group_metadata_channel_kind_0": _rejects("CHAN-1"),
        "reject_group_metadata_channel_listed_twice": _rejects("CHAN-3"),
        "reject_member_profile_short_accepted_rules": _rejects("PROF-1"),
    },
    "invites": {
        "inbox_report": _accepts(*(f"INBOX-{n}" for n in range(1, 9))),
        "reject_inbox_not_for_you": _rejects("INBOX-2"),
        "reject_inbox_sealed_key": _rejects("INBOX-3"),
        "reject_inbox_moved": _rejects("INBOX-4"),
        "reject_inbox_own_post": _rejects("INBOX-5"),
        "reject_inbox_unknown_head": _rejects("INBOX-6"),
        "reject_inbox_resolution_by_member": _rejects("INBOX-7"),
        "reject_inbox_shared_with_non_moderator": _rejects("INBOX-8"),
        "reject_inbox_hidden_from_a_moderator": _rejects("INBOX-8"),
        "reject_inbox_no_recipients": _rejects("INBOX-1"),
        **{name: _accepts(*_URI_OK, *_RELAY_OK) for name in (
            "invite_uri_open", "invite_uri_approval", "invite_uri_normalised_case_port_slash",
            "invite_uri_loopback_http_port", "invite_uri_ipv6_port_path",
            "invite_uri_localhost_default_port")},
        "parse_scanned_uri": _accepts(*_URI_OK),
        "reject_plain_http": _rejects("URI-9", "RELAY-7"),
        "reject_no_fragment": _rejects("URI-5"),
        "reject_short_secret": _rejects("URI-11"),
        "reject_long_secret": _rejects("URI-11"),
        "reject_newer_version": _rejects("URI-6"),
        "reject_user_info": _rejects("URI-9", "RELAY-5"),
        "reject_query": _rejects("URI-7"),
        "reject_padding_in_secret": _rejects("URI-11"),
        "reject_non_canonical_secret": _rejects("URI-11"),
        "reject_not_join_path": _rejects("URI-4"),
        "join_proof_approved": _accepts("I6"),
        "join_request_approved": _accepts("JR-1", "JR-2", "DEC-3"),
        "reject_request_flipped_signature": _rejects("JR-1"),
        "reject_request_changed_time": _rejects("JR-1"),
        "reject_request_swapped_box_key": _rejects("JR-1"),
        "reject_request_truncated": _rejects("CODEC-3"),
        "reject_request_bad_signature_and_trailing_byte": _rejects("DEC-3", "CODEC-8"),
        "reject_request_bad_binding_and_trailing_byte": _rejects("DEC-3", "CODEC-8"),
        "reject_request_joiner_header": _rejects("DEC-3", "CODEC-1"),
        "reject_request_other_invite_key": _rejects("JR-2"),
        "rules_card": _accepts(*(f"CARD-{i}" for i in range(1, 7))),
        "open_rules_card": _accepts(*(f"CARD-{i}" for i in range(1, 7))),
        "reject_card_not_a_bucket": _rejects("CARD-1"),
        "reject_card_flipped": _rejects("CARD-2"),
        "reject_card_of_another_invite": _rejects("CARD-2"),
        "reject_card_claims_another_invite": _rejects("CARD-4"),
        "reject_card_bad_signature": _rejects("CARD-3"),
        "reject_card_not_by_an_admin": _rejects("CARD-5"),
        "reject_card_stale": _rejects("CARD-6"),
        "rules_acceptance": _accepts("RA-1"),
        "reject_acceptance_flipped_ref": _rejects("RA-1"),
        "reject_acceptance_truncated": _rejects("CODEC-3"),
    },
    "keystore": {
        "contents": _accepts("KC-1", "KC-2", "KC-3", "KC-4", "CODEC-4"),
        "contents_empty": _accepts("KC-1"),
        "seal": _accepts("KS-SEAL-1", "KS-SEAL-2", *_KS_OK),
        "open_with_composed_passphrase": _accepts(*_KS_OK),
        "reject_wrong_passphrase": _rejects("KS-9"),
        "reject_flipped_ciphertext_byte": _rejects("KS-9"),
        "reject_flipped_nonce_byte": _rejects("KS-9"),
        "reject_weak_parameters": _rejects("KS-7"),
        "reject_absurd_parameters": _rejects("KS-6"),
        "reject_truncated": _rejects("KS-4"),
        "reject_header_only": _rejects("KS-4"),
        "reject_not_a_keystore": _rejects("KS-2"),
        "reject_version_2": _rejects("KS-3"),
        "export_identity": _accepts(*(f"EXP-{i}" for i in range(1, 8)), *_KS_OK),
        "export_identity_with_checkpoint_and_marks": _accepts(
            *(f"EXP-{i}" for i in range(1, 8)), "MARKS-1", "MARKS-2"),
        "post_marks": _accepts("MARKS-1", "MARKS-2"),
        "reject_post_marks_zero": _rejects("MARKS-2"),
        "reject_post_marks_trailing_byte": _rejects("CODEC-8"),
        "reject_post_marks_too_many": _rejects("MARKS-1"),
        "reject_import_marks_out_of_order": _rejects("EXP-7"),
        "reject_import_plain_keystore": _rejects("EXP-1"),
    },
    "auth": {
        "member_member": _accepts("AUTH-1"),
        "member_owner": _accepts("AUTH-1"),
        "invite_open": _accepts("AUTH-1"),
        **{name: _rejects("AUTH-1") for name in (
            "reject_other_challenge", "reject_other_group", "reject_invite_answer_as_member",
            "reject_invite_answer_other_invite", "reject_member_answer_as_invite")},
    },
    "localstore": {
        "stored_post_welcome": _accepts("SP-1", "DEC-5"),
        "pending_join_with_request": _accepts("DEC-6", "JR-1"),
        **{name: _accepts("LR-1", "LR-2") for name in (
            "record_epoch_key", "record_stored_post", "record_empty")},
        "reject_record_other_kind": _rejects("LR-2"),
        "reject_record_other_row": _rejects("LR-2"),
        "reject_record_other_store": _rejects("LR-2"),
        "reject_record_flipped_byte": _rejects("LR-2"),
        "reject_record_untagged_id": _rejects("LR-2"),
        "reject_record_wrong_tag": _rejects("LR-1"),
        "reject_record_trailing_byte": _rejects("LR-1"),
        "reject_stored_post_mismatch": _rejects("SP-1"),
        "reject_stored_post_body_rule": _rejects("POST-1"),
        "reject_stored_post_body_rule_and_trailing_byte": _rejects("DEC-5", "CODEC-8"),
        "reject_pending_join_bad_request_and_trailing_byte": _rejects("DEC-6", "CODEC-8"),
        "reject_post_stub_trailing_byte": _rejects("CODEC-8"),
        "reject_pending_join_bad_request": _rejects("JR-1"),
        "muted_members_two": _accepts("MUTE-1", "MUTE-2"),
        "reject_muted_members_out_of_order": _rejects("MUTE-2"),
        "reject_muted_members_repeated": _rejects("MUTE-2"),
        "reject_muted_members_too_many": _rejects("MUTE-1"),
        "reject_muted_members_truncated": _rejects("CODEC-3"),
        "reject_deleted_group_truncated": _rejects("CODEC-3"),
        "reject_deleted_group_trailing_byte": _rejects("CODEC-8"),
        "reject_deleted_group_flag_2": _rejects("CODEC-5"),
    },
})


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


SPEC = VECTOR_DIR.parents[1] / "docs" / "protocol.md"
README = VECTOR_DIR / "README.md"
RULE_ROW = re.compile(r"^\|\s*([A-Z][A-Z0-9]*(?:-[A-Z][A-Z0-9]*)*-?[0-9]+)\s*\|")
SECTION = re.compile(r"^#{2,3} (\d+(?:\.\d+)?)[. ]")
ERROR_CODE = re.compile(r"`([a-z_]+)`")
TABLE_BEGIN = ("<!-- rules:begin (generated by generate.py from docs/protocol.md and the "
               "vectors) -->")
TABLE_END = "<!-- rules:end -->"


@dataclass(frozen=True)
class Rule:
    """A rule the specification defines: a table row whose first cell is its identifier."""

    ident: str
    section: str
    row: str

    def codes(self, known: set[str]) -> set[str]:
        """The error codes the row names (its last cell, and "as ..." references aside)."""
        return {c for c in ERROR_CODE.findall(self.row.rsplit("|", 2)[-2]) if c in known}


def spec_rules(text: str | None = None) -> list[Rule]:
    """Every rule of docs/protocol.md, in document order."""
    text = SPEC.read_text(encoding="utf-8") if text is None else text
    rules: list[Rule] = []
    section = "0"
    for line in text.splitlines():
        heading = SECTION.match(line)
        if heading:
            section = heading.group(1)
        row = RULE_ROW.match(line)
        if row:
            rules.append(Rule(row.group(1), section, line))
    return rules


def rule_coverage(documents: dict[str, Json]) -> dict[str, tuple[list[str], list[str]]]:
    """rule -> (accepting vectors, rejecting vectors), as ``file:name``."""
    out: dict[str, tuple[list[str], list[str]]] = {}
    for file, document in documents.items():
        for vector in document["vectors"]:
            where = f"{file.removesuffix('.json')}:{vector['name']}"
            rules = vector.get("rules", {})
            for ident in rules.get("accept", []):
                out.setdefault(ident, ([], []))[0].append(where)
            for ident in rules.get("reject", []):
                out.setdefault(ident, ([], []))[1].append(where)
    return out


def rules_table(documents: dict[str, Json], spec: str | None = None) -> str:
    coverage = rule_coverage(documents)
    lines = [TABLE_BEGIN, "", "| rule | § | accepted by | rejected by |", "|---|---|---|---|"]
    for rule in spec_rules(spec):
        accept, reject = coverage.get(rule.ident, ([], []))
        lines.append(f"| {rule.ident} | {rule.section} | "
                     f"{', '.join(f'`{v}`' for v in accept) or '**none**'} | "
                     f"{', '.join(f'`{v}`' for v in reject) or '**none**'} |")
    return "\n".join([*lines, "", TABLE_END])


def render_readme(documents: dict[str, Json], readme: str | None = None) -> str:
    """README.md with its rule table regenerated (between the two markers)."""
    readme = README.read_text(encoding="utf-8") if readme is None else readme
    start, end = readme.index(TABLE_BEGIN), readme.index(TABLE_END) + len(TABLE_END)
    return readme[:start] + rules_table(documents) + readme[end:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="compare with the committed files instead of writing them")
    args = parser.parse_args(argv)
    documents = build_documents()
    rendered = {name: render(document) for name, document in documents.items()}
    readme = render_readme(documents)
    stale = sorted(p.name for p in VECTOR_DIR.glob("*.json") if p.name not in rendered)
    if args.check:
        differ = [n for n, text in rendered.items()
                  if not (VECTOR_DIR / n).exists()
                  or (VECTOR_DIR / n).read_text(encoding="utf-8") != text]
        if README.read_text(encoding="utf-8") != readme:
            differ.append(README.name)
        for name in differ + stale:
            print(f"stale: tests/vectors/{name}", file=sys.stderr)
        return 1 if differ or stale else 0
    for name, text in rendered.items():
        (VECTOR_DIR / name).write_text(text, encoding="utf-8")
    README.write_text(readme, encoding="utf-8")
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
