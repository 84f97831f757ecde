"""Posts through a hostile relay: withheld, reordered, replayed (same group, other group,
other epoch), relabelled, equivocated, tampered with, forged deletions. Each is reported
with its specific warning; no bad post is stored or shown."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import nacl.bindings
import pytest
from vault_client import Client, Equivocation, InvalidPost, PostsWithheld, UnknownLogHead

from tests.adversarial.conftest import circle, stored_post_ids, texts
from tests.adversarial.hostile import HostileRelay
from vault.crypto import labels
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.epochs import post_key
from vault.crypto.errors import (
    DecryptionError,
    MalformedError,
    PostError,
    PostRejectedError,
    SignatureError,
)
from vault.crypto.identity import Identity
from vault.crypto.padding import pad, unpad
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope
from vault.crypto.primitives import AEAD_NONCE_SIZE as NONCE_SIZE

Page = dict[str, Any]


def item(hostile: HostileRelay, gid: str, post_id: str, cursor: str,
         envelope: bytes | None = None) -> dict[str, Any]:
    """A GET /posts item for a stored post (optionally with other envelope bytes)."""
    raw = envelope if envelope is not None else hostile.envelope(b64decode(gid),
                                                                 b64decode(post_id))
    return {"post_id": post_id, "cursor": cursor, "envelope": b64encode(raw), "deleted": False,
            "created_at_ms": 0, "expires_at_ms": None}


def drop(*post_ids: str) -> Callable[[bytes, Page], Page]:
    def rewrite(_gid: bytes, page: Page) -> Page:
        return {**page, "posts": [p for p in page["posts"] if p["post_id"] not in post_ids]}
    return rewrite


def warnings_of(kind: type, report: Any) -> list[Any]:
    return [w for w in report.warnings if isinstance(w, kind)]


# --- what a member (who holds the epoch key) can forge, with the relay's help -----------------


def secrets_of(client: Client, gid: str) -> tuple[Identity, dict[int, bytes]]:
    """A malicious member's own identity and epoch keys (read out of its device)."""
    view = client._device.view(gid)
    return view.me, dict(view.keys)


def seal_as(signer: Identity, key: bytes, body: PostBody, *, envelope_post_id: bytes | None = None,
            signature: bytes | None = None, signed: bytes | None = None) -> PostEnvelope:
    """Encrypt *body* under *key* with a signature by *signer* (whoever the body names as
    its author), or the *signature* / *signed* bytes given: what a forger can make."""
    signed = body.encode() if signed is None else signed
    signature = signer.sign(labels.POST_SIGNATURE, signed) if signature is None else signature
    post_id = body.post_id if envelope_post_id is None else envelope_post_id
    header = PostEnvelope(body.group_id, body.epoch, post_id, body.log_seq, body.log_head,
                          body.expires_at_ms, b"\0" * NONCE_SIZE, b"").header
    nonce = secrets.token_bytes(NONCE_SIZE)
    ciphertext = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_encrypt(
        pad(signed + signature), header, nonce, post_key(key, body.group_id, body.epoch))
    return PostEnvelope(body.group_id, body.epoch, post_id, body.log_seq, body.log_head,
                        body.expires_at_ms, nonce, ciphertext)


def open_raw(envelope: bytes, key: bytes) -> tuple[bytes, bytes]:
    """(signed body, signature) of a post, decrypted with the epoch key a member holds."""
    env = PostEnvelope.decode(envelope)
    padded = nacl.bindings.crypto_aead_xchacha20poly1305_ietf_decrypt(
        env.ciphertext, env.header, env.nonce, post_key(key, env.group_id, env.epoch))
    plain = unpad(padded)
    return plain[:-64], plain[-64:]


def body_like(client: Client, gid: str, *, author: bytes, author_seq: int,
              text: str) -> PostBody:
    view = client._device.view(gid)
    state = view.state
    assert state is not None
    return PostBody(author=author, group_id=state.group_id, epoch=state.epoch,
                    post_id=secrets.token_bytes(16), author_seq=author_seq, log_seq=state.seq,
                    log_head=state.head, timestamp_ms=state.timestamp_ms + 1,
                    kind=PostKind.POST, text=text)


# --- withholding and order -------------------------------------------------------------------


def test_relay_withholds_post(people: SimpleNamespace, hostile: HostileRelay,
                              canary: Callable[[str], str]) -> None:
    """Ann's second post of three is dropped for Ben: PostsWithheld names Ann and the hole;
    the post is not shown or stored."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    sent = [canary("post") for _ in range(3)]
    posted = [ann.post(gid, text) for text in sent]
    hostile.view("ben").posts = drop(posted[1].post_id)
    report = ben.sync(gid)[0]
    (warning,) = warnings_of(PostsWithheld, report)
    assert warning.author == ann.me(gid).member_id
    assert warning.missing == ((2, 2),) and warning.count == 1
    assert texts(ben, gid) == [sent[0], sent[2]]
    assert posted[1].post_id not in stored_post_ids(ben, gid)
    assert warning in ben.warnings()  # kept for the client's lifetime


def test_relay_withholds_newest_post(people: SimpleNamespace, hostile: HostileRelay,
                                     canary: Callable[[str], str]) -> None:
    """Dropping an author's newest post leaves no hole yet (a residual risk: nothing signed
    says a post exists until a later one does); the author's next post exposes it."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    first, hidden = ann.post(gid, canary("post")), ann.post(gid, canary("post"))
    hostile.view("ben").posts = drop(hidden.post_id)
    assert not warnings_of(PostsWithheld, ben.sync(gid)[0])
    ann.post(gid, canary("post"))
    (warning,) = warnings_of(PostsWithheld, ben.sync(gid)[0])
    assert warning.missing == ((2, 2),)
    assert hidden.post_id not in {p.post_id for p in ben.posts(gid)} | stored_post_ids(ben, gid)
    assert first.post_id in stored_post_ids(ben, gid)


def test_relay_reorders_posts(people: SimpleNamespace, hostile: HostileRelay,
                              canary: Callable[[str], str]) -> None:
    """Posts served backwards, and a post served only after its reply and after a later
    post by its author: the hole is reported while open, then filled, and Cleo's device
    shows the same causal order as an honest view."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    root = ann.post(gid, canary("post"))
    ben.sync(gid)
    reply = ben.reply(gid, root, canary("reply"))
    later = ann.post(gid, canary("post"))
    ann.sync(gid)
    honest = [(p.post_id, p.reply_to) for p in ann.posts(gid)]
    assert [pid for pid, _ in honest] == [root.post_id, reply.post_id, later.post_id]

    # Cleo first gets the reply and the later post, backwards, and not the root...
    def first_pass(_gid: bytes, page: Page) -> Page:
        posts = [p for p in page["posts"] if p["post_id"] != root.post_id]
        return {**page, "posts": posts[::-1]}

    hostile.view("cleo").posts = first_pass
    (warning,) = warnings_of(PostsWithheld, cleo.sync(gid)[0])
    assert warning.author == ann.me(gid).member_id and warning.missing == ((1, 1),)
    # ...then the root, after everything else (its cursor long passed).
    hostile.view("cleo").posts = lambda g, page: {
        **page, "posts": [*page["posts"], item(hostile, gid, root.post_id, page["cursor"] or "1")]}
    report = cleo.sync(gid)[0]
    assert not report.warnings
    assert [(p.post_id, p.reply_to) for p in cleo.posts(gid)] == honest
    (thread,) = [t for t in cleo.threads(gid) if t.root.post_id == root.post_id]
    assert [r.post_id for r in thread.replies] == [reply.post_id]


# --- replay ------------------------------------------------------------------------------------


def test_relay_replays_post(people: SimpleNamespace, hostile: HostileRelay,
                            canary: Callable[[str], str]) -> None:
    """The same post served again (in one page, and in a later sync) is one post, silently;
    served under another post's id (say, one the relay wants to hide) it is refused."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    text = canary("post")
    posted = ann.post(gid, text)
    target = ann.post(gid, canary("post the relay wants gone"))
    copy = item(hostile, gid, posted.post_id, "1")
    hostile.view("ben").posts = lambda g, page: {
        **page, "posts": [*page["posts"], copy, copy]}
    report = ben.sync(gid)[0]
    assert not report.warnings
    report = ben.sync(gid)[0]  # and once more, next time
    assert not report.warnings and report.new_posts == 0
    assert texts(ben, gid).count(text) == 1

    other_id = ann.post(gid, canary("post")).post_id
    hostile.view("ben").posts = lambda g, page: {**page, "posts": [
        item(hostile, gid, other_id, p["cursor"], hostile.envelope(b64decode(gid),
                                                                    b64decode(posted.post_id)))
        if p["post_id"] == other_id else p for p in page["posts"]]}
    (warning,) = warnings_of(InvalidPost, ben.sync(gid)[0])
    assert warning.post_id == other_id and warning.code == PostRejectedError.code
    assert other_id not in stored_post_ids(ben, gid)
    assert target.post_id in stored_post_ids(ben, gid)


def test_relay_replays_post_into_other_group(people: SimpleNamespace, hostile: HostileRelay,
                                             canary: Callable[[str], str]) -> None:
    """Ann and Ben share two groups (at the same epoch number); a post of one, served in
    the other, is refused: the group id is bound to the ciphertext and to the signed body."""
    ann, ben = people.ann, people.ben
    first = circle(canary, ann, ben)
    second = circle(canary, ann, ben)
    assert ben.group(first).epoch == ben.group(second).epoch
    posted = ann.post(first, canary("post"))
    envelope = hostile.envelope(b64decode(first), b64decode(posted.post_id))
    hostile.view("ben").posts = lambda g, page: page if g != b64decode(second) else {
        **page, "posts": [*page["posts"], item(hostile, first, posted.post_id, "1", envelope)]}
    report = ben.sync(second)[0]
    (warning,) = warnings_of(InvalidPost, report)
    assert warning.post_id == posted.post_id and warning.code == PostError.code
    assert texts(ben, second) == []


def test_relay_replays_post_into_other_epoch(people: SimpleNamespace, hostile: HostileRelay,
                                             canary: Callable[[str], str]) -> None:
    """Across a rotation the relay relabels a post of the old epoch as the new epoch's and
    one of the new epoch as the old's (the epoch is in the clear header): Ben holds both
    keys, and neither post decrypts (the header is associated data, and each epoch has its
    own key)."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    old = ann.post(gid, canary("post"))
    epoch = ann.rotate(gid)
    new = ann.post(gid, canary("post"))
    epoch_at = 2 + 32  # tag, version, group id: then the epoch (u64)
    gid_b = b64decode(gid)
    relabelled = {old.post_id: epoch, new.post_id: epoch - 1}

    def relabel(_g: bytes, page: Page) -> Page:
        out = []
        for p in page["posts"]:
            if p["post_id"] in relabelled:
                raw = hostile.envelope(gid_b, b64decode(p["post_id"]))
                raw = raw[:epoch_at] + relabelled[p["post_id"]].to_bytes(8, "big") + \
                    raw[epoch_at + 8:]
                p = item(hostile, gid, p["post_id"], p["cursor"], raw)
            out.append(p)
        return {**page, "posts": out}

    hostile.view("ben").posts = relabel
    report = ben.sync(gid)[0]
    assert ben.group(gid).epoch == epoch and {0, epoch} <= set(secrets_of(ben, gid)[1])
    refused = warnings_of(InvalidPost, report)
    assert {(w.post_id, w.code) for w in refused} == {
        (old.post_id, DecryptionError.code), (new.post_id, DecryptionError.code)}
    assert not {old.post_id, new.post_id} & stored_post_ids(ben, gid)
    assert texts(ben, gid) == []


# --- sender ------------------------------------------------------------------------------------


def test_relay_relabels_post_sender(people: SimpleNamespace, hostile: HostileRelay,
                                    canary: Callable[[str], str]) -> None:
    """Nothing in the clear says who wrote a post; to put words in Ann's mouth, the relay
    and Ben (a member: he holds the epoch key) must forge inside the ciphertext. A body
    naming Ann signed by Ben, a body naming Ann with a signature of Ann's over another
    post, and Ann's own signed post re-encrypted under a new id: Cleo refuses all three."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    genuine = ann.post(gid, canary("post"))
    ben.sync(gid)
    ben_id, keys = secrets_of(ben, gid)
    ann_pk = b64decode(ann.me(gid).member_id)
    gid_b = b64decode(gid)
    epoch = ben.group(gid).epoch
    key = keys[epoch]
    signed, signature = open_raw(hostile.envelope(gid_b, b64decode(genuine.post_id)), key)

    signed_by_ben = body_like(ben, gid, author=ann_pk, author_seq=2, text=canary("forged"))
    spliced = body_like(ben, gid, author=ann_pk, author_seq=3, text=canary("forged"))
    reused = PostBody.decode(signed)
    forgeries = {
        seal_as(ben_id, key, signed_by_ben): SignatureError.code,
        seal_as(ben_id, key, spliced, signature=signature): SignatureError.code,
        seal_as(ben_id, key, reused, envelope_post_id=secrets.token_bytes(16),
                signed=signed, signature=signature): PostError.code,
    }
    for envelope in forgeries:
        hostile.store_post(gid_b, envelope.post_id, envelope.encode())
    report = cleo.sync(gid)[0]
    refused = {w.post_id: w.code for w in warnings_of(InvalidPost, report)}
    assert refused == {b64encode(e.post_id): code for e, code in forgeries.items()}
    assert [(p.post_id, p.author) for p in cleo.posts(gid)] == [
        (genuine.post_id, ann.me(gid).member_id)]


def test_relay_serves_equivocating_posts(people: SimpleNamespace, hostile: HostileRelay,
                                         canary: Callable[[str], str]) -> None:
    """Ben's device (or a copy of his identity) signs two different posts with one post
    number, and one post id under two bodies; the relay stores both. Cleo gets Equivocation
    warnings and keeps the first of each."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    first = ben.post(gid, canary("post"))
    ben_id, keys = secrets_of(ben, gid)
    key = keys[ben.group(gid).epoch]
    twin = body_like(ben, gid, author=ben_id.sign_pk, author_seq=1, text=canary("twin"))
    other = body_like(ben, gid, author=ben_id.sign_pk, author_seq=2, text=canary("other"))
    same_id = body_like(ben, gid, author=ben_id.sign_pk, author_seq=3, text=canary("same id"))
    for body in (twin, other):
        hostile.store_post(b64decode(gid), body.post_id, seal_as(ben_id, key, body).encode())
    report = cleo.sync(gid)[0]
    (warning,) = warnings_of(Equivocation, report)
    assert warning.post_id == b64encode(twin.post_id)
    # One post id, a second body: served in the place of the one Cleo already holds.
    clash = PostBody(**{**same_id.__dict__, "post_id": other.post_id})
    forged = seal_as(ben_id, key, clash).encode()
    hostile.view("cleo").posts = lambda g, page: {**page, "posts": [
        *page["posts"], item(hostile, gid, b64encode(other.post_id), "1", forged)]}
    (warning,) = warnings_of(Equivocation, cleo.sync(gid)[0])
    assert warning.post_id == b64encode(other.post_id)
    shown = {p.post_id: p.text for p in cleo.posts(gid)}
    assert set(shown) == {first.post_id, b64encode(other.post_id)}
    assert shown[b64encode(other.post_id)] == other.text


# --- bytes -------------------------------------------------------------------------------------


_MAL, _DEC = ("InvalidPost", MalformedError.code), ("InvalidPost", DecryptionError.code)
ENVELOPE_FIELDS = {  # one byte in each field of an envelope (no expiry) -> what Ben reports
    "tag": (0, _MAL), "version": (1, _MAL),
    "group id": (2, ("InvalidPost", PostError.code)),  # checked before decrypting
    "group id, last byte": (33, ("InvalidPost", PostError.code)),
    "epoch": (41, ("UnknownLogHead", None)),  # epoch 0 -> 1: a key this log has not started
    "post id": (42, ("InvalidPost", PostRejectedError.code)),  # not the id it is served under
    "log seq": (65, _DEC), "log head": (66, _DEC), "log head, last byte": (97, _DEC),
    "expiry flag": (98, _MAL), "nonce": (99, _DEC), "nonce, last byte": (122, _DEC),
    "length": (126, _MAL), "ciphertext": (127, _DEC), "ciphertext, middle": (250, _DEC),
    "authentication tag": (-1, _DEC),
}


def test_relay_tampers_with_post_envelope_bytes(people: SimpleNamespace, hostile: HostileRelay,
                                                canary: Callable[[str], str]) -> None:
    """One byte flipped in every field of the envelope, one post each: every tampered post
    is refused with a warning (InvalidPost; UnknownLogHead when the flip makes it claim an
    epoch beyond the log) and none is stored; the untouched post is."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    control = ann.post(gid, canary("post"))
    targets = {field: ann.post(gid, canary("post")).post_id for field in ENVELOPE_FIELDS}
    offsets = {targets[field]: at for field, (at, _expected) in ENVELOPE_FIELDS.items()}

    def tamper(_g: bytes, page: Page) -> Page:
        out = []
        for p in page["posts"]:
            if p["post_id"] in offsets:
                raw = bytearray(b64decode(p["envelope"]))
                raw[offsets[p["post_id"]]] ^= 0x01
                p = {**p, "envelope": b64encode(bytes(raw))}
            out.append(p)
        return {**page, "posts": out}

    hostile.view("ben").posts = tamper
    report = ben.sync(gid)[0]
    seen = {w.post_id: (type(w).__name__, getattr(w, "code", None)) for w in report.warnings
            if isinstance(w, InvalidPost | UnknownLogHead)}
    assert {field: seen.get(targets[field]) for field in ENVELOPE_FIELDS} == {
        field: expected for field, (_at, expected) in ENVELOPE_FIELDS.items()}
    assert stored_post_ids(ben, gid) & set(offsets) == set()
    assert control.post_id in stored_post_ids(ben, gid)
    assert [p.post_id for p in ben.posts(gid)] == [control.post_id]


def test_relay_forges_post_deletion(people: SimpleNamespace, hostile: HostileRelay,
                                    canary: Callable[[str], str]) -> None:
    """The relay says posts were deleted (no ciphertext, "deleted": true) when their author
    signed no deletion. One Ben already holds stays shown; one he never saw is a hole in
    Ann's numbering that no signed deletion explains: PostsWithheld."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    seen = ann.post(gid, canary("post"))
    ben.sync(gid)
    unseen = ann.post(gid, canary("post"))
    later = ann.post(gid, canary("post"))

    def tombstone(_g: bytes, page: Page) -> Page:
        gone = [{**item(hostile, gid, pid, page["cursor"] or "1"), "envelope": None,
                 "deleted": True} for pid in (seen.post_id, unseen.post_id)]
        return {**page, "posts": [*gone, *(p for p in page["posts"]
                                           if p["post_id"] != unseen.post_id)]}

    hostile.view("ben").posts = tombstone
    report = ben.sync(gid)[0]
    (warning,) = warnings_of(PostsWithheld, report)
    assert warning.missing == ((2, 2),)
    shown = {p.post_id: p.deleted for p in ben.posts(gid)}
    assert shown == {seen.post_id: False, later.post_id: False}


def test_relay_tampers_with_attachment(people: SimpleNamespace, hostile: HostileRelay,
                                       canary: Callable[[str], str]) -> None:
    """An attachment's blob with a byte flipped (at its start, middle and end), cut short,
    or swapped for another attachment of the same size: AttachmentMismatchError, never the
    wrong bytes. The relay never sees the attachment's content."""
    from vault.crypto.errors import AttachmentMismatchError

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    photo = canary("attachment").encode() * 40
    other = canary("attachment").encode() * 40
    posted = ann.post(gid, canary("post"), attachments=[(photo, "image/png")])
    decoy = ann.post(gid, canary("post"), attachments=[(other, "image/png")])
    ben.sync(gid)
    attachment = ben.get_post(gid, posted).attachments[0]
    decoy_blob = hostile.blob(b64decode(gid),
                              ben.get_post(gid, decoy).attachments[0].ref.blob_id)
    assert len(decoy_blob) == len(hostile.blob(b64decode(gid), attachment.ref.blob_id))

    def flip(at: int) -> Callable[[bytes, bytes], bytes]:
        def rewrite(_blob_id: bytes, data: bytes) -> bytes:
            raw = bytearray(data)
            raw[at] ^= 0x01
            return bytes(raw)
        return rewrite

    for rewrite in (flip(0), flip(300), flip(-1), lambda _b, data: data[:-1],
                    lambda _b, _data: decoy_blob):
        hostile.view("ben").blob = rewrite
        with pytest.raises(AttachmentMismatchError):
            ben.attachment(gid, attachment)
    hostile.reset()
    assert ben.attachment(gid, attachment) == photo


def test_relay_tampers_with_response_metadata(people: SimpleNamespace, hostile: HostileRelay,
                                              canary: Callable[[str], str]) -> None:
    """What the relay says in the clear around the ciphertext is not trusted: a log head far
    beyond the entries it serves, posts it says expired long ago or were created at time 0,
    and cursors out of order. Ben's device goes by the signed log and the signed bodies:
    nothing changes, nothing is hidden, and the verified log does not move."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    sent = [canary("post") for _ in range(2)]
    for text in sent:
        ann.post(gid, text)
    seq = ben.group(gid).log_seq
    view = hostile.view("ben")
    view.log_head_seq = lambda _true: 10**12
    view.posts = lambda _g, page: {**page, "posts": [
        {**p, "expires_at_ms": 1, "created_at_ms": 0} for p in page["posts"]][::-1]}
    report = ben.sync(gid)[0]
    assert not report.warnings
    assert sorted(texts(ben, gid)) == sorted(sent)
    assert ben.group(gid).log_seq == seq


def test_relay_resurrects_deleted_post(people: SimpleNamespace, hostile: HostileRelay,
                                       canary: Callable[[str], str]) -> None:
    """Ann deletes her post (a signed DELETE; the relay erases the ciphertext). The relay
    kept a copy and serves it again, to a device that saw the deletion and to one that did
    not: both show it deleted, without its words."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    text = canary("post")
    posted = ann.post(gid, text)
    kept = hostile.envelope(b64decode(gid), b64decode(posted.post_id))
    ben.sync(gid)
    ann.delete(gid, posted)
    ben.sync(gid)
    assert dict((p, e) for p, _c, e in hostile.posts(b64decode(gid)))[
        b64decode(posted.post_id)] is None  # erased at the relay
    for name, member in (("ben", ben), ("cleo", cleo)):
        hostile.view(name).posts = lambda g, page: {**page, "posts": [
            item(hostile, gid, posted.post_id, page["cursor"] or "1", kept),
            *(p for p in page["posts"] if p["post_id"] != posted.post_id)]}
        member.sync(gid)
        (shown,) = [p for p in member.posts(gid) if p.post_id == posted.post_id]
        assert shown.deleted and shown.text == ""
        assert text not in texts(member, gid)
