"""Epoch-key grants: one request per rotation, all or nothing; members fetch their own."""

from __future__ import annotations

import json

import pytest

from tests.api.conftest import row_counts
from tests.api.helpers import Api, RelayGroup, code
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.epochs import build_grants, open_grant
from vault.crypto.log_entries import Role


def _grants(g: RelayGroup, epoch: int, recipients: list) -> list[str]:  # type: ignore[type-arg]
    built = build_grants(g.owner, g.f.group_id, epoch, g.f.epoch_keys[epoch],
                         [r.public for r in recipients])
    return [b64encode(grant.encode()) for grant in built]


def test_upload_and_fetch_own(api: Api) -> None:
    g = RelayGroup(api)
    members = g.f.add_members(4)
    g.f.rotate()
    g.sync()
    everyone = [g.owner, *members]
    grants = _grants(g, 1, everyone)
    response = api.post(f"{g.base}/grants", json={"epoch": 1, "grants": grants},
                        token=g.token(g.owner))
    assert response.status_code == 201 and response.get_json() == {"epoch": 1, "stored": 5}
    again = api.post(f"{g.base}/grants", json={"epoch": 1, "grants": grants},
                     token=g.token(g.owner))
    assert again.status_code == 201 and again.get_json()["stored"] == 0
    from vault.crypto.epochs import EpochGrant

    for member in everyone:
        mine = api.get(f"{g.base}/grants", token=g.token(member), query={"epoch": 1}).get_json()
        assert len(mine["grants"]) == 1
        grant = EpochGrant.decode(b64decode(mine["grants"][0]["grant"]))
        assert grant.recipient == member.sign_pk
        assert open_grant(grant, member, g.f.state) == g.f.epoch_keys[1]
    mine = api.get(f"{g.base}/grants", token=g.token(members[0])).get_json()["grants"]
    assert [item["epoch"] for item in mine] == [1]


def test_rules_all_or_nothing(api: Api) -> None:
    g = RelayGroup(api)
    alice, bob = g.f.add_members(2)
    g.f.remove(bob)
    g.sync()
    g.token(alice)
    g.token(g.owner)
    before = row_counts(api.app)
    cases = [
        ({"epoch": 1, "grants": _grants(g, 1, [alice, bob])}, g.owner, 422, "grant_invalid"),
        ({"epoch": 2, "grants": _grants(g, 1, [alice])}, g.owner, 422, "grant_invalid"),
        ({"epoch": 0, "grants": _grants(g, 1, [alice])}, g.owner, 422, "grant_invalid"),
        ({"epoch": 1, "grants": _grants(g, 1, [alice])}, alice, 403, "forbidden"),
        ({"epoch": 1, "grants": _grants(g, 1, [alice]) * 2}, g.owner, 400,
         "invalid_request"),
        ({"epoch": 1, "grants": []}, g.owner, 400, "invalid_request"),
        ({"epoch": 1, "grants": ["AAAA"]}, g.owner, 400, "malformed"),
    ]
    for body, who, status, expected in cases:
        response = api.post(f"{g.base}/grants", json=body, token=g.token(who))
        assert (response.status_code, code(response)) == (status, expected), body
    assert row_counts(api.app) == before


def test_conflicting_grant(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member(Role.ADMIN)
    g.f.rotate()
    g.sync()
    first = _grants(g, 1, [alice])
    assert api.post(f"{g.base}/grants", json={"epoch": 1, "grants": first},
                    token=g.token(g.owner)).status_code == 201
    other = build_grants(alice, g.f.group_id, 1, g.f.epoch_keys[1], [alice.public])
    response = api.post(f"{g.base}/grants", json={
        "epoch": 1, "grants": [b64encode(other[0].encode())]}, token=g.token(alice))
    assert response.status_code == 409 and code(response) == "grant_conflict"


@pytest.mark.slow
def test_large_rotation_in_one_request(api: Api) -> None:
    g = RelayGroup(api)
    members = g.f.add_members(600)
    g.f.rotate()
    g.sync()
    grants = _grants(g, 1, [g.owner, *members])
    response = api.post(f"{g.base}/grants", json={"epoch": 1, "grants": grants},
                        token=g.token(g.owner))
    assert response.status_code == 201 and response.get_json()["stored"] == 601


def test_epoch_written_as_an_integral_number(api: Api) -> None:
    """JSON does not tell 1 from 1.0 (nor does JSON Schema's integer): both are epoch 1.
    1.5, true and "1" are not integers."""
    g = RelayGroup(api)
    members = g.f.add_members(2)
    g.f.rotate()
    g.sync()
    grants = _grants(g, 1, [g.owner, *members])
    for epoch in ("1.5", "true", '"1"', "1e400", "NaN"):
        data = f'{{"epoch": {epoch}, "grants": {json.dumps(grants)}}}'
        response = api.post(f"{g.base}/grants", data=data, content_type="application/json",
                            token=g.token(g.owner))
        assert response.status_code == 400 and code(response) == "invalid_request", epoch
    for epoch in ("1.0", "1e0", "10E-1"):
        data = f'{{"epoch": {epoch}, "grants": {json.dumps(grants)}}}'
        response = api.post(f"{g.base}/grants", data=data, content_type="application/json",
                            token=g.token(g.owner))
        assert response.status_code == 201 and response.get_json()["epoch"] == 1, epoch
