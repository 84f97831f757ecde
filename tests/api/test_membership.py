"""A member removed (or who left) is refused everything at once, with its old session, but
the log up to the entry that ended its membership (so that its device learns of it)."""

from __future__ import annotations

import pytest
from werkzeug.test import TestResponse

from tests.api.helpers import Api, RelayGroup, code
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.identity import Identity
from vault.crypto.log_entries import AddBody, Role

OCTETS = "application/octet-stream"


def _everything_but_the_log(g: RelayGroup, token: str, who: Identity, pid: str, blob: str,
                            other: Identity) -> list[TestResponse]:
    api = g.api
    _pid2, env = g.envelope(who)
    entry = g.f.make(who, AddBody(g.f.identity().public, Role.MEMBER))
    post = {"post_id": b64encode(bytes(16))}
    return [
        api.post(f"{g.base}/log", json={"entry": b64encode(entry.raw)}, token=token),
        api.get(f"{g.base}/posts", token=token),
        api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=token),
        api.delete(f"{g.base}/posts/{pid}", token=token),
        api.get(f"{g.base}/events", token=token, query={"timeout": 0}),
        api.get(f"{g.base}/grants", token=token),
        api.post(f"{g.base}/grants", json={"epoch": 1, "grants": ["AAAA"]}, token=token),
        api.get(f"{g.base}/join-requests", token=token),
        api.delete(f"{g.base}/join-requests/{b64encode(other.sign_pk)}", token=token),
        api.get(f"{g.base}/blobs/{blob}", token=token),
        api.put(f"{g.base}/blobs/{blob}", data=b"x", content_type=OCTETS, token=token,
                query=post),
    ]


def test_removed_member_gets_403_everywhere(api: Api) -> None:
    """Everywhere but the log read (see test_a_former_member_reads_the_log_up_to_its_departure),
    with the session it held before its removal and with a new one."""
    g = RelayGroup(api)
    alice = g.f.add_member(Role.ADMIN)
    bob = g.f.add_member()
    g.sync()
    pid, response = g.put_post(alice)
    assert response.status_code == 201
    token = g.token(alice)  # issued before the removal
    blob = b64encode(bytes(16))
    assert api.put(f"{g.base}/blobs/{blob}", data=b"x", content_type=OCTETS, token=token,
                   query={"post_id": pid}).status_code == 201
    g.f.remove(alice)
    g.sync()
    fresh = g.token(alice, fresh=True)  # a former member still gets a session
    for session in (token, fresh):
        for response in _everything_but_the_log(g, session, alice, pid, blob, bob):
            assert response.status_code == 403, (response.request.path, response.get_json())
            assert code(response) == "not_a_member"
        assert api.get(f"{g.base}/log", token=session).status_code == 200
    # the rest of the group carries on
    assert api.get(f"{g.base}/posts", token=g.token(bob)).status_code == 200


def test_member_who_left_is_refused(api: Api) -> None:
    g = RelayGroup(api)
    carol = g.f.add_member()
    g.sync()
    token = g.token(carol)
    g.f.leave(carol)
    g.sync()
    response = api.get(f"{g.base}/posts", token=token)
    assert response.status_code == 403 and code(response) == "not_a_member"


@pytest.mark.parametrize("how", ["removed", "left"])
def test_a_former_member_reads_the_log_up_to_its_departure(api: Api, how: str) -> None:
    g = RelayGroup(api)
    alice, bob = g.f.add_members(2)
    admin = g.f.add_member(Role.ADMIN)
    g.sync()
    old_token = g.token(alice)
    if how == "removed":
        g.f.remove(alice, by=admin)
    else:
        g.f.leave(alice)
    g.sync()
    departure = g.f.state.seq
    # the group moves on: entries after the departure are none of alice's business
    g.f.add_member()
    g.f.rotate()
    g.f.set_metadata()
    g.sync()
    head = g.f.state.seq
    assert head > departure + 2
    new_token = g.token(alice, fresh=True)
    for token in (old_token, new_token):
        body = api.get(f"{g.base}/log", token=token).get_json()
        assert body["head_seq"] == departure
        assert [b64decode(e) for e in body["entries"]] == g.f.raw[:departure + 1]
        page = api.get(f"{g.base}/log", token=token,
                       query={"from": departure - 1, "limit": 10}).get_json()
        assert [b64decode(e) for e in page["entries"]] == g.f.raw[departure - 1:departure + 1]
        beyond = api.get(f"{g.base}/log", token=token, query={"from": departure + 1}).get_json()
        assert beyond == {"entries": [], "head_seq": departure}
        for response in _everything_but_the_log(g, token, alice, b64encode(bytes(16)),
                                                b64encode(bytes(16)), bob):
            assert response.status_code == 403, (response.request.path, response.get_json())
            assert code(response) == "not_a_member"
    # current members are unaffected
    for member in (g.owner, bob):
        body = api.get(f"{g.base}/log", token=g.token(member)).get_json()
        assert body["head_seq"] == head and len(body["entries"]) == head + 1
    assert api.get(f"{g.base}/posts", token=g.token(bob)).status_code == 200


def test_a_key_that_never_was_a_member_gets_no_challenge(api: Api) -> None:
    g = RelayGroup(api)
    outsider = g.f.identity()
    other = RelayGroup(api, seed="other-group")
    for group, key in ((g, outsider.sign_pk), (other, g.owner.sign_pk)):
        response = api.post(f"{group.base}/auth/challenge", json={"member": b64encode(key)})
        assert response.status_code == 403 and code(response) == "not_a_member"
