"""Channels through a hostile relay (protocol §6.10, TV-7): the relay can neither reorder,
rename or swap a group's channels, nor move a post into another channel, nor get a
member's post into an announcements channel. Each attempt is caught with its own typed
error or warning, and the relay never reads a channel's name (the canary fixture scans its
traffic and database)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

import pytest
from vault_client import InvalidPost, NotPermittedInChannel, Role

from tests.adversarial.conftest import circle, stored_post_ids
from tests.adversarial.hostile import HostileRelay
from tests.adversarial.test_posts import body_like, item, open_raw, seal_as, secrets_of
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import LogError, RollbackError, SignatureError
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import EntryKind


def names(client: object, gid: str) -> list[str]:
    return [c.name for c in client.channels(gid)]  # type: ignore[attr-defined]


def test_relay_reorders_or_swaps_the_channel_list(people: SimpleNamespace,
                                                  hostile: HostileRelay,
                                                  canary: Callable[[str], str]) -> None:
    """The channel list and its order are in the group metadata, signed into the log. The
    relay shows Ben the earlier order by serving the entry that set it in place of the
    newer one: the chain breaks (LogError). Once Ben verified the new order, serving him
    the log without that entry is a RollbackError. His device keeps the order it verified."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    first, second = canary("news")[:60], canary("talk")[:60]
    ann.add_channel(gid, first, announcements=True)
    ann.add_channel(gid, second)
    ben.sync(gid)
    assert names(ben, gid) == ["", first, second]
    ann.move_channel(gid, second, 0)
    gid_b = b64decode(gid)
    log = hostile.log(gid_b)
    kinds = [LogEntry.decode(raw).kind for raw in log]
    assert kinds[-1] == kinds[-2] == EntryKind.METADATA
    # The newer order swapped for the earlier metadata (a real, signed envelope).
    hostile.view("ben").log = lambda _g, served: [*served[:-1], served[-2]]
    with pytest.raises(LogError):
        ben.sync(gid)
    assert names(ben, gid) == ["", first, second]
    hostile.reset()
    ben.sync(gid)
    assert names(ben, gid) == ["", second, first]
    hostile.view("ben").log = lambda _g, served: served[:-1]
    with pytest.raises(RollbackError):
        ben.sync(gid)
    assert names(ben, gid) == ["", second, first]


def test_relay_moves_a_post_to_another_channel(people: SimpleNamespace, hostile: HostileRelay,
                                               canary: Callable[[str], str]) -> None:
    """A post names its channel inside its signed body. Ben (a member: he holds the epoch
    key) and the relay move Ann's announcement into the main channel by dropping the
    channel from her signed body and sealing it again with her signature: every device
    refuses it (SignatureError): it is shown in no channel; served honestly, it is in hers."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    news = ann.add_channel(gid, canary("news")[:60], announcements=True).channel_id
    real = ann.post(gid, canary("announcement"), channel=news).post_id
    ben.sync(gid)
    ben_id, keys = secrets_of(ben, gid)
    key = keys[ben.group(gid).epoch]
    gid_b = b64decode(gid)
    signed, signature = open_raw(hostile.envelope(gid_b, b64decode(real)), key)
    moved = signed[:-16]  # the same body without its channel id (PB-3: the last 16 bytes)
    assert signed[-16:] == b64decode(news)
    from vault.crypto.post_body import PostBody

    body = PostBody.decode(moved)
    forged = seal_as(ben_id, key, replace(body, post_id=body.post_id), signature=signature,
                     signed=moved)
    hostile.view("cleo").posts = lambda g, page: {**page, "posts": [
        item(hostile, gid, real, p["cursor"], forged.encode()) if p["post_id"] == real else p
        for p in page["posts"]]}
    (warning,) = [w for w in cleo.sync(gid)[0].warnings if isinstance(w, InvalidPost)]
    assert warning.post_id == real and warning.code == SignatureError.code
    assert real not in stored_post_ids(cleo, gid)
    assert real not in [p.post_id for p in cleo.posts(gid)]  # not in the main channel either
    assert [p.post_id for p in ben.posts(gid, channel=news)] == [real]  # served honestly


def test_relay_lets_a_member_post_into_announcements(people: SimpleNamespace,
                                                     hostile: HostileRelay,
                                                     canary: Callable[[str], str]) -> None:
    """Ben signs and seals a post into the announcements channel himself; the relay stores
    and serves it. Every other device refuses to show it, with a NotPermittedInChannel
    warning naming Ben and the channel; a moderator's post there is shown. A post Ben wrote
    there while a moderator stays shown after his demotion (judged at its log position)."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    news = ann.add_channel(gid, canary("news")[:60], announcements=True).channel_id
    ann.set_role(gid, ben.me(gid).member_id, Role.MODERATOR)
    ben.sync(gid)
    allowed = ben.post(gid, canary("as moderator"), channel=news).post_id
    ann.set_role(gid, ben.me(gid).member_id, Role.MEMBER)
    ben.sync(gid)
    ben_id, keys = secrets_of(ben, gid)
    body = replace(body_like(ben, gid, author=ben_id.sign_pk, author_seq=2,
                             text=canary("forced")), channel=b64decode(news))
    envelope = seal_as(ben_id, keys[body.epoch], body)
    hostile.store_post(b64decode(gid), body.post_id, envelope.encode())
    forced = b64encode(body.post_id)
    for person in (ann, cleo):
        report = person.sync(gid)[0]
        (warning,) = [w for w in report.warnings if isinstance(w, NotPermittedInChannel)]
        assert (warning.author, warning.post_ids, warning.channel_id) == (
            ben.me(gid).member_id, (forced,), news)
        shown = [p.post_id for p in person.posts(gid)]
        assert allowed in shown and forced not in shown
