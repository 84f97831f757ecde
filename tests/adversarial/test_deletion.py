"""A relay that says a group was deleted (protocol §4.9): a device drops its copy only for
an owner's signed DELETE_GROUP entry that fits the log it verified. Without one — nothing
shown, an admin's deletion, another group's, a tampered one — it keeps everything and the
sync fails with ``deletion_unproven``; once the relay is honest again, the group syncs."""

from __future__ import annotations

import json
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from vault_client import Client, DeletionNotCompleted, GroupDeleted, Role, RoleChanged
from vault_client.errors import NotPermittedError, RelayUnreachableError, UnknownGroupError

from tests.adversarial.conftest import circle, stored_post_ids, texts
from tests.adversarial.hostile import HostileRelay, _route
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import DeletionUnprovenError, UnauthorizedEntryError
from vault.crypto.group_state import new_entry
from vault.crypto.log import LogEntry, sign_entry
from vault.crypto.log_entries import DeleteGroupBody, EntryKind
from vault.crypto.log_verify import verify_log


def _claims_deleted(gid: str, deletion: bytes | None
                    ) -> Callable[[httpx.Request], httpx.Response | None]:
    """Every request about the group answers ``group_deleted``; its deletion is *deletion*
    (``not_found`` when None)."""
    def intercept(request: httpx.Request) -> httpx.Response | None:
        group, rest = _route(request.url.path)
        if group != b64decode(gid):
            return None
        if rest == "deletion":
            if deletion is None:
                return httpx.Response(404, json={"error": {"code": "not_found",
                                                           "message": "no such group"}})
            return httpx.Response(200, json={"seq": 99, "entry": b64encode(deletion)})
        return httpx.Response(410, json={"error": {"code": "group_deleted",
                                                   "message": "deleted"}})
    return intercept


def _refused_and_kept(client: Client, gid: str, hostile: HostileRelay, name: str,
                      match: str) -> None:
    """The relay's claim is refused; the device keeps its copy, and syncs once honest."""
    before = (texts(client, gid), stored_post_ids(client, gid))
    with pytest.raises(DeletionUnprovenError, match=match):
        client.sync(gid)
    assert gid in {g.group_id for g in client.groups()}
    assert gid not in {n.group_id for n in client.deleted_groups()}
    assert (texts(client, gid), stored_post_ids(client, gid)) == before
    hostile.view(name).reset()
    assert client.sync(gid)[0].error is None and texts(client, gid) == before[0]


def test_no_deletion_shown(people: SimpleNamespace, hostile: HostileRelay,
                           canary: Callable[[str], str]) -> None:
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    ann.post(gid, canary("post"))
    ben.sync(gid)
    hostile.view("ben").intercept = _claims_deleted(gid, None)
    _refused_and_kept(ben, gid, hostile, "ben", "shows no deletion by an owner")


def test_an_admins_deletion_with_the_relay(people: SimpleNamespace, hostile: HostileRelay,
                                           canary: Callable[[str], str]) -> None:
    """Ben, an admin, and the relay tell Cleo the group is gone: right after her head (the
    full rules, DEL-1) and past entries she never saw (an owner at her head, DEL-3)."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ann.set_role(gid, ben.me(gid).member_id, Role.ADMIN)
    ann.post(gid, canary("post"))
    cleo.sync(gid)
    state = verify_log(b64decode(gid), hostile.log(b64decode(gid)))
    ben_key = ben._device.keys.identity(b64decode(gid))  # (what a colluding admin holds)
    assert ben_key is not None
    right_after = new_entry(state, ben_key, DeleteGroupBody()).raw
    past_unseen = sign_entry(ben_key, DeleteGroupBody(), group_id=state.group_id,
                             seq=state.seq + 3, prev_hash=bytes(32),
                             timestamp_ms=state.timestamp_ms + 1).raw
    for forged, match in ((right_after, "only an owner may delete"),
                          (past_unseen, "not an owner")):
        hostile.view("cleo").intercept = _claims_deleted(gid, forged)
        _refused_and_kept(cleo, gid, hostile, "cleo", match)


def test_another_groups_deletion_or_a_tampered_one(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    other = circle(canary, ann, ben)
    ann.post(gid, canary("post"))
    ben.sync(gid)
    state = verify_log(b64decode(other), hostile.log(b64decode(other)))
    ann_key = ann._device.keys.identity(b64decode(other))
    assert ann_key is not None
    elsewhere = new_entry(state, ann_key, DeleteGroupBody()).raw
    hostile.view("ben").intercept = _claims_deleted(gid, elsewhere)
    _refused_and_kept(ben, gid, hostile, "ben", "no owner's deletion of this group")
    mine = verify_log(b64decode(gid), hostile.log(b64decode(gid)))
    own_key = ann._device.keys.identity(b64decode(gid))
    assert own_key is not None
    tampered = bytearray(new_entry(mine, own_key, DeleteGroupBody()).raw)
    tampered[-1] ^= 1
    hostile.view("ben").intercept = _claims_deleted(gid, bytes(tampered))
    _refused_and_kept(ben, gid, hostile, "ben", "not a signed log entry")


def test_a_real_deletion_reports_the_posts_never_sent(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Cleo writes while her uploads fail; Ann deletes the group. Cleo's device drops it and
    says her post was never sent."""
    ann, cleo = people.ann, people.cleo
    gid = circle(canary, ann, cleo)

    def refuse_uploads(request: httpx.Request) -> httpx.Response | None:
        if request.method == "PUT":
            return httpx.Response(502, json={"error": {"code": "unavailable",
                                                       "message": "down"}})
        return None

    hostile.view("cleo").intercept = refuse_uploads
    assert not cleo.post(gid, canary("never sent")).delivered
    # Ann's own post cannot go out either: deleting is refused, changing nothing, until
    # she says to lose it.
    hostile.view("ann").intercept = refuse_uploads
    assert not ann.post(gid, canary("the owner's, never sent")).delivered
    seq = ann.group(gid).log_seq
    with pytest.raises(NotPermittedError, match="1 of your posts in this group are still"):
        ann.delete_group(gid)
    assert ann.group(gid).log_seq == seq and ann.group(gid).unsent_posts == 1
    assert ann.delete_group(gid, discard_unsent=True).unsent_posts == 1
    hostile.view("cleo").reset()  # her upload now meets the deleted group
    (event,) = cleo.sync(gid)[0].events
    assert isinstance(event, GroupDeleted) and event.unsent_posts == 1
    assert [(n.group_id, n.unsent_posts) for n in cleo.deleted_groups()] == [(gid, 1)]
    assert gid not in {g.group_id for g in cleo.groups()}
    for person in (ann, cleo):
        person.dismiss_deleted_group(gid)


def test_a_deletion_without_an_answer_is_finished_not_forgotten(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """The relay takes (or drops) Ann's deletion and answers 502. A signed deletion may be
    at the relay, to show a lagging member later: Ann's device is never told "nothing
    changed". It refuses every other write to the group and sends the deletion again at
    her next sync, which lands it; Ben's device then drops the group."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    hostile.view("ann").intercept = _refuse_deletions
    with pytest.raises(RelayUnreachableError, match="may already have it"):
        ann.delete_group(gid)
    seq = ann.group(gid).log_seq
    with pytest.raises(NotPermittedError, match="you are deleting this group"):
        ann.post(gid, canary("after the attempt"))
    with pytest.raises(NotPermittedError, match="you are deleting this group"):
        ann.create_invite(gid)
    assert ann.group(gid).log_seq == seq and ann.group(gid).unsent_posts == 0
    hostile.view("ann").reset()
    (report,) = ann.sync(gid)
    assert [(type(e), e.by_me) for e in report.events] == [(GroupDeleted, True)]  # type: ignore[attr-defined]
    assert gid not in {g.group_id for g in ann.groups()}
    assert [type(e) for e in ben.sync(gid)[0].events] == [GroupDeleted]
    for person in (ann, ben):
        person.dismiss_deleted_group(gid)


def _refuse_deletions(request: httpx.Request) -> httpx.Response | None:
    if request.method == "POST" and request.url.path.endswith("/log"):
        entry = LogEntry.decode(b64decode(json.loads(request.content)["entry"]))
        if entry.kind is EntryKind.DELETE_GROUP:
            return httpx.Response(502, json={"error": {"code": "unavailable",
                                                       "message": "down"}})
    return None


def test_a_deletion_served_in_the_log_is_verified_with_it(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """A relay that serves an owner's deletion as an ordinary log entry (no 410): the
    device verifies it with the chain and drops the group, as for the relay's 410."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    state = verify_log(b64decode(gid), hostile.log(b64decode(gid)))
    ann_key = ann._device.keys.identity(b64decode(gid))
    assert ann_key is not None
    deletion = new_entry(state, ann_key, DeleteGroupBody()).raw
    hostile.view("ben").log = lambda _g, log: [*log, deletion]
    (event,) = ben.sync(gid)[0].events
    assert isinstance(event, GroupDeleted) and not event.by_me
    assert gid not in {g.group_id for g in ben.groups()}
    ben.dismiss_deleted_group(gid)


def test_a_post_meets_the_relays_word_that_the_group_is_gone(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Unproven: the post stays on the device, queued, and the group with it. Proven (Ann
    really deleted it): the post is refused, counted as never sent."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    hostile.view("ben").intercept = _claims_deleted(gid, None)
    kept = ben.post(gid, canary("kept"))
    assert (kept.delivered, kept.status) == (False, "queued")
    assert kept.reason is not None and "stays on this device" in kept.reason
    assert ben.group(gid).unsent_posts == 1
    hostile.view("ben").reset()
    ann.delete_group(gid)
    refused = ben.post(gid, canary("too late"))
    assert refused.status == "refused" and refused.reason is not None
    assert "deleted this group" in refused.reason
    (notice,) = [n for n in ben.deleted_groups() if n.group_id == gid]
    assert notice.unsent_posts == 2
    for person in (ann, ben):
        person.dismiss_deleted_group(gid)


def test_a_pending_joiner_learns_the_group_was_deleted(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    ann, dan = people.ann, people.dan
    gid = circle(canary, ann)
    assert dan.join(ann.create_invite(gid).uri).status == "pending"
    ann.delete_group(gid)
    with pytest.raises(UnknownGroupError, match="deleted the group before your request"):
        dan.join_status(gid)
    assert gid not in {g.group_id for g in dan.groups()}
    for person in (ann, dan):
        person.dismiss_deleted_group(gid)


def test_a_deletion_that_can_no_longer_be_made_leaves_the_group_going(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Ann and Ben own the group. (1) Ben demotes Ann; Ann, not synced yet, tries to delete:
    her device refuses it after reading the log, nothing is sent, nothing is marked, and she
    goes on writing. (2) Ann is an owner again; her deletion gets no answer, then Ben
    demotes her before her next sync: that sync says the deletion could not be made, and
    the group goes on for her (reading and writing)."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    ann.set_role(gid, ben.me(gid).member_id, Role.OWNER)
    ben.sync(gid)
    ben.set_role(gid, ann.me(gid).member_id, Role.ADMIN)
    with pytest.raises(UnauthorizedEntryError, match="only an owner may delete"):
        ann.delete_group(gid)
    assert ann.post(gid, canary("still here")).delivered

    ben.set_role(gid, ann.me(gid).member_id, Role.OWNER)
    ann.sync(gid)
    hostile.view("ann").intercept = _refuse_deletions
    with pytest.raises(RelayUnreachableError, match="may already have it"):
        ann.delete_group(gid)
    ben.sync(gid)
    ben.set_role(gid, ann.me(gid).member_id, Role.ADMIN)
    hostile.view("ann").reset()
    (report,) = ann.sync(gid)
    assert report.error is None
    (warning,) = [w for w in report.warnings if isinstance(w, DeletionNotCompleted)]
    assert "could not be made" in warning.message and "only an owner" in warning.message
    assert any(isinstance(e, RoleChanged) for e in report.events)  # (the demotion, as usual)
    assert ann.post(gid, canary("going on")).delivered
    assert gid in {g.group_id for g in ann.groups()}


def test_every_command_checks_the_relays_word(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str]) -> None:
    """Commands that read the log first (pending requests, the history setting, pins,
    denials...) meet an unproven group_deleted as deletion_unproven, never as the relay's
    own group_deleted, and change nothing."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    post = ben.post(gid, canary("a post")).post_id
    ann.sync(gid)
    hostile.view("ann").intercept = _claims_deleted(gid, None)
    for command in (lambda: ann.pending_requests(gid),
                    lambda: ann.set_history_policy(gid, "all"),
                    lambda: ann.pin(gid, post),
                    lambda: ann.deny(gid, ben.me(gid).member_id),
                    lambda: ann.create_invite(gid)):
        with pytest.raises(DeletionUnprovenError):
            command()
    hostile.view("ann").reset()
    assert gid in {g.group_id for g in ann.groups()}
    assert ann.pinned(gid) == []
