"""Join requests: redemption with the join proof, atomic use counting, deny, approve; a
used-up invite opens nothing."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa
from flask import Flask

from tests.api.conftest import row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code, join_request, real_invite
from vault.api.db import db
from vault.api.models import InviteRow
from vault.crypto.auth import sign_invite_challenge
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.invites import InviteLink, make_join_request


def test_submit_list_approve(api: Api) -> None:
    g = RelayGroup(api)
    link, ticket = real_invite(g)
    joiner, request = join_request(g, link)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 201
    assert response.get_json() == {"joiner": b64encode(joiner.sign_pk),
                                   "invite_id": b64encode(ticket.invite_id), "status": "pending"}
    again = api.post(f"{g.base}/join-requests", json={"request": request})
    assert again.status_code == 200  # a retry: no second redemption
    listed = api.get(f"{g.base}/join-requests", token=g.token(g.owner)).get_json()["requests"]
    assert [item["request"] for item in listed] == [request]
    g.f.approve(ticket, identity=joiner)
    g.sync()
    assert api.get(f"{g.base}/join-requests", token=g.token(g.owner)).get_json() == {
        "requests": []}
    assert api.get(f"{g.base}/posts", token=g.token(joiner)).status_code == 200
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 409 and code(response) == "already_member"


def test_a_removed_members_key_cannot_ask_to_join_again(api: Api) -> None:
    """Every device refuses a removed key's JOIN or ADD (it can never come back); the relay
    refuses its join request too, with a typed error, so admins are not shown it."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.f.remove(alice)
    g.sync()
    link, _ticket = real_invite(g)
    _joiner, request = join_request(g, link, joiner=alice)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 403 and code(response) == "forbidden"
    assert "fresh identity" in response.get_json()["error"]["message"]
    listed = api.get(f"{g.base}/join-requests", token=g.token(g.owner)).get_json()
    assert listed == {"requests": []}


def test_only_admins_list_and_deny(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    link, _ticket = real_invite(g)
    joiner, request = join_request(g, link)
    api.post(f"{g.base}/join-requests", json={"request": request})
    path = f"{g.base}/join-requests/{b64encode(joiner.sign_pk)}"
    for response in (api.get(f"{g.base}/join-requests", token=g.token(alice)),
                     api.delete(path, token=g.token(alice))):
        assert response.status_code == 403 and code(response) == "forbidden"
    response = api.delete(path, token=g.token(g.owner))
    assert response.status_code == 200 and response.get_json()["status"] == "denied"
    response = api.delete(path, token=g.token(g.owner))
    assert response.status_code == 404 and code(response) == "not_found"


def test_wrong_proof_unknown_revoked_expired(api: Api, clock: FakeClock) -> None:
    g = RelayGroup(api)
    link, ticket = real_invite(g, expires_in_ms=2 * 3600 * 1000)
    forged = InviteLink(link.relay_url, link.group_id, link.invite_id, bytes(32))
    _j, request = join_request(g, forged)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 400 and code(response) == "bad_signature"
    unknown = InviteLink(link.relay_url, link.group_id, bytes(16), link.secret)
    _j, request = join_request(g, unknown)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 404 and code(response) == "invite_unknown"
    other = RelayGroup(api, seed="other")
    _j, request = join_request(g, link)
    response = api.post(f"{other.base}/join-requests", json={"request": request})
    assert response.status_code == 400 and code(response) == "invalid_request"
    clock.advance(3 * 3600 * 1000)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 410 and code(response) == "invite_expired"
    g.tokens.clear()  # the sessions expired with the clock
    link2, ticket2 = real_invite(g)
    g.f.revoke(ticket2)
    g.sync()
    _j, request = join_request(g, link2)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code == 410 and code(response) == "invite_revoked"
    assert ticket


def test_concurrent_redemptions_never_exceed_max_uses(api: Api, app: Flask) -> None:
    g = RelayGroup(api)
    link, _ticket = real_invite(g, max_uses=3)
    requests = [join_request(g, link)[1] for _ in range(12)]
    barrier = threading.Barrier(len(requests))
    statuses: list[tuple[int, str]] = []

    def send(request: str) -> None:
        client = app.test_client()
        barrier.wait()
        response = client.post(f"{g.base}/join-requests", json={"request": request})
        statuses.append((response.status_code,
                         "" if response.status_code == 201 else code(response)))

    threads = [threading.Thread(target=send, args=(r,)) for r in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses).count((201, "")) == 3, statuses
    assert all(s == (409, "invite_exhausted") for s in statuses if s[0] != 201), statuses
    assert row_counts(app)["join_requests"] == 3


def _redemptions(app: Flask) -> int:
    with app.app_context():
        total = db.session.scalar(sa.select(sa.func.sum(InviteRow.redemptions)))
        db.session.remove()
    return int(total or 0)


def test_join_requests_must_be_dated_near_the_relay_clock(api: Api, app: Flask,
                                                          clock: FakeClock) -> None:
    g = RelayGroup(api)
    link, _ticket = real_invite(g)
    for offset in (-300_001, 300_001, -10**9):
        request = make_join_request(g.f.identity(), link, now_ms=clock.now + offset)
        response = api.post(f"{g.base}/join-requests",
                            json={"request": b64encode(request.encode())})
        assert response.status_code == 422 and code(response) == "join_request_stale"
    assert row_counts(app)["join_requests"] == 0 and _redemptions(app) == 0
    accepted = []
    for offset in (-299_000, 299_000):
        request = make_join_request(g.f.identity(), link, now_ms=clock.now + offset)
        body = {"request": b64encode(request.encode())}
        response = api.post(f"{g.base}/join-requests", json=body)
        assert response.status_code == 201, response.get_json()
        accepted.append(body)
    # a retry of a request the relay already holds is answered, however old it is by now
    clock.advance(10 * 60_000)
    for body in accepted:
        response = api.post(f"{g.base}/join-requests", json=body)
        assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert row_counts(app)["join_requests"] == 2 and _redemptions(app) == 2


def _invite_uses(app: Flask, invite_id: bytes) -> tuple[int, int]:
    """(uses, redemptions) of an invite, as the relay keeps them."""
    with app.app_context():
        row = db.session.execute(sa.select(InviteRow.uses, InviteRow.redemptions)
                                 .where(InviteRow.invite_id == invite_id)).one()
        db.session.remove()
    return int(row.uses), int(row.redemptions)


def _challenge(g: RelayGroup, invite_id: bytes) -> Any:
    return g.api.post(f"{g.base}/auth/challenge", json={"invite_id": b64encode(invite_id)})


def _signed_challenge(g: RelayGroup, ticket: Any) -> dict[str, str]:
    """A challenge for the invite, signed with its key, not yet exchanged for a session."""
    response = _challenge(g, ticket.invite_id)
    assert response.status_code == 201, response.get_json()
    challenge = b64decode(response.get_json()["challenge"])
    signature = sign_invite_challenge(ticket.invite_sk, g.f.group_id, ticket.invite_id,
                                      challenge)
    return {"invite_id": b64encode(ticket.invite_id), "challenge": b64encode(challenge),
            "signature": b64encode(signature)}


def _opens_nothing(g: RelayGroup, link: Any, ticket: Any, token: str,
                   signed: dict[str, str]) -> None:
    """A used-up invite: no challenge, no session, its session reads nothing, no new join
    request (all 409 invite_exhausted), and nothing is written."""
    before = row_counts(g.api.app)
    responses = [
        _challenge(g, ticket.invite_id),
        g.api.post(f"{g.base}/auth/session", json=signed),
        g.api.get(f"{g.base}/log", token=token),
        g.api.get(f"{g.base}/log", token=token, query={"from": 1, "limit": 1}),
        g.api.post(f"{g.base}/join-requests", json={"request": join_request(g, link)[1]}),
    ]
    for response in responses:
        assert response.status_code == 409, (response.request.path, response.get_json())
        assert code(response) == "invite_exhausted"
    after = row_counts(g.api.app)
    assert {k: v for k, v in after.items() if k != "auth_challenges"} == \
        {k: v for k, v in before.items() if k != "auth_challenges"}


def test_an_invite_used_up_by_a_join_opens_nothing(api: Api, app: Flask) -> None:
    g = RelayGroup(api)
    link, ticket = real_invite(g, max_uses=1, requires_approval=False)
    token = g.invite_token(ticket.invite_id, ticket.invite_sk)
    signed = _signed_challenge(g, ticket)
    assert api.get(f"{g.base}/log", token=token).status_code == 200
    g.f.join(ticket)  # the JOIN entry carries its own proof
    g.sync()
    assert _invite_uses(app, ticket.invite_id) == (1, 0)
    _opens_nothing(g, link, ticket, token, signed)


def test_an_invite_used_up_by_an_approval_opens_nothing(api: Api, app: Flask) -> None:
    g = RelayGroup(api)
    link, ticket = real_invite(g, max_uses=2)
    token = g.invite_token(ticket.invite_id, ticket.invite_sk)
    g.f.approve(ticket)  # ADD entries naming the invite, each using it once
    g.sync()
    assert _invite_uses(app, ticket.invite_id) == (1, 0)
    assert api.get(f"{g.base}/log", token=token).status_code == 200  # one use left
    signed = _signed_challenge(g, ticket)
    g.f.approve(ticket)
    g.sync()
    assert _invite_uses(app, ticket.invite_id) == (2, 0)
    _opens_nothing(g, link, ticket, token, signed)


def test_an_invite_used_up_by_join_requests_opens_nothing(api: Api, app: Flask) -> None:
    g = RelayGroup(api)
    link, ticket = real_invite(g, max_uses=2)
    token = g.invite_token(ticket.invite_id, ticket.invite_sk)
    signed = _signed_challenge(g, ticket)
    requests = [join_request(g, link)[1] for _ in range(2)]
    for request in requests:
        response = api.post(f"{g.base}/join-requests", json={"request": request})
        assert response.status_code == 201
    assert _invite_uses(app, ticket.invite_id) == (0, 2)
    _opens_nothing(g, link, ticket, token, signed)
    # a request the relay already holds is still answered (its own redemption used it up)
    for request in requests:
        response = api.post(f"{g.base}/join-requests", json={"request": request})
        assert response.status_code == 200 and response.get_json()["status"] == "pending"
    assert _invite_uses(app, ticket.invite_id) == (0, 2)


def test_an_invite_with_uses_left_still_works(api: Api, app: Flask) -> None:
    g = RelayGroup(api)
    link, ticket = real_invite(g, max_uses=3, requires_approval=False)
    g.f.join(ticket)
    g.sync()
    _joiner, request = join_request(g, link)
    assert api.post(f"{g.base}/join-requests", json={"request": request}).status_code == 201
    assert _invite_uses(app, ticket.invite_id) == (1, 1)
    token = g.invite_token(ticket.invite_id, ticket.invite_sk)  # challenge and session
    response = api.get(f"{g.base}/log", token=token)
    assert response.status_code == 200
    assert len(response.get_json()["entries"]) == g.pushed
