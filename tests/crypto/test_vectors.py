"""Known-answer vectors (``tests/vectors/*.json``): every vector recomputed with the real core.

Each vector is checked from its *inputs* alone, with ``vault.crypto`` (never with the
generator's helpers): exact bytes for deterministic constructions, and for randomised
ones the pinned draws are fed back through a scripted RandomSource, which also checks
the order in which the core draws them. Sealed boxes (libsodium draws their ephemeral
key itself) are opened with the recipient's key, and the pinned sealing recipe is
recomputed from ``crypto_box``. Negative vectors must raise the recorded error ``code``.

Finally, ``tests/vectors/generate.py`` is run in-process and must reproduce the committed
files byte for byte, so the vectors cannot drift silently from the code.

Argon2id (64 MiB) is memoised by its inputs for this module, so the keystore vectors
cost two real derivations (the right passphrase and a wrong one).
"""

from __future__ import annotations

import functools
import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nacl.bindings
import pytest
from argon2 import low_level as argon2_low

from vault.crypto import auth, backup, keystore, labels
from vault.crypto import invites as invites_module
from vault.crypto.attachments import (
    Attachment,
    blob_digest,
    decrypt_attachment,
    is_blob_size,
    make_attachment,
    padded_size,
)
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import Reader, Tag, Writer, b64decode, b64encode
from vault.crypto.epochs import (
    EpochGrant,
    GrantContent,
    build_grants,
    metadata_key,
    open_grant,
    post_key,
)
from vault.crypto.errors import VaultError, all_error_classes
from vault.crypto.freshness import Arrival, check_not_departed, judge
from vault.crypto.group_state import GroupState, LogCheckpoint, new_entry
from vault.crypto.group_state import LogCheckpoint as _Checkpoint
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.identity_export import (
    ExportedIdentity,
    decode_post_marks,
    encode_post_marks,
    export_identity,
    import_identity,
)
from vault.crypto.inbox import InboxEnvelope, open_item
from vault.crypto.invites import (
    InviteLink,
    JoinRequest,
    invite_keypair,
    join_proof,
    make_join_request,
    new_invite,
    normalize_relay_url,
    parse_invite_uri,
    verify_join_proof,
)
from vault.crypto.keystore import KdfParams, KeystoreContents, open_keystore, seal_keystore
from vault.crypto.limits import MIB
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
    extend_log,
    genesis_state,
    verify_log,
)
from vault.crypto.metadata import (
    Channel,
    GroupMetadata,
    MemberProfile,
    open_metadata,
    seal_metadata,
)
from vault.crypto.padding import bucket_size, is_bucket, pad, pad_to, unpad
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import OpenedPost, PostEnvelope, check_can_post, open_post, seal_post
from vault.crypto.primitives import derive_key, frame, labelled_hash, sign, verify
from vault.crypto.rules_card import (
    RulesAcceptance,
    RulesCard,
    accept_rules,
    card_key,
    check_rules_card,
    digest_key,
    make_rules_card,
    open_rules_card,
    rules_ref,
    seal_rules_card,
)
from vault.crypto.safety import group_code, safety_number
from vault.crypto.timeline import (
    DuplicateIgnored,
    GapDetected,
    GapFilled,
    MissingReferences,
    NewPost,
    Resealed,
    SequenceJump,
    Timeline,
    UnknownHead,
    thread_view,
)

VECTOR_DIR = Path(__file__).resolve().parents[1] / "vectors"
FAMILIES = ("primitives", "identity", "safety", "log", "epochs", "padding", "attachments",
            "posts", "metadata", "invites", "keystore", "auth", "localstore")
FULL_LOG = "log.json#full_log"
Json = dict[str, Any]
Check = Callable[[Json, Json], None]


# --- loading and dispatch ------------------------------------------------------------------


@functools.cache
def load(family: str) -> Json:
    document: Json = json.loads((VECTOR_DIR / f"{family}.json").read_text(encoding="utf-8"))
    return document


def all_cases() -> Iterator[Any]:
    for family in FAMILIES:
        path = VECTOR_DIR / f"{family}.json"
        if not path.exists():  # reported by test_every_family_is_present
            continue
        for vector in load(family)["vectors"]:
            yield pytest.param(family, vector, id=f"{family}:{vector['name']}")


CHECKS: dict[tuple[str, str], Check] = {}


def check(family: str, *ops: str) -> Callable[[Check], Check]:
    def register(fn: Check) -> Check:
        for op in ops:
            CHECKS[(family, op)] = fn
        return fn
    return register


@pytest.fixture(scope="module", autouse=True)
def memoised_argon2() -> Iterator[None]:
    """Argon2id is a pure function: compute each distinct input once in this module."""
    real = argon2_low.hash_secret_raw

    @functools.cache
    def cached(secret: bytes, salt: bytes, **params: Any) -> bytes:
        result: bytes = real(secret, salt, **params)
        return result

    def hash_secret_raw(secret: bytes, salt: bytes, **params: Any) -> bytes:
        return cached(secret, salt, **params)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(argon2_low, "hash_secret_raw", hash_secret_raw)
        patch.setattr(keystore, "hash_secret_raw", hash_secret_raw)
        yield


@pytest.mark.parametrize(("family", "vector"), list(all_cases()))
def test_vector(family: str, vector: Json) -> None:
    CHECKS[(family, vector["op"])](vector["inputs"], vector["expected"])


# --- helpers -------------------------------------------------------------------------------


def b(text: str) -> bytes:
    return bytes.fromhex(text)


def ob(text: str | None) -> bytes | None:
    return None if text is None else bytes.fromhex(text)


class Scripted:
    """Returns the vector's pinned draws in order; the sizes must match the core's draws."""

    def __init__(self, *values: bytes) -> None:
        self.values = list(values)

    def __call__(self, size: int) -> bytes:
        assert self.values, "the core drew more randomness than the vector records"
        value = self.values.pop(0)
        assert len(value) == size, f"the core drew {size} bytes; the vector has {len(value)}"
        return value

    def done(self) -> None:
        assert not self.values, "the core drew less randomness than the vector records"


def signer(sign_seed: str) -> Identity:
    """An identity for signing only: the box key is unused by the call under test."""
    return Identity(b(sign_seed), bytes(32))


URI_REASONS = ("NOT_AN_INVITE", "INCOMPLETE", "DAMAGED", "NEWER", "TOO_LONG", "INSECURE",
               "USERINFO", "BAD_SERVER")


def expect_error(expected: Json, action: Callable[[], object]) -> None:
    code = expected["error"]
    assert code in all_error_classes(), f"{code} is not a VaultError code"
    with pytest.raises(VaultError) as info:
        action()
    assert info.value.code == code, f"raised {info.value.code}: {info.value}"
    if "reason" in expected:  # which message of protocol §8.2
        assert expected["reason"] in URI_REASONS
        assert info.value.message == getattr(invites_module, expected["reason"])


def framed(label: bytes, message: bytes) -> bytes:
    return bytes((len(label),)) + label + message


def ed25519_ok(public_key: bytes, signature_input: bytes, signature: bytes) -> None:
    """Plain Ed25519 over the framed input: what another implementation verifies."""
    nacl.bindings.crypto_sign_open(signature + signature_input, public_key)


@functools.cache
def full_log() -> tuple[bytes, list[bytes]]:
    vector = next(v for v in load("log")["vectors"] if v["name"] == "full_log")
    return b(vector["inputs"]["group_id"]), [b(e) for e in vector["inputs"]["entries"]]


@functools.cache
def full_state() -> GroupState:
    group_id, entries = full_log()
    return verify_log(group_id, entries)


@functools.cache
def state_for(ref: str) -> GroupState:
    """A state reference (README: ``log.json#full_log``, ``log.json#full_log@12``, or the
    name of any positive ``verify_log`` vector)."""
    assert ref.startswith("log.json#"), f"unknown state reference {ref}"
    name, _, upto = ref.removeprefix("log.json#").partition("@")
    group_id, entries = full_log()
    if name == "full_log":
        if upto:
            return verify_log(group_id, entries[: int(upto) + 1])
        return full_state()
    assert not upto, ref
    vector = next(v for v in load("log")["vectors"] if v["name"] == name)
    assert vector["op"] == "verify_log" and "error" not in vector["expected"], ref
    inputs = vector["inputs"]
    served = entries[: inputs["entries_from_full_log"]] + [b(e) for e in inputs["extra_entries"]]
    return verify_log(b(inputs["group_id"]), served)


# --- primitives ----------------------------------------------------------------------------


@check("primitives", "label")
def _label(inputs: Json, expected: Json) -> None:
    label = inputs["label"].encode()
    assert getattr(labels, inputs["constant"]) == label
    assert frame(label) == b(expected["frame"]) == framed(label, b"")


@check("primitives", "labelled_hash")
def _labelled_hash(inputs: Json, expected: Json) -> None:
    label, data, size = inputs["label"].encode(), b(inputs["data"]), inputs["size"]
    assert framed(label, data) == b(expected["blake2b_input"])
    assert labelled_hash(label, data, size) == b(expected["hash"])
    assert hashlib.blake2b(framed(label, data), digest_size=size).digest() == b(expected["hash"])


@check("primitives", "derive_key")
def _derive_key(inputs: Json, expected: Json) -> None:
    parent, label, context = b(inputs["parent_key"]), inputs["label"].encode(), b(inputs["context"])
    assert b(expected["blake2b_key"]) == parent
    assert framed(label, context) == b(expected["blake2b_message"])
    assert derive_key(parent, label, context) == b(expected["key"])
    assert hashlib.blake2b(framed(label, context), key=parent, digest_size=32).digest() == b(
        expected["key"])


@check("primitives", "sign")
def _sign(inputs: Json, expected: Json) -> None:
    pk, sk = nacl.bindings.crypto_sign_seed_keypair(b(inputs["seed"]))
    label, message = inputs["label"].encode(), b(inputs["message"])
    assert (pk.hex(), sk.hex()) == (expected["public_key"], expected["secret_key"])
    assert framed(label, message) == b(expected["signature_input"])
    assert sign(sk, label, message) == b(expected["signature"])
    verify(pk, label, message, b(expected["signature"]), "vector")
    ed25519_ok(pk, b(expected["signature_input"]), b(expected["signature"]))


@check("primitives", "verify")
def _verify(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: verify(b(inputs["public_key"]), inputs["label"].encode(),
                                          b(inputs["message"]), b(inputs["signature"]), "vector"))


@check("primitives", "b64")
def _b64(inputs: Json, expected: Json) -> None:
    assert b64encode(b(inputs["data"])) == expected["text"]
    assert b64decode(expected["text"]) == b(inputs["data"])


@check("primitives", "b64_decode")
def _b64_decode(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: b64decode(inputs["text"]))


# --- identity and safety -------------------------------------------------------------------


@check("identity", "identity")
def _identity(inputs: Json, expected: Json) -> None:
    me = Identity(b(inputs["sign_seed"]), b(inputs["box_sk"]))
    public = me.public
    assert me.sign_sk.hex() == expected["sign_sk"]
    assert public.sign_pk.hex() == expected["sign_pk"]
    assert public.box_pk.hex() == expected["box_pk"]
    assert public.sign_pk + public.box_pk == b(expected["binding_message"])
    assert framed(labels.IDENTITY_BINDING, b(expected["binding_message"])) == b(
        expected["binding_signature_input"])
    assert public.binding_sig.hex() == expected["binding_signature"]
    ed25519_ok(public.sign_pk, b(expected["binding_signature_input"]), public.binding_sig)
    assert public.encode().hex() == expected["public_identity"]
    assert PublicIdentity.decode(b(expected["public_identity"])) == public
    assert public.fingerprint.hex() == expected["fingerprint"]
    assert labelled_hash(labels.FINGERPRINT, public.sign_pk + public.box_pk) == public.fingerprint
    assert public.short_fingerprint() == expected["short_fingerprint"]
    assert me.encode_private().hex() == expected["private_identity"]
    decoded = Identity.decode_private(b(expected["private_identity"]))
    assert (decoded.sign_seed, decoded.box_sk) == (me.sign_seed, me.box_sk)
    draws = Scripted(b(inputs["sign_seed"]), b(inputs["box_sk"]))
    assert Identity.generate(draws).public == public
    draws.done()


@check("identity", "decode_public_identity")
def _decode_public_identity(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: PublicIdentity.decode(b(inputs["data"])))


@check("identity", "decode_private_identity")
def _decode_private_identity(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: Identity.decode_private(b(inputs["data"])))


@check("safety", "safety_number")
def _safety_number(inputs: Json, expected: Json) -> None:
    a, c = PublicIdentity.decode(b(inputs["a"])), PublicIdentity.decode(b(inputs["b"]))
    low, high = sorted((a.fingerprint, c.fingerprint))
    assert (low.hex(), high.hex()) == (expected["fingerprint_low"], expected["fingerprint_high"])
    assert labelled_hash(labels.SAFETY_NUMBER, low + high, size=60).hex() == expected["digest"]
    digest = b(expected["digest"])
    groups = [f"{int.from_bytes(digest[i:i + 5], 'big') % 100000:05d}" for i in range(0, 60, 5)]
    assert " ".join(groups) == expected["safety_number"]
    assert safety_number(a, c) == safety_number(c, a) == expected["safety_number"]


# --- the membership log --------------------------------------------------------------------


def entry_body(kind: int, d: Json) -> EntryBody:
    match EntryKind(kind):
        case EntryKind.CREATE:
            return CreateBody(PublicIdentity.decode(b(d["creator"])), b(d["group_nonce"]),
                              b(d["epoch_commitment"]))
        case EntryKind.INVITE:
            return InviteBody(b(d["invite_id"]), b(d["invite_pk"]), d["max_uses"],
                              d["expires_at_ms"], d["requires_approval"])
        case EntryKind.INVITE_REVOKE:
            return InviteRevokeBody(b(d["invite_id"]))
        case EntryKind.JOIN:
            return JoinBody(b(d["invite_id"]), PublicIdentity.decode(b(d["joiner"])),
                            b(d["proof"]))
        case EntryKind.ADD:
            return AddBody(PublicIdentity.decode(b(d["member"])), Role(d["role"]),
                           ob(d["invite_id"]), ob(d["proof"]))
        case EntryKind.REMOVE:
            return RemoveBody(b(d["member"]), d["new_epoch"], b(d["epoch_commitment"]))
        case EntryKind.LEAVE:
            assert d == {}
            return LeaveBody()
        case EntryKind.ROLE:
            return RoleBody(b(d["member"]), Role(d["role"]))
        case EntryKind.ROTATE:
            return RotateBody(d["new_epoch"], b(d["epoch_commitment"]))
        case EntryKind.METADATA:
            return MetadataBody(ob(d["subject"]), d["epoch"], b(d["ciphertext"]))
        case EntryKind.ADD_ROTATE:
            return AddRotateBody(PublicIdentity.decode(b(d["member"])), Role(d["role"]),
                                 ob(d["invite_id"]), ob(d["proof"]), d["new_epoch"],
                                 b(d["epoch_commitment"]))
        case EntryKind.HISTORY:
            assert HistoryPolicy(d["policy"]).name == d["policy_name"]
            return HistoryBody(HistoryPolicy(d["policy"]), d["from_epoch"])
        case EntryKind.DELETE_GROUP:
            return DeleteGroupBody()
    raise AssertionError(kind)  # pragma: no cover


def check_derivations(inputs: Json, body: EntryBody) -> None:
    """The values a body holds that follow from secrets the vector also gives."""
    notes = inputs.get("derivation", {})
    group_id = b(inputs["group_id"])
    if "epoch_key" in notes:
        assert isinstance(body, CreateBody | RemoveBody | RotateBody | AddRotateBody)
        epoch = 0 if isinstance(body, CreateBody) else body.new_epoch
        bound = commitment_group_id(group_id, epoch)
        assert body.epoch_commitment == epoch_commitment(bound, epoch, b(notes["epoch_key"]))
    if "invite_secret" in notes:
        secret = b(notes["invite_secret"])
        if isinstance(body, InviteBody):
            assert invite_keypair(secret)[1] == body.invite_pk
        elif isinstance(body, JoinBody):
            assert join_proof(secret, group_id, body.invite_id, body.joiner) == body.proof
        else:
            assert isinstance(body, AddBody) and body.invite_id is not None
            assert join_proof(secret, group_id, body.invite_id, body.member) == body.proof


@check("log", "log_entry")
def _log_entry(inputs: Json, expected: Json) -> None:
    body = entry_body(inputs["kind"], inputs["body"])
    assert body.KIND.name == inputs["kind_name"]
    assert body.encode() == b(expected["body"])
    check_derivations(inputs, body)
    notes = inputs.get("derivation", {})
    author = Identity(b(inputs["author_sign_seed"]), b(notes.get("creator_box_sk", "00" * 32)))
    assert author.sign_pk == b(inputs["author"])
    entry = sign_entry(author, body, group_id=b(inputs["group_id"]), seq=inputs["seq"],
                       prev_hash=b(inputs["prev_hash"]), timestamp_ms=inputs["timestamp_ms"])
    raw = b(expected["entry"])
    assert entry.raw == raw
    assert raw[:-64] == b(expected["signed"])
    assert framed(labels.LOG_ENTRY_SIGNATURE, raw[:-64]) == b(expected["signature_input"])
    assert entry.signature == raw[-64:] == b(expected["signature"])
    ed25519_ok(entry.author, b(expected["signature_input"]), entry.signature)
    assert entry.hash == labelled_hash(labels.LOG_ENTRY_HASH, raw) == b(expected["hash"])
    assert LogEntry.decode(raw) == entry
    if inputs["seq"] == 0:
        draws = Scripted(b(notes["group_nonce"]))
        genesis = create_group(author, b(notes["epoch_key"]), now_ms=inputs["timestamp_ms"],
                               random=draws)
        draws.done()
        assert genesis.raw == raw
        assert group_id_of(genesis) == labelled_hash(labels.GROUP_ID, raw) == b(
            expected["group_id"])


def state_summary(state: GroupState) -> Json:
    """The verified state in the vector's JSON shape (lists in a fixed order)."""
    def member(m: Any) -> Json:
        out = {"sign_pk": m.sign_pk.hex(), "role": int(m.role), "joined_seq": m.joined_seq}
        if m.removed_seq is not None:
            out["removed_seq"] = m.removed_seq
            out["removed_at_ms"] = m.removed_at_ms
        return out

    def meta(body: MetadataBody | None) -> Json | None:
        return None if body is None else {
            "subject": None if body.subject is None else body.subject.hex(),
            "epoch": body.epoch, "ciphertext": body.ciphertext.hex()}

    def by_join(members: Any) -> list[Json]:
        return [member(m) for m in sorted(members, key=lambda m: (m.joined_seq, m.sign_pk))]

    return {
        "group_id": state.group_id.hex(), "seq": state.seq, "head": state.head.hex(),
        "timestamp_ms": state.timestamp_ms, "epoch": state.epoch,
        "rotation_pending": state.rotation_pending,
        "epochs": [{"epoch": e, "commitment": state.epoch_commitments[e].hex(),
                    "start_seq": state.epoch_start_seq[e]}
                   for e in sorted(state.epoch_commitments)],
        "members": by_join(state.members.values()),
        "former_members": by_join(state.former_members.values()),
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


def check_role_history(state: GroupState, expected: Json) -> None:
    """``role_at`` follows the vector's role history at every seq of the log."""
    history = {b(h["sign_pk"]): [(r["from_seq"], r["role"]) for r in h["roles"]]
               for h in expected["role_history"]}
    for pk, periods in history.items():
        for seq in range(state.seq + 1):
            held = [role for start, role in periods if start <= seq]
            want = held[-1] if held and state.was_member_at(pk, seq) else None
            got = state.role_at(pk, seq)
            assert (None if got is None else int(got)) == want, (pk.hex(), seq)


@check("log", "verify_log")
def _verify_log(inputs: Json, expected: Json) -> None:
    group_id = b(inputs["group_id"])
    if "entries" in inputs:
        entries = [b(e) for e in inputs["entries"]]
    else:
        entries = full_log()[1][: inputs["entries_from_full_log"]]
        entries += [b(e) for e in inputs["extra_entries"]]
    checkpoint = inputs.get("checkpoint")
    saved = None if checkpoint is None else LogCheckpoint.decode(b(checkpoint))
    now_ms = inputs.get("now_ms")  # the verifier's clock, when the vector supplies one
    if "error" in expected:
        expect_error(expected, lambda: verify_log(group_id, entries, checkpoint=saved,
                                                  now_ms=now_ms))
        return
    state = verify_log(group_id, entries, checkpoint=saved, now_ms=now_ms)
    assert "state" in expected or "checkpoint" in expected
    if "state" in expected:
        assert state_summary(state) == expected["state"]
        check_role_history(state, expected["state"])
    if "checkpoint" in expected:
        assert state.checkpoint().encode() == b(expected["checkpoint"])
    # Incremental verification gives the same state (protocol §4.8).
    if len(entries) > 1:
        half = verify_log(group_id, entries[: len(entries) // 2], now_ms=now_ms)
        assert extend_log(half, entries[len(entries) // 2:], now_ms=now_ms) == state


@check("log", "check_deletion")
def _check_deletion(inputs: Json, expected: Json) -> None:
    group_id, entries = full_log()
    assert b(inputs["group_id"]) == group_id
    state = verify_log(group_id, entries[: inputs["entries_from_full_log"]])
    deletion = b(inputs["deletion"])
    if "error" in expected:
        expect_error(expected, lambda: check_deletion(state, deletion, now_ms=inputs["now_ms"]))
        return
    entry = check_deletion(state, deletion, now_ms=inputs["now_ms"])
    assert {"seq": entry.seq, "author": entry.author.hex()} == expected


@check("log", "check_checkpoint")
def _check_checkpoint(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])
    checkpoint = LogCheckpoint.decode(b(inputs["checkpoint"]))
    if "error" in expected:
        expect_error(expected, lambda: check_checkpoint(state, checkpoint))
        return
    assert expected == {"ok": True}
    check_checkpoint(state, checkpoint)
    check_checkpoint(list(state.hashes), checkpoint)


@check("log", "check_same_entry")
def _check_same_entry(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])
    if "error" in expected:
        expect_error(expected, lambda: check_same_entry(state, inputs["seq"], b(inputs["hash"])))
        return
    assert expected == {"ok": True}
    check_same_entry(state, inputs["seq"], b(inputs["hash"]))


@check("log", "log_checkpoint")
def _log_checkpoint(inputs: Json, expected: Json) -> None:
    checkpoint = LogCheckpoint(b(inputs["group_id"]), inputs["seq"], b(inputs["head"]))
    assert checkpoint.encode() == b(expected["checkpoint"])
    assert LogCheckpoint.decode(b(expected["checkpoint"])) == checkpoint
    assert full_state().hash_at(inputs["seq"]) == checkpoint.head


@check("log", "decode_log_checkpoint")
def _decode_log_checkpoint(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: LogCheckpoint.decode(b(inputs["data"])))


@check("log", "decode_log_entry")
def _decode_log_entry(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: LogEntry.decode(b(inputs["entry"])))


def test_new_entry_reproduces_the_log() -> None:
    """``new_entry`` on each verified state signs exactly the next committed entry."""
    group_id, raw = full_log()
    entries = [v for v in load("log")["vectors"]
               if v["op"] == "log_entry" and v["inputs"]["seq"] < len(raw)]
    state = genesis_state(LogEntry.decode(raw[0]), group_id)
    for vector, encoded in zip(entries[1:], raw[1:], strict=True):
        inputs = vector["inputs"]
        body = entry_body(inputs["kind"], inputs["body"])
        entry = new_entry(state, signer(inputs["author_sign_seed"]), body,
                          now_ms=inputs["timestamp_ms"])
        assert entry.raw == encoded, vector["name"]
        state = apply_entry(state, entry)
    assert state.head == full_state().head


# --- epochs and grants ---------------------------------------------------------------------


@check("epochs", "epoch_commitment")
def _epoch_commitment(inputs: Json, expected: Json) -> None:
    group_id, epoch, key = b(inputs["group_id"]), inputs["epoch"], b(inputs["epoch_key"])
    bound = commitment_group_id(group_id, epoch)
    assert bound == b(expected["bound_group_id"]) == (bytes(32) if epoch == 0 else group_id)
    message = bound + epoch.to_bytes(8, "big") + key
    assert framed(labels.EPOCH_COMMITMENT, message) == b(expected["hash_input"])
    assert epoch_commitment(bound, epoch, key) == b(expected["commitment"])
    assert full_state().epoch_commitments[epoch] == b(expected["commitment"])


@check("epochs", "subkeys")
def _subkeys(inputs: Json, expected: Json) -> None:
    group_id, epoch, key = b(inputs["group_id"]), inputs["epoch"], b(inputs["epoch_key"])
    context = group_id + epoch.to_bytes(8, "big")
    assert context == b(expected["context"])
    assert post_key(key, group_id, epoch) == b(expected["post_key"])
    assert derive_key(key, labels.POST_KEY, context) == b(expected["post_key"])
    assert metadata_key(key, group_id, epoch) == b(expected["metadata_key"])
    assert derive_key(key, labels.METADATA_KEY, context) == b(expected["metadata_key"])


def seal_nonce(ephemeral_pk: bytes, recipient_pk: bytes) -> bytes:
    nonce: bytes = nacl.bindings.crypto_generichash_blake2b_salt_personal(
        ephemeral_pk + recipient_pk, digest_size=24)
    return nonce


@check("epochs", "epoch_grant")
def _epoch_grant(inputs: Json, expected: Json) -> None:
    granter = signer(inputs["granter_sign_seed"])
    assert granter.sign_pk == b(inputs["granter"])
    recipient = Identity(b(inputs["recipient_sign_seed"]), b(inputs["recipient_box_sk"]))
    public = recipient.public
    assert public.encode() == b(inputs["recipient"])
    group_id, epoch, key = b(inputs["group_id"]), inputs["epoch"], b(inputs["epoch_key"])
    content = b(expected["grant_content"])
    sealed = b(expected["sealed"])
    encoded = b(expected["epoch_grant"])
    # The real builder: its sealed box is random, its clear fields and content are not.
    (built,) = build_grants(granter, group_id, epoch, key, [public])
    assert built.encode()[: -len(sealed)] == encoded[: -len(sealed)]
    assert nacl.bindings.crypto_box_seal_open(built.sealed, public.box_pk,
                                              recipient.box_sk) == content
    # The content, field by field, and its signature.
    decoded = GrantContent.decode(content)
    assert (decoded.group_id, decoded.epoch, decoded.epoch_key) == (group_id, epoch, key)
    assert (decoded.recipient_sign_pk, decoded.recipient_box_pk) == (public.sign_pk,
                                                                     public.box_pk)
    assert decoded.granter_sign_pk == granter.sign_pk
    assert framed(labels.EPOCH_GRANT, content[:-64]) == b(expected["signature_input"])
    assert granter.sign(labels.EPOCH_GRANT, content[:-64]) == decoded.signature == b(
        expected["grant_signature"])
    # The pinned seal: crypto_box_seal's construction with the vector's ephemeral key.
    ephemeral_sk = b(inputs["seal_ephemeral_sk"])
    ephemeral_pk = nacl.bindings.crypto_scalarmult_base(ephemeral_sk)
    assert ephemeral_pk == b(expected["seal_ephemeral_pk"])
    nonce = seal_nonce(ephemeral_pk, public.box_pk)
    assert nonce == b(expected["seal_nonce"])
    assert ephemeral_pk + nacl.bindings.crypto_box(content, nonce, public.box_pk,
                                                   ephemeral_sk) == sealed
    assert nacl.bindings.crypto_box_seal_open(sealed, public.box_pk, recipient.box_sk) == content
    grant = EpochGrant(group_id, epoch, public.sign_pk, sealed)
    assert grant.encode() == encoded
    assert EpochGrant.decode(encoded) == grant
    assert open_grant(EpochGrant.decode(encoded), recipient, state_for(inputs["state"])) == key


@check("epochs", "open_grant")
def _open_grant(inputs: Json, expected: Json) -> None:
    me = Identity(b(inputs["opener_sign_seed"]), b(inputs["opener_box_sk"]))
    state = state_for(inputs["state"])
    if "error" in expected:
        expect_error(expected, lambda: open_grant(EpochGrant.decode(b(inputs["epoch_grant"])),
                                                  me, state))
        return
    assert open_grant(EpochGrant.decode(b(inputs["epoch_grant"])), me, state) == b(
        expected["epoch_key"])


@check("epochs", "decode_epoch_grant")
def _decode_epoch_grant(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: EpochGrant.decode(b(inputs["data"])))


# --- padding and attachments ---------------------------------------------------------------


@check("padding", "bucket_size")
def _bucket_size(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: bucket_size(inputs["length"]))
        return
    assert bucket_size(inputs["length"]) == expected["bucket"]
    assert is_bucket(expected["bucket"])


@check("padding", "pad")
def _pad(inputs: Json, expected: Json) -> None:
    data, padded = b(inputs["data"]), b(expected["padded"])
    assert pad(data) == padded
    assert len(padded) == bucket_size(len(data))
    assert padded == data + b"\x80" + bytes(len(padded) - len(data) - 1)
    assert nacl.bindings.sodium_pad(data, len(padded)) == padded
    assert unpad(padded) == data


@check("padding", "pad_to")
def _pad_to(inputs: Json, expected: Json) -> None:
    data, padded = b(inputs["data"]), b(expected["padded"])
    assert pad_to(data, inputs["size"]) == padded
    assert len(padded) == inputs["size"]
    assert unpad(padded) == data


@check("padding", "unpad")
def _unpad(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: unpad(b(inputs["padded"])))


def attachment(d: Json) -> Attachment:
    return Attachment(b(d["blob_id"]), b(d["blob_key"]), b(d["digest"]), d["size"],
                      d["media_type"], d["file_name"])


@check("attachments", "attachment_padded_size")
def _attachment_padded_size(inputs: Json, expected: Json) -> None:
    length = inputs["length"]
    if "error" in expected:
        expect_error(expected, lambda: padded_size(length))
        return
    size = expected["padded_size"]
    assert padded_size(length) == size > length
    # the rule: powers of two from 256 B to 1 MiB, then multiples of 1 MiB up to 10 MiB
    if length < MIB:
        assert size == max(256, 1 << length.bit_length())
    else:
        assert size % MIB == 0 and size - MIB <= length
    assert is_blob_size(size + 40)


@check("attachments", "make_attachment")
def _make_attachment(inputs: Json, expected: Json) -> None:
    data, key, nonce = b(inputs["data"]), b(inputs["blob_key"]), b(inputs["nonce"])
    draws = Scripted(key, nonce, b(inputs["blob_id"]))
    made, blob = make_attachment(data, inputs["media_type"], inputs["file_name"], random=draws)
    draws.done()
    assert blob == b(expected["blob"])
    assert blob[:24] == nonce
    assert b(expected["aad"]) == frame(labels.ATTACHMENT)
    padded = b(expected["padded"])
    assert len(padded) == padded_size(len(data)) and len(blob) == len(padded) + 40
    assert padded == data + b"\x80" + bytes(len(padded) - len(data) - 1)
    assert nacl.bindings.sodium_pad(data, len(padded)) == padded
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        blob[24:], frame(labels.ATTACHMENT), nonce, key) == padded
    assert blob_digest(blob) == labelled_hash(labels.ATTACHMENT_DIGEST, blob) == b(
        expected["digest"])
    assert made == attachment(expected["attachment"])
    wire = Writer()
    made.write_to(wire)
    assert wire.finish() == b(expected["attachment_wire"])
    reader = Reader(b(expected["attachment_wire"]), "attachment")
    assert Attachment.read_from(reader) == made
    reader.done()
    assert decrypt_attachment(made, blob) == data


@check("attachments", "decrypt_attachment")
def _decrypt_attachment(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: decrypt_attachment(attachment(inputs["attachment"]),
                                                      b(inputs["blob"])))


# --- posts ---------------------------------------------------------------------------------


def post_body(d: Json) -> PostBody:
    kind = PostKind(d["kind"])
    assert kind.name == d["kind_name"]
    return PostBody(
        author=b(d["author"]), group_id=b(d["group_id"]), epoch=d["epoch"],
        post_id=b(d["post_id"]), author_seq=d["author_seq"], log_seq=d["log_seq"],
        log_head=b(d["log_head"]), timestamp_ms=d["timestamp_ms"], kind=kind,
        refs=tuple(b(r) for r in d["refs"]), text=d["text"],
        content_warning=d["content_warning"],
        attachments=tuple(attachment(a) for a in d["attachments"]),
        expires_at_ms=d["expires_at_ms"], poll_options=tuple(d["poll_options"]),
        poll_closes_at_ms=d["poll_closes_at_ms"], vote_choice=d["vote_choice"],
    )


@check("posts", "seal_post")
def _seal_post(inputs: Json, expected: Json) -> None:
    author = signer(inputs["author_sign_seed"])
    key, nonce = b(inputs["epoch_key"]), b(inputs["nonce"])
    body = post_body(inputs["body"])
    signed = body.encode()
    assert signed == b(expected["body"])
    assert PostBody.decode(signed) == body
    assert framed(labels.POST_SIGNATURE, signed) == b(expected["signature_input"])
    signature = author.sign(labels.POST_SIGNATURE, signed)
    assert signature == b(expected["signature"])
    plaintext = b(expected["plaintext"])
    assert pad(signed + signature) == plaintext
    subkey = post_key(key, body.group_id, body.epoch)
    assert subkey == b(expected["post_key"])
    draws = Scripted(nonce)
    envelope = seal_post(author, key, body, random=draws)
    draws.done()
    assert envelope.header == b(expected["aad"])
    assert envelope.ciphertext == b(expected["ciphertext"])
    assert envelope.encode() == b(expected["envelope"])
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        b(expected["ciphertext"]), b(expected["aad"]), nonce, subkey) == plaintext
    decoded = PostEnvelope.decode(b(expected["envelope"]))
    assert decoded == envelope
    opened = open_post(decoded, key, state_for(inputs["state"]))
    assert opened.body == body
    assert opened.signature == signature


@check("posts", "open_post")
def _open_post(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])
    expect_error(expected, lambda: open_post(PostEnvelope.decode(b(inputs["envelope"])),
                                             b(inputs["epoch_key"]), state))


@check("posts", "decode_post_envelope")
def _decode_post_envelope(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: PostEnvelope.decode(b(inputs["data"])))


@check("posts", "decode_post_body")
def _decode_post_body(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: PostBody.decode(b(inputs["data"])))


@check("posts", "check_can_post")
def _check_can_post(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])
    author = ob(inputs["author"])
    if "error" in expected:
        expect_error(expected, lambda: check_can_post(state, inputs["epoch"], author=author))
        return
    assert expected == {"ok": True}
    check_can_post(state, inputs["epoch"], author=author)


@check("posts", "judge_arrival")
def _judge_arrival(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])
    body = PostBody.decode(b(inputs["body"]))
    arrival = Arrival(inputs["known_seq"], inputs["fence_seq"])
    if "error" in expected:
        expect_error(expected, lambda: check_not_departed(state, body, arrival))
        return
    check_not_departed(state, body, arrival)
    verdict = judge(state, body, arrival)
    assert verdict.late_author == expected["late_author"]
    assert [x.hex() for x in verdict.exposed_to] == expected["exposed_to"]


def opened(pair: Json) -> OpenedPost:
    """An opened post from its signed body bytes and signature (all the timeline reads)."""
    body = PostBody.decode(b(pair["body"]))
    verify(body.author, labels.POST_SIGNATURE, b(pair["body"]), b(pair["signature"]), "post")
    shell = PostEnvelope(body.group_id, body.epoch, body.post_id, body.log_seq, body.log_head,
                         body.expires_at_ms, bytes(24), b"")
    return OpenedPost(body, shell, b(pair["signature"]))


def events(items: Any) -> list[Json]:
    out: list[Json] = []
    for e in items:
        if isinstance(e, NewPost):
            out.append({"event": "NewPost", "post_id": e.post.post_id.hex()})
        elif isinstance(e, DuplicateIgnored):
            out.append({"event": "DuplicateIgnored", "post_id": e.post_id.hex()})
        elif isinstance(e, Resealed):
            out.append({"event": "Resealed", "post_id": e.post_id.hex()})
        elif isinstance(e, GapDetected):
            out.append({"event": "GapDetected", "author": e.author.hex(), "first": e.first,
                        "last": e.last})
        elif isinstance(e, SequenceJump):
            out.append({"event": "SequenceJump", "post_id": e.post_id.hex(),
                        "author": e.author.hex(), "author_seq": e.author_seq,
                        "previous": e.previous})
        elif isinstance(e, GapFilled):
            out.append({"event": "GapFilled", "author": e.author.hex(),
                        "author_seq": e.author_seq})
        elif isinstance(e, MissingReferences):
            out.append({"event": "MissingReferences", "post_id": e.post_id.hex(),
                        "refs": [r.hex() for r in e.refs]})
        else:
            assert isinstance(e, UnknownHead)
            out.append({"event": "UnknownHead", "post_id": e.post_id.hex(),
                        "log_seq": e.log_seq, "log_head": e.log_head.hex()})
    return out


def run_step(timeline: Timeline, step: Json) -> list[Json]:
    if "add" in step:
        return events(timeline.add(opened(step["add"])))
    if "expect" in step:
        gap = timeline.expect(b(step["expect"]["author"]), step["expect"]["seq"])
        return events([] if gap is None else [gap])
    e = step["add_envelope"]
    return events(timeline.add_envelope(PostEnvelope.decode(b(e["envelope"])),
                                        b(e["epoch_key"]), state_for(e["state"])))


@check("posts", "timeline")
def _timeline(inputs: Json, expected: Json) -> None:
    timeline = Timeline()
    steps = inputs["steps"]
    if "error" in expected:
        for step in steps[:-1]:
            run_step(timeline, step)
        expect_error(expected, lambda: run_step(timeline, steps[-1]))
        return
    assert len(expected["steps"]) == len(steps)
    for step, want in zip(steps, expected["steps"], strict=True):
        if isinstance(want, dict):  # a step that fails, and changes nothing
            before = (timeline.ordered(), dict(timeline.gaps()), timeline.pending())
            expect_error(want, lambda step=step: run_step(timeline, step))
            assert (timeline.ordered(), dict(timeline.gaps()), timeline.pending()) == before
        else:
            assert run_step(timeline, step) == want
    assert [{"author": a.hex(), "ranges": [list(g) for g in gaps]}
            for a, gaps in sorted(timeline.gaps().items())] == expected["gaps"]
    assert sorted(e.post_id.hex() for e in timeline.pending()) == expected["pending"]
    assert [post.post_id.hex() for post in timeline.ordered()] == expected["ordered"]
    assert [post.body.log_seq for post in timeline.ordered()] == expected["ordered_log_seqs"]


@check("posts", "thread_view")
def _thread_view(inputs: Json, expected: Json) -> None:
    timeline = Timeline()
    for pair in inputs["posts"]:
        timeline.add(opened(pair))
    view = thread_view(timeline, state_for(inputs["state"]))
    assert [{
        "post_id": v.post_id.hex(), "author": v.author.hex(), "kind": int(v.kind),
        "reply_to": None if v.reply_to is None else v.reply_to.hex(),
        "timestamp_ms": v.timestamp_ms, "text": v.text, "content_warning": v.content_warning,
        "attachments": [{"blob_id": a.blob_id.hex(), "blob_key": a.blob_key.hex(),
                         "digest": a.digest.hex(), "size": a.size, "media_type": a.media_type}
                        for a in v.attachments],
        "edited_at_ms": v.edited_at_ms, "deleted": v.deleted,
        "deleted_by": None if v.deleted_by is None else v.deleted_by.hex(),
        "reactions": [{"text": t, "authors": [x.hex() for x in who]} for t, who in v.reactions],
        "warned_reactions": [{"content_warning": cw, "text": t, "authors": [x.hex() for x in who]}
                             for cw, t, who in v.warned_reactions],
        "poll": None if v.poll is None else {
            "options": list(v.poll.options), "closes_at_ms": v.poll.closes_at_ms,
            "votes": [[x.hex() for x in who] for who in v.poll.votes]},
        "pinned_by": None if v.pinned_by is None else v.pinned_by.hex(),
        **({} if v.channel is None else {"channel": v.channel.hex()}),
    } for v in view.posts] == expected["posts"]
    assert [{"post_id": i.post_id.hex(), "cause": i.cause}
            for i in view.ignored] == expected["ignored"]


# --- metadata ------------------------------------------------------------------------------


@check("metadata", "group_metadata")
def _group_metadata(inputs: Json, expected: Json) -> None:
    channels = tuple(Channel(b(c["channel_id"]), c["name"]) for c in inputs.get("channels", ()))
    value = GroupMetadata(inputs["name"], inputs["description"], inputs["rules"], channels)
    assert value.encode() == b(expected["encoded"])
    assert GroupMetadata.decode(b(expected["encoded"])) == value


@check("metadata", "decode_group_metadata")
def _decode_group_metadata(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: GroupMetadata.decode(b(inputs["data"])))


@check("metadata", "member_profile")
def _member_profile(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: MemberProfile(inputs["display_name"]))
        return
    accepted = inputs.get("accepted_rules")
    value = MemberProfile(inputs["display_name"], None if accepted is None else b(accepted))
    assert value.encode() == b(expected["encoded"])
    assert MemberProfile.decode(b(expected["encoded"])) == value


@check("metadata", "decode_member_profile")
def _decode_member_profile(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: MemberProfile.decode(b(inputs["data"])))


@check("metadata", "seal_metadata")
def _seal_metadata(inputs: Json, expected: Json) -> None:
    spec = inputs["value"]
    value: GroupMetadata | MemberProfile = (
        GroupMetadata(spec["name"], spec["description"], spec["rules"])
        if spec["type"] == "group" else MemberProfile(spec["display_name"]))
    key, group_id, epoch = b(inputs["epoch_key"]), b(inputs["group_id"]), inputs["epoch"]
    subject, nonce = ob(inputs["subject"]), b(inputs["nonce"])
    assert value.encode() == b(expected["plaintext"])
    padded = b(expected["padded"])
    assert unpad(padded) == value.encode()
    assert metadata_key(key, group_id, epoch) == b(expected["metadata_key"])
    aad = bytes((Tag.METADATA_ENVELOPE, 1)) + group_id + epoch.to_bytes(8, "big") + (
        subject or bytes(32))
    assert aad == b(expected["aad"])
    draws = Scripted(nonce)
    envelope = seal_metadata(key, group_id, epoch, subject, value, random=draws)
    draws.done()
    assert envelope == b(expected["envelope"])
    assert is_bucket(len(envelope))
    assert envelope[2:26] == nonce
    assert envelope[30:] == b(expected["ciphertext"])
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        envelope[30:], aad, nonce, b(expected["metadata_key"])) == padded
    assert open_metadata(envelope, key, group_id, epoch, subject) == value
    if epoch == 0:  # these two are the ciphertexts the log's METADATA entries carry
        state = full_state()
        logged = state.group_metadata if subject is None else state.profiles[subject]
        assert logged is not None and logged.ciphertext == envelope


@check("metadata", "open_metadata")
def _open_metadata(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: open_metadata(
        b(inputs["envelope"]), b(inputs["epoch_key"]), b(inputs["group_id"]), inputs["epoch"],
        ob(inputs["subject"])))


# --- invites -------------------------------------------------------------------------------


@check("invites", "open_inbox_item")
def _open_inbox_item(inputs: Json, expected: Json) -> None:
    me = Identity(b(inputs["reader_sign_seed"]), b(inputs["reader_box_sk"]))
    state = state_for(inputs["state"])
    envelope = b(inputs["envelope"])
    if "error" in expected:
        expect_error(expected, lambda: open_item(InboxEnvelope.decode(envelope), me, state))
        return
    message = open_item(InboxEnvelope.decode(envelope), me, state).message
    assert {"kind": int(message.kind), "sender": message.sender.hex(),
            "item_id": message.item_id.hex(), "post": ob_hex(message.post),
            "subject": ob_hex(message.subject), "to": ob_hex(message.to),
            "thread": ob_hex(message.thread), "outcome": int(message.outcome),
            "text": message.text,
            "recipients_digest": message.recipients_digest.hex()} == expected


@check("invites", "decode_inbox_envelope")
def _decode_inbox_envelope(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: InboxEnvelope.decode(b(inputs["data"])))


def ob_hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


@check("invites", "new_invite")
def _new_invite(inputs: Json, expected: Json) -> None:
    draws = Scripted(*(b(d) for d in inputs["draws"]))
    assert new_invite(draws) == (b(expected["invite_id"]), b(expected["secret"]))
    draws.done()


@check("invites", "invite_keypair")
def _invite_keypair(inputs: Json, expected: Json) -> None:
    secret = b(inputs["secret"])
    seed = derive_key(secret, labels.INVITE_KEY)
    assert seed == b(expected["seed"])
    sk, pk = invite_keypair(secret)
    assert (sk, pk) == (b(expected["secret_key"]), b(expected["public_key"]))
    assert nacl.bindings.crypto_sign_seed_keypair(seed) == (pk, sk)


@check("invites", "invite_uri")
def _invite_uri(inputs: Json, expected: Json) -> None:
    link = InviteLink(inputs["relay_url"], b(inputs["group_id"]), b(inputs["invite_id"]),
                      b(inputs["secret"]))
    assert link.relay_url == expected["relay_url"]
    assert link.to_uri() == expected["uri"]
    fragment = ".".join(["v1", *(b64encode(b(inputs[k])) for k in
                                 ("group_id", "invite_id", "secret"))])
    assert expected["uri"] == f"{expected['relay_url']}/join#{fragment}"
    assert parse_invite_uri(expected["uri"]) == link


@check("invites", "parse_invite_uri")
def _parse_invite_uri(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: parse_invite_uri(inputs["text"]))
        return
    link = parse_invite_uri(inputs["text"])
    assert link == InviteLink(expected["relay_url"], b(expected["group_id"]),
                              b(expected["invite_id"]), b(expected["secret"]))


@check("invites", "normalize_relay_url")
def _normalize_relay_url(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: normalize_relay_url(inputs["relay_url"]))
        return
    canonical = normalize_relay_url(inputs["relay_url"])
    assert canonical == expected["relay_url"]
    assert normalize_relay_url(canonical) == canonical  # the canonical form is a fixed point


@check("invites", "join_proof")
def _join_proof(inputs: Json, expected: Json) -> None:
    secret, group_id, invite_id = b(inputs["secret"]), b(inputs["group_id"]), b(inputs["invite_id"])
    joiner = PublicIdentity.decode(b(inputs["joiner"]))
    message = join_proof_message(group_id, invite_id, joiner)
    assert message == group_id + invite_id + joiner.encode() == b(expected["message"])
    assert framed(labels.JOIN_PROOF, message) == b(expected["signature_input"])
    proof = join_proof(secret, group_id, invite_id, joiner)
    assert proof == b(expected["proof"])
    _sk, pk = invite_keypair(secret)
    verify_join_proof(pk, group_id, invite_id, joiner, proof)
    ed25519_ok(pk, b(expected["signature_input"]), proof)


@check("invites", "join_request")
def _join_request(inputs: Json, expected: Json) -> None:
    joiner = Identity(b(inputs["joiner_sign_seed"]), b(inputs["joiner_box_sk"]))
    assert joiner.public.encode() == b(expected["joiner"])
    link = InviteLink(inputs["relay_url"], b(inputs["group_id"]), b(inputs["invite_id"]),
                      b(inputs["secret"]))
    request = make_join_request(joiner, link, now_ms=inputs["requested_at_ms"])
    raw = b(expected["join_request"])
    assert request.raw == raw
    assert request.proof == b(expected["proof"])
    assert raw[:-64] == b(expected["signed"])
    assert framed(labels.JOIN_REQUEST, raw[:-64]) == b(expected["signature_input"])
    assert request.signature == b(expected["signature"])
    ed25519_ok(joiner.sign_pk, b(expected["signature_input"]), request.signature)
    decoded = JoinRequest.decode(raw)
    assert decoded == request
    decoded.verify(invite_keypair(link.secret)[1])


@check("invites", "decode_join_request")
def _decode_join_request(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: JoinRequest.decode(b(inputs["data"])))


@check("invites", "verify_join_request")
def _verify_join_request(inputs: Json, expected: Json) -> None:
    request = JoinRequest.decode(b(inputs["join_request"]))
    expect_error(expected, lambda: request.verify(b(inputs["invite_pk"])))


@check("invites", "rules_card")
def _rules_card(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])
    admin = Identity(b(inputs["signer_sign_seed"]), bytes(32))
    invite_id, secret = b(inputs["invite_id"]), b(inputs["secret"])
    metadata = GroupMetadata(inputs["name"], inputs["description"], inputs["rules"])
    assert state.group_metadata is not None
    ref_input = (state.group_id + state.group_metadata.epoch.to_bytes(8, "big")
                 + state.group_metadata.ciphertext)
    assert ref_input == b(expected["rules_ref_input"])
    assert rules_ref(state) == labelled_hash(labels.RULES_REF, ref_input) \
        == b(expected["rules_ref"])
    assert card_key(secret) == derive_key(secret, labels.INVITE_CARD_KEY) \
        == b(expected["card_key"])
    epoch_key = b(inputs["epoch_key"])
    assert digest_key(epoch_key, state.group_id, state.group_metadata.epoch) == derive_key(
        metadata_key(epoch_key, state.group_id, state.group_metadata.epoch),
        labels.RULES_DIGEST_KEY) == b(expected["digest_key"])
    card = make_rules_card(admin, state, invite_id, metadata, epoch_key,
                           now_ms=inputs["signed_at_ms"])
    assert card.digest_key == b(expected["digest_key"])
    assert card.raw == b(expected["card"])
    assert framed(labels.RULES_CARD, card.raw[:-64]) == b(expected["signature_input"])
    ed25519_ok(admin.sign_pk, b(expected["signature_input"]), card.signature)
    draws = Scripted(b(inputs["nonce"]))
    envelope = seal_rules_card(card, secret, random=draws)
    draws.done()
    assert envelope == b(expected["envelope"])
    opened = open_rules_card(envelope, secret, state.group_id, invite_id)
    check_rules_card(opened, state)
    assert opened == card and opened.metadata == metadata


@check("invites", "open_rules_card")
def _open_rules_card(inputs: Json, expected: Json) -> None:
    state = state_for(inputs["state"])

    def run() -> RulesCard:
        card = open_rules_card(b(inputs["data"]), b(inputs["secret"]), state.group_id,
                               b(inputs["invite_id"]))
        check_rules_card(card, state)
        return card

    if "error" in expected:
        expect_error(expected, run)
        return
    card = run()
    assert card.raw == b(expected["card"]) and card.metadata.name == expected["name"]


@check("invites", "rules_acceptance")
def _rules_acceptance(inputs: Json, expected: Json) -> None:
    member = Identity(b(inputs["member_sign_seed"]), bytes(32))
    key = b(inputs["digest_key"])
    acceptance = accept_rules(member, b(inputs["group_id"]), b(inputs["rules_ref"]),
                              inputs["rules"], key, now_ms=inputs["accepted_at_ms"])
    assert acceptance.rules_digest == b(expected["rules_digest"]) \
        == derive_key(key, labels.RULES_TEXT, inputs["rules"].encode("utf-8"))
    assert acceptance.raw == b(expected["acceptance"])
    assert framed(labels.RULES_ACCEPTANCE, acceptance.raw[:-64]) == b(expected["signature_input"])
    ed25519_ok(member.sign_pk, b(expected["signature_input"]), acceptance.signature)
    assert RulesAcceptance.decode(acceptance.raw) == acceptance
    assert len(acceptance.raw) == RulesAcceptance.ENCODED_SIZE


@check("invites", "decode_rules_acceptance")
def _decode_rules_acceptance(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: RulesAcceptance.decode(b(inputs["data"])))


# --- keystore ------------------------------------------------------------------------------


def contents_of(entries: list[Json]) -> KeystoreContents:
    return KeystoreContents(tuple((e["name"], b(e["secret"])) for e in entries))


@check("keystore", "decode_keystore_contents")
def _decode_keystore_contents(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: KeystoreContents.decode(b(inputs["data"])))


@check("keystore", "keystore_contents")
def _keystore_contents(inputs: Json, expected: Json) -> None:
    contents = contents_of(inputs["entries"])
    assert contents.encode() == b(expected["encoded"])
    assert KeystoreContents.decode(b(expected["encoded"])) == contents


@check("keystore", "seal_keystore")
def _seal_keystore(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: seal_keystore(
            contents_of(inputs["entries"]), inputs["passphrase"],
            params=KdfParams(**inputs["params"]),
            random=Scripted(b(inputs["salt"]), b(inputs["nonce"]))))
        return
    params = KdfParams(**inputs["params"])
    assert params == KdfParams()  # the vector uses the real default cost
    contents = contents_of(inputs["entries"])
    assert contents.encode() == b(expected["contents"])
    salt, nonce = b(inputs["salt"]), b(inputs["nonce"])
    draws = Scripted(salt, nonce)
    sealed = seal_keystore(contents, inputs["passphrase"], params=params, random=draws)
    draws.done()
    assert sealed == b(expected["keystore"])
    secret = unicodedata.normalize("NFC", inputs["passphrase"]).encode("utf-8")
    assert secret == b(expected["passphrase_nfc_utf8"])
    header = sealed[:54]
    assert header == b(expected["header"]) == (
        bytes((0x0F, 1)) + (3).to_bytes(4, "big") + (65536).to_bytes(4, "big")
        + (4).to_bytes(4, "big") + salt + nonce)
    key = argon2_low.hash_secret_raw(secret, salt, time_cost=3, memory_cost=65536,
                                     parallelism=4, hash_len=32, type=argon2_low.Type.ID,
                                     version=0x13)
    assert key == b(expected["argon2id_key"])
    aad = framed(labels.KEYSTORE, header)
    assert aad == b(expected["aad"])
    assert sealed[54:58] == len(sealed[58:]).to_bytes(4, "big")
    assert sealed[58:] == b(expected["ciphertext"])
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        sealed[58:], aad, nonce, key) == contents.encode()
    assert open_keystore(sealed, inputs["passphrase"]) == contents


@check("keystore", "open_keystore")
def _open_keystore(inputs: Json, expected: Json) -> None:
    data, passphrase = b(inputs["keystore"]), inputs["passphrase"]
    if "error" in expected:
        expect_error(expected, lambda: open_keystore(data, passphrase))
        return
    assert open_keystore(data, passphrase) == contents_of(expected["entries"])


@check("safety", "group_code")
def _group_code(inputs: Json, expected: Json) -> None:
    group_id, head = b(inputs["group_id"]), b(inputs["head"])
    seq, epoch = inputs["seq"], inputs["epoch"]
    message = group_id + seq.to_bytes(8, "big") + head + epoch.to_bytes(8, "big")
    assert framed(labels.GROUP_CODE, message) == b(expected["hash_input"])
    digest = labelled_hash(labels.GROUP_CODE, message, size=20)
    assert digest == b(expected["digest"])
    groups = [f"{int.from_bytes(digest[i:i + 5], 'big') % 100000:05d}" for i in range(0, 20, 5)]
    assert " ".join(groups) == expected["group_code"] == group_code(group_id, seq, head, epoch)
    state = full_state()
    assert state.hash_at(seq) == head and state.epoch_at(seq) == epoch


@check("keystore", "post_marks")
def _post_marks(inputs: Json, expected: Json) -> None:
    marks = [(b(a), m) for a, m in inputs["post_marks"]]
    assert encode_post_marks(marks) == b(expected["chunk"])
    assert decode_post_marks(b(expected["chunk"])) == marks


@check("keystore", "decode_post_marks")
def _decode_post_marks(inputs: Json, expected: Json) -> None:
    expect_error(expected, lambda: decode_post_marks(b(inputs["chunk"])))


@check("keystore", "export_identity")
def _export_identity(inputs: Json, expected: Json) -> None:
    me = Identity(b(inputs["sign_seed"]), b(inputs["box_sk"]))
    checkpoint = None if "checkpoint" not in inputs else _Checkpoint.decode(
        b(inputs["checkpoint"]))
    marks = {b(a): m for a, m in inputs.get("post_marks", [])}
    exported = ExportedIdentity(me, b(inputs["group_id"]), inputs["relay_url"], checkpoint,
                                marks)
    params = KdfParams(**inputs["params"])
    draws = Scripted(b(inputs["salt"]), b(inputs["nonce"]))
    sealed = export_identity(exported, inputs["passphrase"], params=params, random=draws)
    draws.done()
    assert sealed == b(expected["keystore"])
    entries: list[tuple[str, bytes]] = [("vault/identity", me.encode_private()),
                                        ("vault/group", b(inputs["group_id"])),
                                        ("vault/relay", expected["relay_url"].encode())]
    if checkpoint is not None:
        entries.append(("vault/checkpoint", checkpoint.encode()))
    if marks:
        entries.append(("vault/post-marks/0", encode_post_marks(sorted(marks.items()))))
    contents = KeystoreContents(tuple(entries))
    assert contents.encode() == b(expected["contents"])
    assert open_keystore(sealed, inputs["passphrase"]) == contents
    back = import_identity(sealed, inputs["passphrase"])
    assert back.identity.encode_private() == me.encode_private()
    assert (back.group_id, back.relay_url) == (b(inputs["group_id"]), expected["relay_url"])
    assert (back.checkpoint, dict(back.post_marks)) == (checkpoint, marks)


@check("keystore", "import_identity")
def _import_identity(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: import_identity(b(inputs["keystore"]),
                                                       inputs["passphrase"]))
        return
    back = import_identity(b(inputs["keystore"]), inputs["passphrase"])
    assert back.identity.encode_private() == b(expected["identity"])
    assert (back.group_id, back.relay_url) == (b(expected["group_id"]), expected["relay_url"])
    assert back.checkpoint == (None if expected["checkpoint"] is None
                               else LogCheckpoint.decode(b(expected["checkpoint"])))
    assert [[a.hex(), m] for a, m in sorted(back.post_marks.items())] == expected["post_marks"]


@check("keystore", "recovery_phrase")
def _recovery_phrase(inputs: Json, expected: Json) -> None:
    entropy = b(inputs["entropy"])
    assert backup.new_recovery_phrase(lambda n: entropy[:n]) == expected["phrase"]


@check("keystore", "normal_phrase")
def _normal_phrase(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: backup.normal_phrase(inputs["typed"]))
        return
    assert backup.normal_phrase(inputs["typed"]) == expected["phrase"]


@check("keystore", "epoch_keys")
def _epoch_keys(inputs: Json, expected: Json) -> None:
    keys = [(e, b(k)) for e, k in inputs["keys"]]
    assert backup.encode_epoch_keys(keys).hex() == expected["chunk"]
    assert backup.decode_epoch_keys(b(expected["chunk"])) == keys


def _backup_as_json(opened: backup.Backup) -> Json:
    return {"made_at_ms": opened.made_at_ms, "groups": [
        {"identity": g.exported.identity.encode_private().hex(),
         "group_id": g.exported.group_id.hex(), "relay_url": g.exported.relay_url,
         "checkpoint": None if g.exported.checkpoint is None
         else g.exported.checkpoint.encode().hex(),
         "post_marks": [[a.hex(), m] for a, m in sorted(g.exported.post_marks.items())],
         "epoch_keys": [[e, k.hex()] for e, k in sorted(g.epoch_keys.items())]}
        for g in opened.groups]}


@check("keystore", "open_backup")
def _open_backup(inputs: Json, expected: Json) -> None:
    sealed = b(inputs["keystore"])
    assert open_keystore(sealed, inputs["phrase"]).encode().hex() == expected["contents"]
    opened = backup.open_backup(sealed, inputs["phrase"])
    summary = {k: v for k, v in expected.items() if k != "contents"}
    assert _backup_as_json(opened) == summary
    assert backup.backup_contents(opened).encode().hex() == expected["contents"]


@check("keystore", "read_backup")
def _read_backup(inputs: Json, expected: Json) -> None:
    contents = KeystoreContents.decode(b(inputs["contents"]))
    if "error" in expected:
        expect_error(expected, lambda: backup.read_backup(contents))
        return
    assert _backup_as_json(backup.read_backup(contents)) == expected


# --- the local store -----------------------------------------------------------------------


@check("localstore", "local_store_key")
def _local_store_key(inputs: Json, expected: Json) -> None:
    secret = b(inputs["secret"])
    assert framed(labels.LOCAL_STORE_KEY, b"records") == b(expected["blake2b_message"])
    assert local_store_key(secret) == derive_key(secret, labels.LOCAL_STORE_KEY, b"records")
    assert local_store_key(secret) == b(expected["key"])


@check("localstore", "record_id")
def _record_id(inputs: Json, expected: Json) -> None:
    parts = [part["u64"] if "u64" in part else b(part["bytes"]) for part in inputs["parts"]]
    assert record_id(*parts) == b(expected["record_id"])
    layout = b"".join(bytes((0,)) + p.to_bytes(8, "big") if isinstance(p, int)
                      else bytes((1,)) + len(p).to_bytes(4, "big") + p for p in parts)
    assert layout == b(expected["record_id"])


@check("localstore", "seal_record")
def _seal_record(inputs: Json, expected: Json) -> None:
    key = local_store_key(b(inputs["secret"]))
    assert key == b(expected["store_key"])
    kind, record_id, plaintext = inputs["kind"], b(inputs["record_id"]), b(inputs["plaintext"])
    aad = Writer(0x10).text(kind).var(record_id).finish()
    assert aad == b(expected["aad"])
    draws = Scripted(b(inputs["nonce"]))
    record = seal_record(key, kind, record_id, plaintext, random=draws)
    draws.done()
    assert record == b(expected["record"])
    assert record[:2] == bytes((0x10, 1)) and record[2:26] == b(inputs["nonce"])
    assert record[30:] == b(expected["ciphertext"])
    assert nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        record[30:], aad, b(inputs["nonce"]), key) == plaintext
    assert open_record(key, kind, record_id, record) == plaintext


@check("localstore", "open_record")
def _open_record(inputs: Json, expected: Json) -> None:
    key = local_store_key(b(inputs["secret"]))
    expect_error(expected, lambda: open_record(key, inputs["kind"], b(inputs["record_id"]),
                                               b(inputs["record"])))


@check("localstore", "stored_post")
def _stored_post(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: decode_stored_post(b(inputs["data"])))
        return
    post = OpenedPost(PostBody.decode(b(inputs["body"])),
                      PostEnvelope.decode(b(inputs["envelope"])), b(inputs["signature"]))
    assert encode_stored_post(post) == b(expected["encoded"])
    assert decode_stored_post(b(expected["encoded"])) == post


@check("localstore", "post_stub")
def _post_stub(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: decode_post_stub(b(inputs["data"])))
        return
    stub = PostStub(b(inputs["post_id"]), b(inputs["author"]), inputs["author_seq"])
    assert encode_post_stub(stub) == b(expected["encoded"])
    assert decode_post_stub(b(expected["encoded"])) == stub


@check("localstore", "muted_members")
def _muted_members(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: decode_muted_members(b(inputs["data"])))
        return
    members = [b(m) for m in inputs["members"]]
    assert encode_muted_members(members) == b(expected["encoded"])
    assert encode_muted_members(reversed(members)) == b(expected["encoded"])  # one encoding
    assert decode_muted_members(b(expected["encoded"])) == frozenset(members)


@check("localstore", "deleted_group")
def _deleted_group(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: decode_deleted_group(b(inputs["data"])))
        return
    notice = DeletedGroup(inputs["name"], inputs["deleted_by"], inputs["deleted_at_ms"],
                          inputs["unsent_posts"], inputs["by_me"])
    assert encode_deleted_group(notice) == b(expected["encoded"])
    assert decode_deleted_group(b(expected["encoded"])) == notice


@check("localstore", "pending_join")
def _pending_join(inputs: Json, expected: Json) -> None:
    if "error" in expected:
        expect_error(expected, lambda: decode_pending_join(b(inputs["data"])))
        return
    raw = ob(inputs["join_request"])
    pending = PendingJoin(inputs["invite_uri"], None if raw is None else JoinRequest.decode(raw))
    assert encode_pending_join(pending) == b(expected["encoded"])
    assert decode_pending_join(b(expected["encoded"])) == pending


# --- relay authentication ------------------------------------------------------------------


def auth_layout(kind: int, group_id: bytes, subject: bytes, challenge: bytes) -> bytes:
    return bytes((0x0C, 1, kind)) + group_id + subject + challenge


@check("auth", "auth_member")
def _auth_member(inputs: Json, expected: Json) -> None:
    me = signer(inputs["sign_seed"])
    group_id, challenge = b(inputs["group_id"]), b(inputs["challenge"])
    assert me.sign_pk == b(expected["sign_pk"])
    message = auth.auth_message(auth.AuthSubject.MEMBER, group_id, me.sign_pk, challenge)
    assert message == auth_layout(1, group_id, me.sign_pk, challenge) == b(expected["message"])
    assert framed(labels.RELAY_AUTH, message) == b(expected["signature_input"])
    signature = auth.sign_member_challenge(me, group_id, challenge)
    assert signature == b(expected["signature"])
    auth.verify_member_challenge(me.sign_pk, group_id, challenge, signature)


@check("auth", "auth_invite")
def _auth_invite(inputs: Json, expected: Json) -> None:
    sk, pk = invite_keypair(b(inputs["invite_secret"]))
    assert pk == b(expected["invite_pk"])
    group_id, invite_id, challenge = (b(inputs["group_id"]), b(inputs["invite_id"]),
                                      b(inputs["challenge"]))
    message = auth.auth_message(auth.AuthSubject.INVITE, group_id, invite_id, challenge)
    assert message == auth_layout(2, group_id, invite_id, challenge) == b(expected["message"])
    assert framed(labels.RELAY_AUTH, message) == b(expected["signature_input"])
    signature = auth.sign_invite_challenge(sk, group_id, invite_id, challenge)
    assert signature == b(expected["signature"])
    auth.verify_invite_challenge(pk, group_id, invite_id, challenge, signature)


@check("auth", "session_token_hash")
def _session_token_hash(inputs: Json, expected: Json) -> None:
    token = b(inputs["token"])
    assert auth.session_token_hash(token) == labelled_hash(labels.RELAY_SESSION_TOKEN, token)
    assert auth.session_token_hash(token) == b(expected["hash"])


@check("auth", "verify_auth")
def _verify_auth(inputs: Json, expected: Json) -> None:
    pk, group_id = b(inputs["public_key"]), b(inputs["group_id"])
    subject, challenge, signature = b(inputs["subject"]), b(inputs["challenge"]), b(
        inputs["signature"])
    if inputs["kind"] == "member":
        assert subject == pk
        expect_error(expected, lambda: auth.verify_member_challenge(pk, group_id, challenge,
                                                                    signature))
    else:
        expect_error(expected, lambda: auth.verify_invite_challenge(pk, group_id, subject,
                                                                    challenge, signature))


# --- the files as a whole ------------------------------------------------------------------


TEXT_FIELDS = frozenset({
    "label", "constant", "kind_name", "short_fingerprint", "safety_number", "group_code", "text",
    "content_warning", "media_type", "file_name", "name", "description", "rules", "display_name",
    "type",
    "relay_url", "uri", "passphrase", "state", "kind", "error", "invite_uri", "reason", "event",
    "cause", "poll_options", "options", "policy_name", "deleted_by", "phrase", "typed",
})
"""The string-valued fields that are text (README.md); every other string is hex bytes."""


def strings(value: Any, key: str = "") -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from strings(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from strings(v, key)


def test_every_family_is_present_and_well_formed() -> None:
    assert sorted(p.stem for p in VECTOR_DIR.glob("*.json")) == sorted(FAMILIES)
    for family in FAMILIES:
        document = load(family)
        assert list(document) == ["object", "description", "vectors"]
        assert document["object"] == family
        names = [v["name"] for v in document["vectors"]]
        assert len(names) == len(set(names)), f"{family}: duplicate vector names"
        for vector in document["vectors"]:
            assert set(vector) <= {"name", "op", "description", "rules", "inputs", "expected"}
            assert (family, vector["op"]) in CHECKS, f"{family}: no check for {vector['op']}"
            negative = "error" in vector["expected"]
            assert vector["name"].startswith("reject_") == negative, vector["name"]
            rules = vector.get("rules", {})
            assert set(rules) <= {"accept", "reject"} and all(rules.values()), vector["name"]
            if negative:
                assert list(vector["expected"]) in (["error"], ["error", "reason"])
                assert "description" in vector, vector["name"]
                assert rules.get("reject"), f"{vector['name']}: a negative names its rule"
            for key, text in strings([vector["inputs"], vector["expected"]]):
                if key not in TEXT_FIELDS:
                    assert len(text) % 2 == 0 and bytes.fromhex(text).hex() == text, (
                        f"{family}:{vector['name']}: {key} is not lower-case hex")


def test_every_check_is_used() -> None:
    used = {(f, v["op"]) for f in FAMILIES for v in load(f)["vectors"]}
    assert set(CHECKS) == used


def test_coverage_of_labels_kinds_and_errors() -> None:
    constants = {n for n, v in vars(labels).items() if n.isupper() and isinstance(v, bytes)}
    covered = {v["inputs"]["constant"] for v in load("primitives")["vectors"]
               if v["op"] == "label"}
    assert covered == constants, "every label in labels.py needs a vector"
    kinds = {v["inputs"]["kind"] for v in load("log")["vectors"] if v["op"] == "log_entry"}
    assert kinds == {int(k) for k in EntryKind}
    post_kinds = {v["inputs"]["body"]["kind"] for v in load("posts")["vectors"]
                  if v["op"] == "seal_post"}
    assert post_kinds == {int(k) for k in PostKind}
    negatives = sum("error" in v["expected"] for f in FAMILIES for v in load(f)["vectors"])
    assert negatives >= 300


# --- rules: every rule of the specification is accepted and rejected by some vector -------


def spec_rules() -> list[Any]:
    from tests.vectors import generate

    return generate.spec_rules()


def coverage() -> dict[str, tuple[list[str], list[str]]]:
    from tests.vectors import generate

    return generate.rule_coverage({f"{f}.json": load(f) for f in FAMILIES})


def test_every_rule_of_the_spec_has_accepting_and_rejecting_vectors() -> None:
    """docs/protocol.md defines each rule by a table row whose first cell is its identifier;
    each must be named by a vector that accepts it and one that rejects it."""
    rules = spec_rules()
    idents = [rule.ident for rule in rules]
    assert len(idents) >= 200, "the rule tables of docs/protocol.md were not found"
    assert len(idents) == len(set(idents)), "a rule identifier is defined twice"
    covered = coverage()
    missing = [f"{i}: {'accepting' if not covered.get(i, ([], []))[0] else 'rejecting'}"
               for i in idents if not all(covered.get(i, ([], [])))]
    assert missing == [], f"rules without vectors: {missing}"
    assert sorted(set(covered) - set(idents)) == [], "vectors name rules the spec lacks"


def test_negative_vectors_fail_with_their_rules_error() -> None:
    """A negative vector's error (and §8.2 message) is one its rejected rule's row names, when
    the row names any."""
    codes = set(all_error_classes())
    by_ident = {rule.ident: rule.codes(codes) for rule in spec_rules()}
    by_reason = {rule.ident: {r for r in URI_REASONS if r in rule.row.rsplit("|", 2)[-2]}
                 for rule in spec_rules()}
    wrong = []
    for family in FAMILIES:
        for vector in load(family)["vectors"]:
            if "error" not in vector["expected"]:
                continue
            named = set().union(*(by_ident[i] for i in vector["rules"]["reject"]))
            if named and vector["expected"]["error"] not in named:
                wrong.append(f"{family}:{vector['name']} {vector['expected']['error']} "
                             f"not in {sorted(named)}")
            reasons = set().union(*(by_reason[i] for i in vector["rules"]["reject"]))
            if reasons and vector["expected"].get("reason") not in reasons:
                wrong.append(f"{family}:{vector['name']} {vector['expected'].get('reason')} "
                             f"not in {sorted(reasons)}")
    assert wrong == []


def test_readme_rule_table_is_current() -> None:
    from tests.vectors import generate

    documents = {f"{f}.json": load(f) for f in FAMILIES}
    readme = (VECTOR_DIR / "README.md").read_text(encoding="utf-8")
    assert generate.render_readme(documents, readme) == readme, (
        "tests/vectors/README.md's rule table is stale: run `make vectors`")
    assert "**none**" not in readme


def test_generator_reproduces_the_committed_files() -> None:
    from tests.vectors import generate

    rendered = generate.render_all()
    assert sorted(rendered) == sorted(f"{family}.json" for family in FAMILIES)
    for name, text in rendered.items():
        committed = (VECTOR_DIR / name).read_text(encoding="utf-8")
        assert text == committed, (
            f"tests/vectors/{name} is stale: run `make vectors` and review the diff "
            "(a changed vector means a changed wire format)")
