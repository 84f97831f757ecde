"""Pinned posts through the SDK against a real relay process: a moderator pins and every
device shows it pinned; a member cannot (refused before anything is written, and a pin
forced out anyway is ignored by every other device); unpinning, a demoted moderator's pin,
a deleted pinned post."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_client import Client, Role
from vault_client.errors import InvalidArgumentError, NotPermittedError

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import circle, open_client
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import EpochStaleError
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import seal_post
from vault.crypto.primitives import default_clock


@pytest.fixture
def group(tmp_path: Path, relay_up: RelayProcess) -> Iterator[tuple[list[Client], str]]:
    people = [open_client(tmp_path, name, relay_up) for name in ("ann", "ben", "cat")]
    try:
        gid = circle(*people)
        people[0].set_role(gid, people[2].me(gid).member_id, Role.MODERATOR)
        for person in people:
            person.sync(gid)
        yield people, gid
    finally:
        for person in people:
            person.close()


def pinned_ids(client: Client, gid: str) -> list[str]:
    client.sync(gid)
    return [p.post_id for p in client.pinned(gid)]


def test_a_moderator_pins_and_unpins_for_everyone(group: tuple[list[Client], str]) -> None:
    (ann, ben, cat), gid = group
    rules = ben.post(gid, "Please read: our agreements").post_id
    other = ann.post(gid, "Tonight at seven").post_id
    cat.sync(gid)
    assert cat.pin(gid, rules).delivered
    cat_id = cat.me(gid).member_id
    for person in (ann, ben, cat):
        assert pinned_ids(person, gid) == [rules]
        assert person.get_post(gid, rules).pinned_by == cat_id
        assert not person.get_post(gid, other).pinned
    with pytest.raises(InvalidArgumentError, match="already pinned"):
        ann.pin(gid, rules)
    # Another moderator (the owner) unpins it: every device shows it unpinned.
    assert ann.unpin(gid, rules).delivered
    for person in (ann, ben, cat):
        assert pinned_ids(person, gid) == []
    with pytest.raises(InvalidArgumentError, match="not pinned"):
        ann.unpin(gid, rules)
    # Pinned by two, unpinned once: both pins go.
    ann.pin(gid, other)
    cat.sync(gid)
    cat.pin(gid, rules)
    ann.sync(gid)
    ann.unpin(gid, other)
    assert pinned_ids(ben, gid) == [rules]
    assert ann.warnings() == [] and ben.warnings() == [] and cat.warnings() == []


def test_what_a_member_may_not_pin_is_refused_and_ignored(
        group: tuple[list[Client], str]) -> None:
    (ann, ben, cat), gid = group
    mine = ben.post(gid, "My own words").post_id
    waiting = ben.group(gid).unsent_posts
    with pytest.raises(NotPermittedError, match="moderators and admins"):
        ben.pin(gid, mine)
    assert ben.group(gid).unsent_posts == waiting == 0
    # Forced out anyway (a modified client): every other device ignores it.
    view = ben._device.member_view(gid)
    from vault_client._internal import posting

    posting.publish(ben._device, view, PostKind.PIN, (b64decode(mine),), "", None, None, ())
    assert pinned_ids(ann, gid) == [] and pinned_ids(cat, gid) == []
    # A pin by a moderator stays after the moderator is demoted (judged at its position);
    # a deleted post is not shown pinned.
    ann.sync(gid)
    cat.sync(gid)
    cat.pin(gid, mine)
    ann.set_role(gid, cat.me(gid).member_id, Role.MEMBER)
    assert pinned_ids(ben, gid) == [mine]
    with pytest.raises(NotPermittedError, match="moderators and admins"):
        cat.sync(gid)
        cat.pin(gid, ann.post(gid, "Another").post_id)
    ben.delete(gid, mine)
    assert pinned_ids(ann, gid) == []
    assert ben.get_post(gid, mine).deleted


def test_a_demoted_moderator_can_neither_pin_nor_date_a_pin_before_the_demotion(
        group: tuple[list[Client], str]) -> None:
    """Review findings: a pin is checked on the freshly synced log (a demotion the device had
    not seen refuses it, instead of a "delivered" pin nobody applies); and the demotion
    starts a new epoch, so a pin dated at a log position from before it (which TV-6 would
    accept) is refused by the relay as sealed for an old epoch."""
    (ann, ben, cat), gid = group
    target = ben.post(gid, "Something to pin").post_id
    cat.sync(gid)
    epoch = ann.group(gid).epoch
    old_seq, old_head = cat.group(gid).log_seq, b64decode(cat.group(gid).log_head)
    ann.set_role(gid, cat.me(gid).member_id, Role.MEMBER)
    assert ann.group(gid).epoch == epoch + 1  # demoting a moderator starts a new epoch
    with pytest.raises(NotPermittedError, match="moderators and admins"):
        cat.pin(gid, target)  # Cat's device had not seen the demotion: the check syncs
    assert cat.group(gid).unsent_posts == 0
    # A modified client dates a pin before the demotion, sealed for that epoch.
    view = cat._device.view(gid)
    old_key = view.keys[epoch]
    body = PostBody(author=view.me.sign_pk, group_id=b64decode(gid), epoch=epoch,
                    post_id=secrets.token_bytes(16), author_seq=99, log_seq=old_seq,
                    log_head=old_head, timestamp_ms=default_clock(), kind=PostKind.PIN,
                    refs=(b64decode(target),))
    envelope = seal_post(view.me, old_key, body)
    with pytest.raises(EpochStaleError):
        cat._device.transport(view.relay_url).put_post(
            cat._device.auth(view), body.post_id, envelope.encode())
    assert pinned_ids(ben, gid) == []


def test_a_pin_waiting_on_the_device_is_not_sent_once_its_author_is_demoted(
        group: tuple[list[Client], str]) -> None:
    """A moderator pins while offline (kept, not sealed); demoted meanwhile, the device does
    not send a pin every device would ignore, and says so (it used to send it)."""
    (ann, ben, cat), gid = group
    target = ben.post(gid, "Worth pinning").post_id
    cat.sync(gid)
    from vault_client import UndeliverablePost
    from vault_client._internal import outbox

    view = cat._device.member_view(gid)
    outbox.queue(cat._device, view, PostKind.PIN, (b64decode(target),), "", None, None, ())
    own = outbox.queue(cat._device, view, PostKind.POST, (), "My words", None, None, ())
    ann.set_role(gid, cat.me(gid).member_id, Role.MEMBER)
    cat.sync(gid)
    assert cat.group(gid).unsent_posts == 0
    [warning] = [w for w in cat.warnings() if isinstance(w, UndeliverablePost)]
    assert warning.code == "not_permitted" and "pin posts" in warning.message
    assert pinned_ids(ann, gid) == []
    assert [p.post_id for p in ann.posts(gid)][-1] == b64encode(own)  # the rest went out
