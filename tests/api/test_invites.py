"""Join requests: redemption with the join proof, atomic use counting, deny, approve."""

from __future__ import annotations

import threading

import sqlalchemy as sa
from flask import Flask

from tests.api.conftest import row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code, join_request, real_invite
from vault.api.db import db
from vault.api.models import InviteRow
from vault.crypto.encoding import b64encode
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
