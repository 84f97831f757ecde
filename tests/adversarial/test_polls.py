"""Polls through a hostile relay: a vote replayed, or served under another post's id; votes
forged in another member's name (with a member's keys); a changed vote withheld. Each is
caught with its specific warning, and no device counts a vote its member did not cast."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

from vault_client import Client, InvalidPost, PollInfo, PostsWithheld

from tests.adversarial.conftest import circle, stored_post_ids
from tests.adversarial.hostile import HostileRelay
from tests.adversarial.test_posts import (
    body_like,
    item,
    open_raw,
    seal_as,
    secrets_of,
    warnings_of,
)
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import PostRejectedError, SignatureError
from vault.crypto.post_body import PostKind


def poll_of(client: Client, gid: str, post_id: str) -> PollInfo:
    poll = client.get_post(gid, post_id).poll
    assert poll is not None
    return poll


def test_relay_replays_a_vote(people: SimpleNamespace, hostile: HostileRelay,
                              canary: Callable[[str], str]) -> None:
    """Ben's vote served twice counts once, silently; served under the id of a vote the
    relay wants to hide (Cleo's), it is refused, and Cleo's vote is not counted for Ben."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    asked = ann.create_poll(gid, canary("question"), [canary("yes"), canary("no")]).post_id
    ben.sync(gid)
    cleo.sync(gid)
    vote = ben.vote(gid, asked, 0).post_id
    copy = item(hostile, gid, vote, "1")
    hostile.view("ann").posts = lambda g, page: {**page, "posts": [*page["posts"], copy, copy]}
    assert not ann.sync(gid)[0].warnings
    assert poll_of(ann, gid, asked).counts == (1, 0)

    hidden = cleo.vote(gid, asked, 1).post_id
    ben_envelope = hostile.envelope(b64decode(gid), b64decode(vote))
    hostile.view("ann").posts = lambda g, page: {**page, "posts": [
        item(hostile, gid, hidden, p["cursor"], ben_envelope) if p["post_id"] == hidden else p
        for p in page["posts"]]}
    (warning,) = warnings_of(InvalidPost, ann.sync(gid)[0])
    assert warning.post_id == hidden and warning.code == PostRejectedError.code
    assert hidden not in stored_post_ids(ann, gid)
    assert poll_of(ann, gid, asked).votes == ((ben.me(gid).member_id,), ())


def test_relay_forges_votes(people: SimpleNamespace, hostile: HostileRelay,
                            canary: Callable[[str], str]) -> None:
    """To stuff the ballot, Ben (a member: he holds the epoch key) and the relay forge
    votes naming Ann: one signed by Ben, one carrying the signature of Ann's real vote over
    a changed choice. Cleo refuses both; Ann's real vote is the one counted."""
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    asked = ann.create_poll(gid, canary("question"), [canary("a"), canary("b"),
                                                      canary("c")]).post_id
    real = ann.vote(gid, asked, 0).post_id
    ben.sync(gid)
    ben_id, keys = secrets_of(ben, gid)
    key = keys[ben.group(gid).epoch]
    gid_b = b64decode(gid)
    signed, signature = open_raw(hostile.envelope(gid_b, b64decode(real)), key)
    ann_pk = b64decode(ann.me(gid).member_id)
    base = body_like(ben, gid, author=ann_pk, author_seq=5, text="")
    in_anns_name = replace(base, kind=PostKind.VOTE, refs=(b64decode(asked),), vote_choice=2)
    changed = replace(in_anns_name, post_id=secrets.token_bytes(16), author_seq=6,
                      vote_choice=1)
    forgeries = [seal_as(ben_id, key, in_anns_name),
                 seal_as(ben_id, key, changed, signature=signature)]
    for envelope in forgeries:
        hostile.store_post(gid_b, envelope.post_id, envelope.encode())
    report = cleo.sync(gid)[0]
    refused = {w.post_id: w.code for w in warnings_of(InvalidPost, report)}
    assert refused == {b64encode(e.post_id): SignatureError.code for e in forgeries}
    assert poll_of(cleo, gid, asked).votes == ((ann.me(gid).member_id,), (), ())
    assert signed  # (Ann's real vote was read with Ben's key: the relay alone could not)


def test_relay_withholds_a_changed_vote(people: SimpleNamespace, hostile: HostileRelay,
                                        canary: Callable[[str], str]) -> None:
    """Ben votes, then changes his vote; the relay keeps the change from Ann. While it is
    Ben's newest post nothing can show it (a residual risk, as for any newest post); his
    next post exposes the hole (PostsWithheld), and the old vote is all Ann counted."""
    ann, ben = people.ann, people.ben
    gid = circle(canary, ann, ben)
    asked = ann.create_poll(gid, canary("question"), [canary("yes"), canary("no")]).post_id
    ben.sync(gid)
    ben.vote(gid, asked, 0)
    change = ben.vote(gid, asked, 1).post_id
    hostile.view("ann").posts = lambda g, page: {
        **page, "posts": [p for p in page["posts"] if p["post_id"] != change]}
    assert not warnings_of(PostsWithheld, ann.sync(gid)[0])
    assert poll_of(ann, gid, asked).counts == (1, 0)
    ben.post(gid, canary("post"))
    (warning,) = warnings_of(PostsWithheld, ann.sync(gid)[0])
    assert warning.author == ben.me(gid).member_id and warning.count == 1
    assert warning.missing == ((2, 2),)  # Ben's second post: the changed vote
    assert poll_of(ann, gid, asked).counts == (1, 0)
