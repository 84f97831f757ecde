"""Removal and rotation through a hostile relay: a removed member served everything (and
its uploads accepted), a rotation suppressed (the REMOVE entry hidden, the new grants
withheld, the ROTATE after a LEAVE hidden), and a relay that lies that a member was removed.
A removed member never reads what is written after its removal, and what it writes after
it is refused by every device that had seen the removal; members are warned, or refuse to
write, instead of writing under a key the removed member holds."""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace

import pytest
from vault_client import (
    EpochStarted,
    InvalidPost,
    KeyReceived,
    PostsFromDepartedMember,
    RemovedFromGroup,
    RotationPending,
    UnknownLogHead,
)

from tests.adversarial.conftest import circle, stored_post_ids, texts
from tests.adversarial.hostile import HostileRelay
from tests.adversarial.test_posts import secrets_of
from vault.crypto.encoding import b64decode
from vault.crypto.epochs import EpochGrant, open_grant
from vault.crypto.errors import (
    DecryptionError,
    GrantError,
    NotAMemberError,
    PostError,
)
from vault.crypto.log_verify import verify_log
from vault.crypto.posts import PostEnvelope, open_post


def assert_cannot_open_anything_after(hostile: HostileRelay, gid: str, keys: dict[int, bytes],
                                      identity: object, since_epoch: int) -> None:
    """Every post of an epoch from *since_epoch* on, and every grant, in the relay's
    database, tried with every key the removed member's device holds: nothing opens."""
    gid_b = b64decode(gid)
    state = verify_log(gid_b, hostile.log(gid_b))
    tried = 0
    for _pid, _cursor, raw in hostile.posts(gid_b):
        if raw is None or PostEnvelope.decode(raw).epoch < since_epoch:
            continue
        for key in keys.values():
            with pytest.raises((DecryptionError, PostError)):
                open_post(PostEnvelope.decode(raw), key, state)
            tried += 1
    for epoch, raw in hostile.all_grants(gid_b):
        if epoch >= since_epoch:
            with pytest.raises((DecryptionError, GrantError)):
                open_grant(EpochGrant.decode(raw), identity, state)  # type: ignore[arg-type]
            tried += 1
    assert tried


def test_relay_serves_removed_member_everything(people: SimpleNamespace, hostile: HostileRelay,
                                                canary: Callable[[str], str]) -> None:
    """The relay ignores Cleo's removal and serves her every post, grant and log entry.
    With the REMOVE entry shown, her device knows she was removed (RemovedFromGroup) and
    refuses to post; with it hidden, the new epoch's posts are UnknownLogHead warnings. In
    both cases she reads nothing written after her removal: no key she holds opens any of
    it, nor does any grant."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    before = canary("post")
    ann.post(gid, before)
    cleo.sync(gid)
    assert texts(cleo, gid) == [before]
    removed_at = ann.group(gid).log_seq + 1
    ann.remove(gid, cleo.me(gid).member_id)
    ben.sync(gid)
    after = [ann.post(gid, canary("post")).post_id, ben.post(gid, canary("post")).post_id]
    cleo_view = hostile.view("cleo")
    cleo_view.omniscient = True

    cleo_view.log = lambda _g, log: log[:removed_at]  # she is not told
    report = cleo.sync(gid)[0]
    assert not [e for e in report.events if isinstance(e, RemovedFromGroup | KeyReceived)]
    assert {w.post_id for w in report.warnings if isinstance(w, UnknownLogHead)} == set(after)
    assert texts(cleo, gid) == [before]
    assert not set(after) & stored_post_ids(cleo, gid)

    cleo_view.log = None  # she is told
    report = cleo.sync(gid)[0]
    assert RemovedFromGroup(gid, removed=True) in report.events
    assert cleo.group(gid).status == "removed"
    with pytest.raises(NotAMemberError):
        cleo.post(gid, canary("post"))
    assert texts(cleo, gid) == [before]
    identity, keys = secrets_of(cleo, gid)
    assert set(keys) == {0}
    assert_cannot_open_anything_after(hostile, gid, keys, identity, since_epoch=1)


def test_relay_accepts_post_from_removed_member(people: SimpleNamespace, hostile: HostileRelay,
                                                canary: Callable[[str], str]) -> None:
    """The relay hides her removal from Cleo and stores what she then writes (under the old
    epoch's key, naming the log as she was shown it, so dated before her removal). Ann's and
    Ben's devices had seen the removal before it arrived: they refuse it (InvalidPost,
    not_a_member) instead of showing words Cleo wrote after she was removed."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    removed_at = ann.group(gid).log_seq + 1
    ann.remove(gid, cleo.me(gid).member_id)
    for member in (ann, ben):
        member.sync(gid)
    cleo_view = hostile.view("cleo")
    cleo_view.omniscient = True
    cleo_view.log = lambda _g, log: log[:removed_at]
    sneaked = cleo.post(gid, canary("post after removal"))
    assert sneaked.delivered
    for member in (ann, ben):
        report = member.sync(gid)[0]
        (warning,) = [w for w in report.warnings if isinstance(w, InvalidPost)]
        assert warning.post_id == sneaked.post_id and warning.code == NotAMemberError.code
        assert sneaked.post_id not in stored_post_ids(member, gid)
        assert texts(member, gid) == []


def test_relay_accepts_post_from_removed_member_after_restart(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """The same, when Ben's device was closed and opened again between seeing the removal
    and being served Cleo's post: what it knew is kept in its local store."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    removed_at = ann.group(gid).log_seq + 1
    ann.remove(gid, cleo.me(gid).member_id)
    ben.sync(gid)
    ben.close()
    cleo_view = hostile.view("cleo")
    cleo_view.omniscient = True
    cleo_view.log = lambda _g, log: log[:removed_at]
    sneaked = cleo.post(gid, canary("post after removal"))
    people.ben = ben = people.reopen("ben")
    (warning,) = [w for w in ben.sync(gid)[0].warnings if isinstance(w, InvalidPost)]
    assert warning.post_id == sneaked.post_id and warning.code == NotAMemberError.code
    assert texts(ben, gid) == []


def test_post_written_before_removal_still_shown(people: SimpleNamespace, hostile: HostileRelay,
                                                 canary: Callable[[str], str]) -> None:
    """Not an attack: the check above must not refuse what a member wrote before being
    removed, even when a device first reads it after the removal (it was offline). It
    cannot tell it from a post a relay let her backdate after her removal, so it shows it
    marked, with one warning saying both are possible (audit point 4); once only."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ben.sync(gid)
    last_words = canary("post")
    posted = cleo.post(gid, last_words)
    ann.remove(gid, cleo.me(gid).member_id)
    report = ben.sync(gid)[0]
    (warning,) = report.warnings
    assert isinstance(warning, PostsFromDepartedMember)
    assert warning.post_ids == (posted.post_id,) and "may have been written before" in \
        warning.message
    assert texts(ben, gid) == [last_words]
    (post,) = ben.posts(gid)
    assert post.from_departed_member and post.notice is not None
    assert not ben.sync(gid)[0].warnings
    assert texts(ben, gid) == [last_words]
    (post,) = ben.posts(gid)
    assert post.from_departed_member  # the mark stays: it is kept with the post


# --- rotation suppressed ---------------------------------------------------------------------


def test_relay_suppresses_rotation_after_removal(people: SimpleNamespace, hostile: HostileRelay,
                                                 canary: Callable[[str], str]) -> None:
    """Ann removes Cleo. The relay hides the REMOVE entry from Ben (so he would go on
    writing under the key Cleo holds): Ann's next post names a log and an epoch beyond his,
    an UnknownLogHead warning. Then it shows him the removal but withholds his grant for the
    new epoch: what he writes waits on his device, unsealed, and nothing is sent, rather
    than fall back to the old key; it goes out under the new key once that arrives."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    removed_at = ann.group(gid).log_seq + 1
    ann.remove(gid, cleo.me(gid).member_id)
    new_epoch = ann.group(gid).epoch
    hostile.view("ben").log = lambda _g, log: log[:removed_at]
    ben.sync(gid)
    posted = ann.post(gid, canary("post"))
    report = ben.sync(gid)[0]
    (warning,) = [w for w in report.warnings if isinstance(w, UnknownLogHead)]
    assert warning.post_id == posted.post_id and warning.log_seq >= removed_at
    assert ben.group(gid).epoch == new_epoch - 1 and texts(ben, gid) == []

    hostile.view("ben").log = None
    hostile.view("ben").grants = lambda _g, items: [i for i in items if i[0] != new_epoch]
    report = ben.sync(gid)[0]
    assert EpochStarted(gid, new_epoch) in report.events
    assert not [e for e in report.events if isinstance(e, KeyReceived)]
    before = len(hostile.requests)
    written = canary("post")
    waiting = ben.post(gid, written)
    assert waiting.status == "queued"
    assert not [r for r in hostile.requests[before:] if r[1] == "PUT"]
    assert ben.group(gid).unsent_posts == 1

    hostile.reset()
    report = ben.sync(gid)[0]
    assert KeyReceived(gid, new_epoch) in report.events
    assert ben.group(gid).unsent_posts == 0
    assert texts(ben, gid) == [ann.get_post(gid, posted).text, written]  # held, now opened
    from vault.crypto.posts import PostEnvelope

    sent = PostEnvelope.decode(hostile.envelope(b64decode(gid), b64decode(waiting.post_id)))
    assert sent.epoch == new_epoch


def test_relay_suppresses_rotation_after_leave(people: SimpleNamespace, hostile: HostileRelay,
                                               canary: Callable[[str], str]) -> None:
    """Cleo leaves; Ann's device rotates; the relay hides the ROTATE entry from Ben. His
    device sees a member left and no new epoch: RotationPending, and what he writes waits
    on his device instead of going out under the key Cleo still holds."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    cleo.leave(gid)
    left_at = ann.group(gid).log_seq + 1
    ann.sync(gid)  # an admin's device rotates by itself
    assert ann.group(gid).log_seq > left_at and not ann.group(gid).rotation_pending
    hostile.view("ben").log = lambda _g, log: log[:left_at + 1]
    report = ben.sync(gid)[0]
    assert [w for w in report.warnings if isinstance(w, RotationPending)]
    assert ben.group(gid).rotation_pending
    before = len(hostile.requests)
    waiting = ben.post(gid, canary("post"))
    assert waiting.status == "queued" and "changed the group's key" in (waiting.reason or "")
    assert not [r for r in hostile.requests[before:] if r[1] == "PUT"]
    hostile.reset()
    ben.sync(gid)
    assert not ben.group(gid).rotation_pending and ben.group(gid).unsent_posts == 0
    assert ben.post(gid, canary("post")).delivered


def test_relay_claims_member_was_removed(people: SimpleNamespace, hostile: HostileRelay,
                                         canary: Callable[[str], str]) -> None:
    """The relay answers Ben "not a member" (403) though the log says he is one: the error
    is raised, but his device does not take the relay's word for it (only the log can remove
    him) and works again when the relay does."""
    import httpx

    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    hostile.view("ben").intercept = lambda request: httpx.Response(
        403, json={"error": {"code": "not_a_member", "message": "you were removed"}})
    with pytest.raises(NotAMemberError):
        ben.sync(gid)
    with pytest.raises(NotAMemberError):
        ben.post(gid, canary("post"))
    assert ben.group(gid).status == "member"
    hostile.reset()
    ben.sync(gid)
    assert ben.group(gid).status == "member"
