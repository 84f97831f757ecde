"""A member removed (or who left) is refused everything at once, with its old session."""

from __future__ import annotations

from tests.api.helpers import Api, RelayGroup, code
from vault.crypto.encoding import b64encode
from vault.crypto.log import AddBody, Role


def test_removed_member_gets_403_everywhere(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member(Role.ADMIN)
    bob = g.f.add_member()
    g.sync()
    pid, response = g.put_post(alice)
    assert response.status_code == 201
    token = g.token(alice)  # issued before the removal
    blob = b64encode(bytes(16))
    assert api.put(f"{g.base}/blobs/{blob}", data=b"x", content_type="application/octet-stream",
                   token=token).status_code == 201
    g.f.remove(alice)
    g.sync()
    _pid2, env = g.envelope(alice)
    entry = g.f.make(alice, AddBody(g.f.identity().public, Role.MEMBER))
    attempts = [
        api.get(f"{g.base}/log", token=token),
        api.post(f"{g.base}/log", json={"entry": b64encode(entry.raw)}, token=token),
        api.get(f"{g.base}/posts", token=token),
        api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=token),
        api.delete(f"{g.base}/posts/{pid}", token=token),
        api.get(f"{g.base}/events", token=token, query={"timeout": 0}),
        api.get(f"{g.base}/grants", token=token),
        api.post(f"{g.base}/grants", json={"epoch": 1, "grants": ["AAAA"]}, token=token),
        api.get(f"{g.base}/join-requests", token=token),
        api.delete(f"{g.base}/join-requests/{b64encode(bob.sign_pk)}", token=token),
        api.get(f"{g.base}/blobs/{blob}", token=token),
        api.put(f"{g.base}/blobs/{blob}", data=b"x", content_type="application/octet-stream",
                token=token),
        api.post(f"{g.base}/auth/challenge", json={"member": b64encode(alice.sign_pk)}),
    ]
    for response in attempts:
        assert response.status_code == 403, (response.request.path, response.get_json())
        assert code(response) == "not_a_member"
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
