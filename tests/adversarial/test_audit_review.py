"""Regression tests for what a second review of the audit's fixes found (issue 8): bytes
swapped under a held post's id, a fence forgotten after a read cut short, a false stale-view
warning for a post sealed again, an edit outliving its disappearing post, a forgotten
group's traces, and names shaped like another member's label. Each was first reproduced as
a failing test, then fixed."""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
from vault_client import Client, Equivocation, InvalidPost, NameTakenError, StaleViewPosts

from tests.adversarial.conftest import PASSPHRASE, circle, texts
from tests.adversarial.hostile import RELAY_URL, Clock, HostileRelay, RelayView
from tests.adversarial.test_posts import secrets_of
from vault.api.purge import purge_expired
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import VaultError
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope, open_post, seal_post

EXPORT_PASSPHRASE = "a passphrase for moving phones"


def _forge(cleo: Client, gid: str, post_id: bytes, text: str) -> bytes:
    """A post Cleo writes, with the keys her device kept, dated in the log as she saw it."""
    identity, keys = secrets_of(cleo, gid)
    state = cleo._device.view(gid).state
    assert state is not None
    body = PostBody(author=identity.sign_pk, group_id=b64decode(gid), epoch=state.epoch,
                    post_id=post_id, author_seq=1, log_seq=state.seq, log_head=state.head,
                    timestamp_ms=state.timestamp_ms + 1, kind=PostKind.POST, text=text)
    return seal_post(identity, keys[state.epoch], body).encode()


def _inject(view: RelayView, post_id: bytes, envelope: bytes) -> None:
    """The relay adds a post to every page it serves this client."""
    def rewrite(_g: bytes, page: dict[str, object]) -> dict[str, object]:
        cursor = page["cursor"] or "0"
        item = {"post_id": b64encode(post_id), "cursor": cursor,
                "envelope": b64encode(envelope), "deleted": False,
                "created_at_ms": 0, "expires_at_ms": None}
        return {**page, "posts": [*page["posts"], item], "cursor": cursor}  # type: ignore[misc]
    view.posts = rewrite


def _held_history(people: SimpleNamespace, canary: Callable[[str], str]
                  ) -> tuple[Client, Client, Client, str, bytes]:
    """Cleo's post X, from before Ben joined under history "none": held on Ben's device
    for good (he never gets its key)."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = ann.create_group(canary("group name")).group_id
    ann.approve(gid, cleo.join(ann.create_invite(gid).uri).member_id, share_history="current")
    cleo.sync(gid)
    x = b64decode(cleo.post(gid, canary("post")).post_id)
    ann.approve(gid, ben.join(ann.create_invite(gid).uri).member_id, share_history="none")
    for person in (ann, cleo, ben):
        person.sync(gid)
    assert x in ben._device.view(gid).held
    return ann, ben, cleo, gid, x


@pytest.mark.parametrize("post_id", ["a held post's id", "a new id"])
def test_bytes_served_under_a_held_id_are_a_new_arrival(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        post_id: str) -> None:
    """After her removal (and after Ben's device read the group since), the relay serves
    Ben a post Cleo wrote then, under the id of a post his device holds from before: it is
    refused as a new arrival would be, not judged by the held post's arrival."""
    ann, ben, cleo, gid, x = _held_history(people, canary)
    ann.remove(gid, cleo.me(gid).member_id)
    ben.sync(gid)
    ben.sync(gid)  # a complete read that began after the removal
    pid = x if post_id == "a held post's id" else secrets.token_bytes(16)
    text = canary("written after her removal")
    _inject(hostile.view("ben"), pid, _forge(cleo, gid, pid, text))
    report = ben.sync(gid)[0]
    refused = [w for w in report.warnings if isinstance(w, InvalidPost)]
    assert [w.code for w in refused] == ["not_a_member"]
    assert text not in texts(ben, gid)


def test_a_read_cut_short_does_not_forget_the_fence(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ben's device read the group after Cleo's removal; a later read is cut short (one page,
    then a 502) and the device is opened again. A post Cleo writes after her removal is still
    refused: a complete read stays complete."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    removed_at = ann.group(gid).log_seq + 1
    ann.remove(gid, cleo.me(gid).member_id)
    ben.sync(gid)
    ben.sync(gid)
    ann.post(gid, canary("post"))
    ann.post(gid, canary("post"))
    pages = {"served": 0}

    def cut_short(request: httpx.Request, real: httpx.Response) -> httpx.Response:
        if request.method == "GET" and request.url.path.endswith("/posts"):
            pages["served"] += 1
            if pages["served"] == 1:
                first = real.json()["posts"][:1]
                return httpx.Response(200, json={"posts": first, "cursor": first[0]["cursor"],
                                                 "more": True})
            return httpx.Response(502, json={"error": {"code": "unavailable",
                                                       "message": "down"}})
        return real

    hostile.view("ben").respond = cut_short
    with pytest.raises(VaultError):
        ben.sync(gid)
    hostile.view("ben").reset()
    ben.close()
    people.ben = ben = people.reopen("ben")
    assert ben._device.view(gid).fence_seq >= removed_at
    cleo_view = hostile.view("cleo")
    cleo_view.omniscient = True
    cleo_view.log = lambda _g, log: log[:removed_at]
    sneaked = cleo.post(gid, canary("after removal"))
    cleo_view.reset()
    refused = [w for w in ben.sync(gid)[0].warnings if isinstance(w, InvalidPost)]
    assert [w.post_id for w in refused] == [sneaked.post_id]


def test_a_post_sealed_again_is_not_said_to_be_exposed(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        clock: Clock) -> None:
    """Ben writes offline after a removal his device has not seen; the honest relay refuses
    the old epoch and his device seals the post again. Nobody who left could read it, so
    his device does not say anyone may have."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ann.remove(gid, cleo.me(gid).member_id)
    clock.offset_ms += 1000
    hostile.view("ben").intercept = lambda _request: httpx.Response(
        502, json={"error": {"code": "unavailable", "message": "down"}})
    queued = ben.post(gid, canary("written offline"))
    assert queued.status == "queued"
    hostile.view("ben").reset()
    report = ben.sync(gid)[0]
    envelope = PostEnvelope.decode(hostile.envelope(b64decode(gid), b64decode(queued.post_id)))
    assert envelope.epoch == ann.group(gid).epoch
    assert not [w for w in [*report.warnings, *ben.warnings()] if isinstance(w, StaleViewPosts)]


def test_a_post_sealed_again_for_a_newer_epoch_is_one_post(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Cleo's post is sealed at one epoch, then (its first answer lost) sealed again after a
    rotation; the relay serves Ben both. It is one post, not an equivocation: shown once,
    and the newer sealing is what his device keeps, in memory and in its store (TL-8)."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    text = canary("sealed twice")
    pid = secrets.token_bytes(16)
    first = _forge(cleo, gid, pid, text)
    ann.rotate(gid)
    cleo.sync(gid)
    identity, keys = secrets_of(cleo, gid)
    state = cleo._device.view(gid).state
    assert state is not None
    body = open_post(PostEnvelope.decode(first), keys[state.epoch - 1], state).body
    again = seal_post(identity, keys[state.epoch], replace(
        body, epoch=state.epoch, log_seq=state.seq, log_head=state.head)).encode()
    view = hostile.view("ben")
    _inject(view, pid, first)
    warnings = list(ben.sync(gid)[0].warnings)
    _inject(view, pid, again)
    warnings += ben.sync(gid)[0].warnings
    view.reset()
    assert not [w for w in warnings if isinstance(w, (Equivocation, InvalidPost))]
    assert texts(ben, gid).count(text) == 1
    ben.close()
    people.ben = ben = people.reopen("ben")
    kept = ben._device.view(gid).timeline.get(pid)
    assert kept is not None and kept.envelope.encode() == again
    assert texts(ben, gid).count(text) == 1


def test_an_edit_disappears_with_its_post(people: SimpleNamespace, hostile: HostileRelay,
                                          canary: Callable[[str], str]) -> None:
    """An edit (and what it attached) of a disappearing post disappears with it, at the
    relay too."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    posted = ann.post(gid, canary("disappearing"), expires_in=60,
                      attachments=[(b"first attachment", "text/plain")])
    ann.edit(gid, posted.post_id, canary("edited"),
             attachments=[(b"second attachment", "text/plain")])
    with hostile.app.app_context():
        purge_expired(now_ms=10**13)
    with sqlite3.connect(hostile.database) as conn:
        posts = conn.execute("SELECT COUNT(*) FROM posts WHERE group_id=?",
                             (b64decode(gid),)).fetchone()[0]
        blobs = conn.execute("SELECT COUNT(*) FROM blobs WHERE group_id=?",
                             (b64decode(gid),)).fetchone()[0]
    assert (posts, blobs) == (0, 0)


def test_forgetting_a_group_leaves_no_trace_of_it(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        tmp_path: Path) -> None:
    """What a device kept about a group it forgets (its fence, an import's post marks) goes
    too: its group id stays nowhere in the local store."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    ann.post(gid, canary("post"))
    ben.sync(gid)
    exported = ben.export_identity(gid, EXPORT_PASSPHRASE)
    phone = Client(PASSPHRASE + "phone", home=tmp_path / "phone", relay_url=RELAY_URL,
                   transport=hostile.view("phone"), retry_for=0.0)
    try:
        phone.import_identity(exported, EXPORT_PASSPHRASE)
        phone.sync(gid)
        phone.forget_group(gid)
        with sqlite3.connect(Path(phone.home) / "client.db") as conn:
            keys = [k for (k,) in conn.execute("SELECT key FROM meta")]
        assert not [k for k in keys if gid in k]
    finally:
        phone.close()


def test_a_name_cannot_copy_a_label(people: SimpleNamespace, hostile: HostileRelay,
                                    canary: Callable[[str], str]) -> None:
    """Ben has no name and shows as "member <fingerprint>"; Cleo cannot take that as her
    name, nor "ann (<Ann's fingerprint>)". A client that does not check (her profile sealed
    directly) still cannot look like either: she is shown with her own fingerprint."""
    from vault_client._internal.rotation import publish_profile

    from vault.crypto.metadata import MemberProfile

    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = ann.create_group(canary("group name"), display_name="ann").group_id
    for person in (ben, cleo):  # (neither sets a name)
        ann.approve(gid, person.join(ann.create_invite(gid).uri).member_id,
                    share_history="current")
    for person in (ann, ben, cleo):
        person.sync(gid)
    shown = {m.member_id: m.label for m in cleo.members(gid)}
    ben_label = shown[ben.me(gid).member_id]
    for copied in (ben_label, "ann (" + ann._device.view(gid).me.public.short_fingerprint()
                   + ")"):
        with pytest.raises(NameTakenError):
            cleo.set_display_name(gid, copied)
    device = cleo._device
    publish_profile(device, device.view(gid), MemberProfile(ben_label))
    ann.sync(gid)
    labels = [m.label for m in ann.members(gid)]
    assert len(labels) == len(set(labels))
