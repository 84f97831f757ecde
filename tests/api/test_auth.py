"""Challenge/response auth and sessions."""

from __future__ import annotations

from tests.api.helpers import Api, FakeClock, RelayGroup, code, real_invite
from vault.crypto.auth import sign_member_challenge
from vault.crypto.encoding import b64decode, b64encode


def _challenge(api: Api, g: RelayGroup, member: bytes) -> bytes:
    response = api.post(f"{g.base}/auth/challenge", json={"member": b64encode(member)})
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["expires_at_ms"] > 0
    value = b64decode(body["challenge"])
    assert len(value) == 32
    return value


def _session(api: Api, g: RelayGroup, member: bytes, challenge: bytes, signature: bytes) -> object:
    return api.post(f"{g.base}/auth/session", json={
        "member": b64encode(member), "challenge": b64encode(challenge),
        "signature": b64encode(signature)})


def test_session_and_replay(api: Api) -> None:
    g = RelayGroup(api)
    owner = g.owner
    challenge = _challenge(api, g, owner.sign_pk)
    signature = sign_member_challenge(owner, g.f.group_id, challenge)
    first = _session(api, g, owner.sign_pk, challenge, signature)
    assert first.status_code == 201
    token = first.get_json()["token"]
    assert len(b64decode(token)) == 32
    assert api.get(f"{g.base}/log", token=token).status_code == 200
    replay = _session(api, g, owner.sign_pk, challenge, signature)
    assert replay.status_code == 401 and code(replay) == "challenge_expired"


def test_challenge_expires(api: Api, clock: FakeClock) -> None:
    g = RelayGroup(api)
    challenge = _challenge(api, g, g.owner.sign_pk)
    clock.advance(61_000)
    signature = sign_member_challenge(g.owner, g.f.group_id, challenge)
    response = _session(api, g, g.owner.sign_pk, challenge, signature)
    assert response.status_code == 401 and code(response) == "challenge_expired"


def test_bad_signature_burns_challenge(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    challenge = _challenge(api, g, g.owner.sign_pk)
    wrong = sign_member_challenge(alice, g.f.group_id, challenge)  # another key
    response = _session(api, g, g.owner.sign_pk, challenge, wrong)
    assert response.status_code == 401 and code(response) == "unauthenticated"
    right = sign_member_challenge(g.owner, g.f.group_id, challenge)
    response = _session(api, g, g.owner.sign_pk, challenge, right)
    assert code(response) == "challenge_expired"


def test_challenge_for_other_member_or_group_fails(api: Api) -> None:
    g = RelayGroup(api)
    h = RelayGroup(api, seed="other-group")
    alice = g.f.add_member()
    g.sync()
    challenge = _challenge(api, g, alice.sign_pk)
    # signed for another group id
    signature = sign_member_challenge(alice, h.f.group_id, challenge)
    assert code(_session(api, g, alice.sign_pk, challenge, signature)) == "unauthenticated"
    # presented to another group
    challenge = _challenge(api, g, alice.sign_pk)
    signature = sign_member_challenge(alice, g.f.group_id, challenge)
    response = api.post(f"{h.base}/auth/session", json={
        "member": b64encode(alice.sign_pk), "challenge": b64encode(challenge),
        "signature": b64encode(signature)})
    assert response.status_code == 403 and code(response) == "not_a_member"


def test_non_member_gets_no_challenge(api: Api) -> None:
    g = RelayGroup(api)
    stranger = g.f.identity()
    response = api.post(f"{g.base}/auth/challenge", json={"member": b64encode(stranger.sign_pk)})
    assert response.status_code == 403 and code(response) == "not_a_member"


def test_unknown_group(api: Api) -> None:
    response = api.post(f"/v1/groups/{b64encode(bytes(32))}/auth/challenge",
                        json={"member": b64encode(bytes(32))})
    assert response.status_code == 404 and code(response) == "not_found"


def test_exactly_one_subject(api: Api) -> None:
    g = RelayGroup(api)
    for body in ({}, {"member": b64encode(g.owner.sign_pk), "invite_id": b64encode(bytes(16))}):
        response = api.post(f"{g.base}/auth/challenge", json=body)
        assert response.status_code == 400 and code(response) == "invalid_request"


def test_session_expires(api: Api, clock: FakeClock) -> None:
    g = RelayGroup(api)
    token = g.token(g.owner)
    clock.advance(3600 * 1000 + 1)
    response = api.get(f"{g.base}/log", token=token)
    assert response.status_code == 401 and code(response) == "session_expired"


def test_bad_tokens(api: Api) -> None:
    g = RelayGroup(api)
    h = RelayGroup(api, seed="other-group")
    token = g.token(g.owner)
    for headers in ({}, {"Authorization": "Basic abc"}, {"Authorization": "Bearer"},
                    {"Authorization": "Bearer !!!"}, {"Authorization": "Bearer " + "A" * 43},
                    {"Authorization": "Bearer " + "A" * 5000}):
        response = api.get(f"{g.base}/posts", headers=headers)
        assert response.status_code == 401 and code(response) == "unauthenticated", headers
    response = api.get(f"{h.base}/posts", token=token)  # bound to the other group
    assert response.status_code == 401 and code(response) == "unauthenticated"


def test_invite_session_reads_log_only(api: Api) -> None:
    g = RelayGroup(api)
    _link, ticket = real_invite(g)
    token = g.invite_token(ticket.invite_id, ticket.invite_sk)
    response = api.get(f"{g.base}/log", token=token)
    assert response.status_code == 200
    assert len(response.get_json()["entries"]) == g.pushed
    for path in ("/posts", "/grants", "/events?timeout=0"):
        response = api.get(g.base + path, token=token)
        assert response.status_code == 403 and code(response) == "forbidden", path
    g.f.revoke(ticket)
    g.sync()
    response = api.get(f"{g.base}/log", token=token)
    assert response.status_code == 403 and code(response) == "forbidden"


def test_token_is_stored_hashed(api: Api) -> None:
    from vault.api.db import db
    from vault.api.models import SessionRow

    g = RelayGroup(api)
    token = b64decode(g.token(g.owner))
    with api.app.app_context():
        rows = db.session.query(SessionRow).all()
        assert rows and all(row.token_hash != token for row in rows)
        db.session.remove()


def test_no_session_is_refused_before_any_input_is_read(api: Api) -> None:
    """Endpoints that need a session answer 401 to a request without one, whatever its path,
    query or body (the relay parses nothing for an unauthenticated caller)."""
    g = RelayGroup(api)
    bad = "not-an-id"
    for method, path, kwargs in (
        ("GET", f"/v1/groups/{bad}/posts", {"query": {"limit": "x"}}),
        ("PUT", f"{g.base}/posts/{bad}", {"data": "{", "content_type": "application/json"}),
        ("DELETE", f"{g.base}/posts/{bad}", {}),
        ("PUT", f"{g.base}/blobs/{bad}", {"data": b"x" * 10, "content_type": "text/plain"}),
        ("GET", f"{g.base}/blobs/{bad}", {}),
        ("POST", f"{g.base}/grants", {"json": {"epoch": "x"}}),
        ("GET", f"{g.base}/events", {"query": {"timeout": "99"}}),
        ("GET", f"{g.base}/log", {"query": {"from": "-1"}}),
        ("DELETE", f"{g.base}/join-requests/{bad}", {}),
    ):
        for token in (None, "A" * 43, b64encode(bytes(32))):
            response = api.call(method, path, token=token, **kwargs)
            assert response.status_code == 401 and code(response) == "unauthenticated", (
                method, path, token, response.get_json())

