"""Test helpers: a thin client over the real app, and a factory group mirrored on the relay."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa
from flask import Flask
from werkzeug.test import TestResponse

from tests.crypto.logfactory import LogFactory, seeded_random
from vault.api.db import db
from vault.api.services import services_of
from vault.crypto.auth import sign_invite_challenge, sign_member_challenge
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.identity import Identity
from vault.crypto.log import LogEntry
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import seal_post


class FakeClock:
    def __init__(self, now: int) -> None:
        self.now = now

    def __call__(self) -> int:
        return self.now

    def advance(self, ms: int) -> None:
        self.now += ms


class RelayLogFactory(LogFactory):
    """A LogFactory dated by the relay's clock, as a member's device would be.

    The relay refuses entries dated more than 5 minutes away from its clock either way, so
    entries follow the (fake) relay clock: each is 1 ms after the previous one, or the relay's
    "now" if that is later (after a test advances the clock).
    """

    def __init__(self, seed: str, clock: Callable[[], int]) -> None:
        self._relay_clock = clock
        super().__init__(seed, now_ms=clock())

    def tick(self, ms: int = 1) -> int:
        self.now_ms = max(self.now_ms + ms, self._relay_clock())
        return self.now_ms


class Api:
    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def call(self, method: str, path: str, *, json: Any = None, token: str | None = None,
             data: bytes | str | None = None, content_type: str | None = None,
             headers: dict[str, str] | None = None, query: dict[str, Any] | None = None
             ) -> TestResponse:
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, json=json, data=data,
                                content_type=content_type, headers=all_headers,
                                query_string=query)

    def get(self, path: str, **kw: Any) -> TestResponse:
        return self.call("GET", path, **kw)

    def post(self, path: str, **kw: Any) -> TestResponse:
        return self.call("POST", path, **kw)

    def put(self, path: str, **kw: Any) -> TestResponse:
        return self.call("PUT", path, **kw)

    def delete(self, path: str, **kw: Any) -> TestResponse:
        return self.call("DELETE", path, **kw)


def code(response: TestResponse) -> str:
    body = response.get_json(silent=True)
    assert isinstance(body, dict) and "error" in body, (response.status_code, response.data[:200])
    return str(body["error"]["code"])


class RelayGroup:
    """A LogFactory group whose log is mirrored on the relay under test."""

    def __init__(self, api: Api, seed: str = "relay-tests", *, create: bool = True) -> None:
        self.api = api
        self.f = RelayLogFactory(seed, services_of(api.app).clock)
        self.gid = b64encode(self.f.group_id)
        self.base = f"/v1/groups/{self.gid}"
        self.pushed = 0
        self.tokens: dict[bytes, str] = {}
        self.random = seeded_random(seed + "/posts")
        self._author_seq: dict[bytes, itertools.count[int]] = {}
        if create:
            self.create()

    @property
    def owner(self) -> Identity:
        return self.f.owner

    def create(self) -> TestResponse:
        response = self.api.post("/v1/groups", json={"genesis": b64encode(self.f.genesis.raw)})
        assert response.status_code == 201, response.get_json()
        self.pushed = 1
        return response

    def push_entry(self, entry: LogEntry, token: str | None = None) -> TestResponse:
        return self.api.post(f"{self.base}/log", json={"entry": b64encode(entry.raw)},
                             token=token)

    def sync(self) -> None:
        """Append every factory entry the relay has not seen, each by its author."""
        for entry in self.f.entries[self.pushed:]:
            identity = self.f.identities[entry.author]
            token = None if entry.kind.name == "JOIN" else self.token(identity)
            response = self.push_entry(entry, token)
            assert response.status_code == 201, response.get_json()
            self.pushed += 1

    def token(self, identity: Identity, *, fresh: bool = False) -> str:
        if fresh or identity.sign_pk not in self.tokens:
            member = b64encode(identity.sign_pk)
            response = self.api.post(f"{self.base}/auth/challenge", json={"member": member})
            assert response.status_code == 201, response.get_json()
            challenge = b64decode(response.get_json()["challenge"])
            signature = sign_member_challenge(identity, self.f.group_id, challenge)
            response = self.api.post(f"{self.base}/auth/session", json={
                "member": member, "challenge": b64encode(challenge),
                "signature": b64encode(signature),
            })
            assert response.status_code == 201, response.get_json()
            self.tokens[identity.sign_pk] = response.get_json()["token"]
        return self.tokens[identity.sign_pk]

    def invite_token(self, invite_id: bytes, invite_sk: bytes) -> str:
        ident = b64encode(invite_id)
        response = self.api.post(f"{self.base}/auth/challenge", json={"invite_id": ident})
        assert response.status_code == 201, response.get_json()
        challenge = b64decode(response.get_json()["challenge"])
        signature = sign_invite_challenge(invite_sk, self.f.group_id, invite_id, challenge)
        response = self.api.post(f"{self.base}/auth/session", json={
            "invite_id": ident, "challenge": b64encode(challenge),
            "signature": b64encode(signature),
        })
        assert response.status_code == 201, response.get_json()
        return str(response.get_json()["token"])

    def envelope(self, author: Identity, *, text: str = "hello",
                 expires_at_ms: int | None = None, post_id: bytes | None = None,
                 epoch: int | None = None, timestamp_ms: int | None = None,
                 log_seq: int | None = None) -> tuple[str, str]:
        """(post id b64, envelope b64) of a real sealed post at the relay's head."""
        state = self.f.state
        epoch = state.epoch if epoch is None else epoch
        pid = post_id or self.random(16)
        seq = next(self._author_seq.setdefault(author.sign_pk, itertools.count(1)))
        body = PostBody(author=author.sign_pk, group_id=self.f.group_id, epoch=epoch,
                        post_id=pid, author_seq=seq,
                        log_seq=state.seq if log_seq is None else log_seq, log_head=state.head,
                        timestamp_ms=self.f.now_ms if timestamp_ms is None else timestamp_ms,
                        kind=PostKind.POST, text=text,
                        expires_at_ms=expires_at_ms)
        envelope = seal_post(author, self.f.epoch_keys[epoch], body, random=self.random)
        return b64encode(pid), b64encode(envelope.encode())

    def put_post(self, author: Identity, **kw: Any) -> tuple[str, TestResponse]:
        pid, env = self.envelope(author, **kw)
        response = self.api.put(f"{self.base}/posts/{pid}", json={"envelope": env},
                                token=self.token(author))
        return pid, response


def real_invite(g: RelayGroup, *, max_uses: int = 10, requires_approval: bool = True,
                expires_in_ms: int = 86_400_000, by: Identity | None = None) -> Any:
    """Append an INVITE with a real secret (as a QR code would carry) and sync it."""
    from tests.crypto.logfactory import InviteTicket
    from vault.crypto.invites import InviteLink, invite_keypair, new_invite
    from vault.crypto.log_entries import InviteBody

    invite_id, secret = new_invite(g.random)
    sk, pk = invite_keypair(secret)
    g.f.append(by or g.owner, InviteBody(invite_id, pk, max_uses,
                                         g.f.now_ms + expires_in_ms, requires_approval))
    g.sync()
    link = InviteLink("https://relay.example", g.f.group_id, invite_id, secret)
    return link, InviteTicket(g.f.group_id, invite_id, sk, pk)


def join_request(g: RelayGroup, link: Any, joiner: Identity | None = None) -> tuple[Identity, str]:
    from vault.crypto.invites import make_join_request

    joiner = joiner or g.f.identity()
    request = make_join_request(joiner, link, now_ms=g.f.now_ms)
    return joiner, b64encode(request.encode())


@contextmanager
def statements_sent(app: Flask) -> Iterator[list[str]]:
    """The SQL statements *app* sends to its database within the block, as they go."""
    with app.app_context():
        engine = db.engine
    sent: list[str] = []

    def record(_conn: object, _cursor: object, statement: str, *_args: object) -> None:
        sent.append(statement)

    sa.event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        sa.event.remove(engine, "before_cursor_execute", record)
