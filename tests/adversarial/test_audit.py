"""Regression tests for the independent audit (issue 8), through the hostile relay: history
policy across failed steps, held posts judged as they first arrived, posts written on a
stale view, posts from departed members seen late, a restored identity that remembers what
it verified, content warnings kept, members told apart, forks people can compare."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from vault_client import (
    InvalidPost,
    NameTakenError,
    PostsFromDepartedMember,
    PostsWithheld,
    StaleViewPosts,
)

from tests.adversarial.conftest import PASSPHRASE, circle, stored_post_ids, texts
from tests.adversarial.hostile import HostileRelay
from tests.adversarial.test_posts import secrets_of
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    ForkError,
    NotAMemberError,
    RelayUnavailableError,
    RollbackError,
)
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import EntryKind

# --- 1. history "none" survives a failed step ------------------------------------------------


def _refuse(method: str, suffix: str, status: int = 502,
            kind: EntryKind | None = None) -> Callable[[httpx.Request], httpx.Response | None]:
    """An intercept that answers *status* to matching requests (log appends: of *kind*)."""
    def intercept(request: httpx.Request) -> httpx.Response | None:
        if request.method != method or not request.url.path.endswith(suffix):
            return None
        if kind is not None:
            entry = LogEntry.decode(b64decode(json.loads(request.content)["entry"]))
            if entry.kind is not kind:
                return None
        return httpx.Response(status, json={"error": {"code": "unavailable",
                                                      "message": "down"}})
    return intercept


def _granted_epochs(hostile: HostileRelay, gid: str, member_id: str) -> set[int]:
    """Every epoch any admin ever uploaded a grant of for this member (the relay's copy)."""
    return {e for e, _ in hostile.grants_for(b64decode(gid), b64decode(member_id))}


def test_history_none_admission_and_new_epoch_are_one_entry(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ann approves Ben under history "none" and the relay refuses the grants that follow
    (as it would after a crash between the two): the entry that admitted him is the one
    that started the new epoch, so no key of an epoch from before him exists for him, not
    even in the relay's database; Ann's next sync hands him the new one."""
    ann, ben = people.ann, people.ben
    group = ann.create_group(canary("group name"))
    gid = group.group_id
    old = canary("post")
    ann.post(gid, old)
    result = ben.join(ann.create_invite(gid).uri)
    hostile.view("ann").intercept = _refuse("POST", "/grants")
    with pytest.raises(RelayUnavailableError):
        ann.approve(gid, result.member_id, share_history="none")
    hostile.view("ann").reset()
    entries = [LogEntry.decode(raw) for raw in hostile.log(b64decode(gid))]
    # (The group's name and Ann's profile, sealed into the new epoch, may follow it: they
    # are sent while the grants travel.)
    admission = [e for e in entries if e.kind is not EntryKind.METADATA][-1]
    assert admission.kind is EntryKind.ADD_ROTATE
    assert all(e.kind is EntryKind.METADATA for e in entries[entries.index(admission) + 1:])
    assert ben.join_status(gid) == "member"
    assert ben.group(gid).epoch == 1 and texts(ben, gid) == []
    assert _granted_epochs(hostile, gid, result.member_id) == set()

    ann.sync(gid)  # the grants it owes go out now
    ben.sync(gid)
    assert _granted_epochs(hostile, gid, result.member_id) == {1}
    _identity, keys = secrets_of(ben, gid)
    assert set(keys) == {1}
    new = canary("post")
    ann.post(gid, new)
    ben.sync(gid)
    assert texts(ben, gid) == [new]


def test_history_none_self_join_gets_no_older_key_when_rotation_fails(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """A pre-authorised invite admits Cleo by herself (JOIN). Ann's device (history "none")
    owes a new epoch; the relay refuses its ROTATE. Ann's device must not fall back to
    sharing the current key: Cleo gets no key until the rotation lands, then only the new
    epoch's."""
    ann, cleo = people.ann, people.cleo
    group = ann.create_group(canary("group name"))
    gid = group.group_id
    ann.post(gid, canary("post"))
    joined = cleo.join(ann.create_invite(gid, require_approval=False).uri)
    assert joined.status == "joined"
    hostile.view("ann").intercept = _refuse("POST", "/log", kind=EntryKind.ROTATE)
    for _ in range(2):
        ann.sync(gid)
    assert _granted_epochs(hostile, gid, joined.member_id) == set()
    hostile.view("ann").reset()
    ann.sync(gid)
    cleo.sync(gid)
    assert _granted_epochs(hostile, gid, joined.member_id) == {1}
    assert texts(cleo, gid) == []


# --- 2. a held post is judged as it first arrived ---------------------------------------------


def test_held_post_retried_gets_the_departure_check(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ben holds no key for epoch 0 yet (the relay withholds that grant). Cleo is removed;
    Ben reads the group after the removal, so anything of hers served later was written
    after it. The relay then serves him a post she wrote after her removal (dated before,
    under epoch 0): Ben's device holds it, lacking the key. When the relay finally hands
    over epoch 0's key, the retry must refuse the post exactly as a first arrival would."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    group = ann.create_group(canary("group name"))
    gid = group.group_id
    invite = ann.create_invite(gid)
    ann.approve(gid, cleo.join(invite.uri).member_id, share_history="current")
    cleo.sync(gid)
    ben_view = hostile.view("ben")
    ben_view.grants = lambda _g, items: [(e, g) for e, g in items if e != 0]
    ann.approve(gid, ben.join(ann.create_invite(gid).uri).member_id, share_history="all")
    removed_at = ann.group(gid).log_seq + 1
    ann.remove(gid, cleo.me(gid).member_id)
    ben.sync(gid)
    ben.sync(gid)  # a complete read that began after the removal

    cleo_view = hostile.view("cleo")
    cleo_view.omniscient = True
    cleo_view.log = lambda _g, log: log[:removed_at]
    sneaked = cleo.post(gid, canary("post after removal"))
    assert sneaked.delivered
    report = ben.sync(gid)[0]
    assert not [w for w in report.warnings if isinstance(w, InvalidPost)]
    assert texts(ben, gid) == []

    ben_view.grants = None  # the key arrives: the held post is retried
    report = ben.sync(gid)[0]
    (warning,) = [w for w in report.warnings if isinstance(w, InvalidPost)]
    assert warning.post_id == sneaked.post_id and warning.code == NotAMemberError.code
    assert texts(ben, gid) == [] and sneaked.post_id not in stored_post_ids(ben, gid)
    # ...and after closing and opening Ben's device, the same.
    ben.close()
    people.ben = ben = people.reopen("ben")
    ben.sync(gid)
    assert texts(ben, gid) == []


# --- 3. posts written on a stale view --------------------------------------------------------


def test_post_written_on_a_stale_view_is_flagged(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """The relay hides Cleo's removal from Ben and stores what he then writes, under the
    epoch Cleo still holds. Ann, who saw the removal, is told Cleo may have read it; Ben's
    own device says so as soon as it is shown the removal. The honest relay itself refuses
    such a post (epoch_stale)."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    removed_at = ann.group(gid).log_seq + 1
    cleo_id = cleo.me(gid).member_id
    ann.remove(gid, cleo_id)
    ann.sync(gid)

    ben_view = hostile.view("ben")
    ben_view.log = lambda _g, log: log[:removed_at]
    ben_view.omniscient = True  # stores his post whatever its epoch
    stale = ben.post(gid, canary("written on a stale view"))
    assert stale.delivered
    report = ann.sync(gid)[0]
    (warning,) = [w for w in report.warnings if isinstance(w, StaleViewPosts)]
    assert warning.post_ids == (stale.post_id,) and warning.readers == (cleo_id,)
    assert not warning.mine
    (post,) = [p for p in ann.posts(gid) if p.post_id == stale.post_id]
    assert post.may_have_been_read_by == (cleo_id,) and post.notice is not None

    ben_view.reset()
    report = ben.sync(gid)[0]
    (mine,) = [w for w in report.warnings if isinstance(w, StaleViewPosts)]
    assert mine.mine and mine.post_ids == (stale.post_id,) and mine.readers == (cleo_id,)
    assert not ben.sync(gid)[0].warnings  # said once


def test_post_queued_before_a_removal_is_sealed_again(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ben writes while the relay cannot be reached; meanwhile Cleo is removed. When his
    post goes out the honest relay refuses its old epoch (epoch_stale): his device learns
    the new epoch, seals the post again (same id) and sends it. Cleo cannot read it; Ann
    reads it with no warning."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ben_view = hostile.view("ben")
    ben_view.intercept = _refuse("PUT", "", status=502)
    ben_view.log = lambda _g, log: log  # (he keeps the log he has: nothing new yet)
    text = canary("queued post")
    queued = ben.post(gid, text)
    assert not queued.delivered
    ann.remove(gid, cleo.me(gid).member_id)
    ben_view.reset()
    hostile.view("ben").log = None
    ben.sync(gid)
    assert ben.group(gid).unsent_posts == 0
    report = ann.sync(gid)[0]
    assert not report.warnings
    (post,) = [p for p in ann.posts(gid) if p.post_id == queued.post_id]
    assert post.text == text and post.may_have_been_read_by == ()
    envelope = hostile.envelope(b64decode(gid), b64decode(queued.post_id))
    from vault.crypto.posts import PostEnvelope

    assert PostEnvelope.decode(envelope).epoch == ann.group(gid).epoch


# --- 4. posts from a since-removed member, seen late -----------------------------------------


def test_backdated_post_from_removed_member_seen_late_is_marked(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ben's device is offline while Cleo is removed; the relay then stores a post Cleo
    writes after her removal, dated before it. Ben's next sync learns of the removal and
    receives the post in one go: it is shown, marked, with a warning."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ben.sync(gid)
    removed_at = ann.group(gid).log_seq + 1
    cleo_id = cleo.me(gid).member_id
    ann.remove(gid, cleo_id)
    cleo_view = hostile.view("cleo")
    cleo_view.omniscient = True
    cleo_view.log = lambda _g, log: log[:removed_at]
    sneaked = cleo.post(gid, canary("backdated"))
    report = ben.sync(gid)[0]
    (warning,) = [w for w in report.warnings if isinstance(w, PostsFromDepartedMember)]
    assert warning.author == cleo_id and warning.post_ids == (sneaked.post_id,)
    (post,) = [p for p in ben.posts(gid) if p.post_id == sneaked.post_id]
    assert post.from_departed_member and "after" in (post.notice or "")


# --- 6. a restored identity remembers what it verified --------------------------------------


def test_restored_identity_detects_rollback_and_withheld_posts(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        tmp_path_factory: pytest.TempPathFactory) -> None:
    """Ben exports his identity. On Dan's device (a new phone), a relay that serves the log
    as it was before the export is caught (RollbackError), and one that withholds posts
    Ben's device had seen is reported (PostsWithheld). Ben's numbering goes on."""
    from vault_client import Client

    from tests.adversarial.hostile import RELAY_URL

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    first = ann.post(gid, canary("post"))
    ann.post(gid, canary("post"))
    for _ in range(2):
        ben.post(gid, canary("post"))
    ben.sync(gid)
    known = ben.group(gid).log_seq
    exported = ben.export_identity(gid, "transfer passphrase")

    home = tmp_path_factory.mktemp("restored")
    phone = hostile.view("phone")
    phone.log = lambda _g, log: log[:known]  # one entry short of what Ben verified
    restored = Client(PASSPHRASE + "phone", home=home, relay_url=RELAY_URL, transport=phone,
                      retry_for=0.0)
    try:
        with pytest.raises(RollbackError):
            restored.import_identity(exported, "transfer passphrase")
        assert restored.groups() == []
        phone.log = None
        phone.posts = lambda _g, page: {**page, "posts": [
            p for p in page["posts"] if p["post_id"] == first.post_id]}
        restored.import_identity(exported, "transfer passphrase")
        warnings = [w for w in restored.warnings() if isinstance(w, PostsWithheld)]
        assert {w.author for w in warnings} == {ann.me(gid).member_id, ben.me(gid).member_id}
        phone.posts = None
        mine = restored.post(gid, canary("post from the new phone"))
        assert mine.delivered
        ann.sync(gid)
        assert not [w for w in ann.sync(gid)[0].warnings]
        assert canary  # (the canaries above were all written by the members)
    finally:
        restored.close()


# --- 7. content warnings are never dropped ---------------------------------------------------


def test_content_warnings_are_kept(people: SimpleNamespace, hostile: HostileRelay,
                                   canary: Callable[[str], str]) -> None:
    """A reaction with a content warning is hidden behind it; an edit keeps the post's
    warning unless the author removes it."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    post = ann.post(gid, canary("post"), content_warning="grief")
    ben.sync(gid)
    ben.react(gid, post.post_id, "🕯", content_warning="loss")
    ben.react(gid, post.post_id, "🤍")
    ann.edit(gid, post.post_id, canary("edited post"))
    ann.sync(gid)
    (view,) = ann.posts(gid)
    assert view.content_warning == "grief"
    assert [text for text, _ in view.reactions] == ["🤍"]
    assert [(w, t) for w, t, _ in view.reactions_behind_warning] == [("loss", "🕯")]
    ann.edit(gid, post.post_id, canary("edited again"), keep_warning=False)
    (view,) = ann.posts(gid)
    assert view.content_warning is None


# --- 8. nobody passes for another ------------------------------------------------------------


def test_lookalike_names_are_refused_and_told_apart(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ben takes the name "Ann" (another case) while Ann is "ann": his device refuses.
    A client that does not check (here: Ben's profile sealed directly) cannot make the two
    look alike either: both are shown with the start of their fingerprint."""
    from vault_client._internal.rotation import publish_profile

    from vault.crypto.metadata import MemberProfile

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    ann.set_display_name(gid, "ann")
    ben.sync(gid)
    with pytest.raises(NameTakenError):
        ben.set_display_name(gid, "Ann")
    with pytest.raises(NameTakenError):
        ben.set_display_name(gid, "\u0410nn")  # CYRILLIC CAPITAL LETTER A
    device = ben._device
    publish_profile(device, device.view(gid), MemberProfile("\u0410NN"))
    ann.sync(gid)
    shown = {m.member_id: m for m in ann.members(gid)}
    ann_info, ben_info = shown[ann.me(gid).member_id], shown[ben.me(gid).member_id]
    assert ann_info.name_clash and ben_info.name_clash
    assert ann_info.label != ben_info.label
    assert ann_info.label.startswith("ann (") and ben_info.fingerprint[:9] in ben_info.label


# --- 9. forks are comparable by people -------------------------------------------------------


def test_group_codes_differ_across_a_fork(people: SimpleNamespace, hostile: HostileRelay,
                                          canary: Callable[[str], str]) -> None:
    """The relay shows Dan a different entry at the seq Ann has. Their safety number is the
    same on both sides; the group codes for that entry differ, and are equal before it."""
    from vault.crypto.log_entries import Role

    ann, dan = people.ann, people.dan
    gid = circle(canary, ann, dan)
    ann.set_role(gid, dan.me(gid).member_id, Role.ADMIN)
    dan.sync(gid)
    common = dan.group(gid).log_seq
    forked: list[bytes] = []

    def swallow(request: httpx.Request) -> httpx.Response | None:
        if request.method == "POST" and request.url.path.endswith("/log"):
            raw = b64decode(json.loads(request.content)["entry"])
            forked.append(raw)
            entry = LogEntry.decode(raw)
            return httpx.Response(201, json={"seq": entry.seq, "head": b64encode(entry.hash),
                                             "cursor": "1"})
        return None

    dan_view = hostile.view("dan")
    dan_view.intercept = swallow
    dan_view.log = lambda _g, log: [*log[:LogEntry.decode(forked[0]).seq], *forked] \
        if forked else log
    dan.create_invite(gid)
    ann.create_invite(gid)
    seq = common + 1
    assert dan.group(gid).log_seq == ann.group(gid).log_seq == seq
    assert dan.group_code(gid, common) == ann.group_code(gid, common)
    assert dan.group_code(gid, seq) != ann.group_code(gid, seq)
    assert dan.safety_number(gid, ann.me(gid).member_id) == \
        ann.safety_number(gid, dan.me(gid).member_id)
    dan_view.reset()
    with pytest.raises(ForkError):
        dan.sync(gid)


# --- 5. a used-up invite opens nothing -------------------------------------------------------


def test_a_used_up_invite_opens_nothing(people: SimpleNamespace, hostile: HostileRelay,
                                        canary: Callable[[str], str]) -> None:
    """A one-use pre-authorised invite admits Cleo. Dan, holding the same QR code, cannot
    even read the group's log with it; his device keeps nothing of the group."""
    from vault_client.errors import InviteExhaustedError

    ann, cleo, dan = people.ann, people.cleo, people.dan
    group = ann.create_group(canary("group name"))
    invite = ann.create_invite(group.group_id, max_uses=1, require_approval=False)
    assert cleo.join(invite.uri).status == "joined"
    before = len(hostile.requests)
    with pytest.raises(InviteExhaustedError):
        dan.join(invite.uri)
    assert group.group_id not in [g.group_id for g in dan.groups()]
    asked = [(m, p) for v, m, p in hostile.requests[before:] if v == "dan"]
    assert not any(p.endswith("/log") for _m, p in asked)  # refused at the challenge


# --- 11. attachments go with their post ------------------------------------------------------


def test_deleting_a_post_deletes_its_attachments(people: SimpleNamespace,
                                                 hostile: HostileRelay,
                                                 canary: Callable[[str], str]) -> None:
    """The relay can tell which blobs belong to a post (the upload names it) and erases
    them with the post, and with the edits that kept them."""
    import sqlite3

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    posted = ann.post(gid, canary("post"), attachments=[(b"%PDF-1.7 private", "application/pdf")])
    ann.edit(gid, posted.post_id, canary("edited, attachment kept"))
    ben.sync(gid)
    (view,) = ben.posts(gid)
    assert len(view.attachments) == 1
    assert ben.attachment(gid, view.attachments[0]) == b"%PDF-1.7 private"

    def blobs() -> int:
        with sqlite3.connect(hostile.database) as conn:
            return int(conn.execute("SELECT COUNT(*) FROM blobs WHERE group_id=?",
                                    (b64decode(gid),)).fetchone()[0])

    assert blobs() == 1
    ann.delete(gid, posted.post_id)
    assert blobs() == 0
