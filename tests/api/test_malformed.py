"""Malformed input of every kind: a 4xx JSON error with a stable code, never a 500, and
nothing written."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.api.conftest import row_counts
from tests.api.helpers import Api, RelayGroup
from vault.crypto.encoding import b64encode
from vault.crypto.errors import all_error_classes

KNOWN = set(all_error_classes())


def _cases(g: RelayGroup, token: str, pid: str, env: str) -> list[tuple[str, str, dict[str, Any]]]:
    b = g.base
    big = "A" * 200_000
    entry_json = {"entry": b64encode(g.f.genesis.raw)}
    return [
        # bodies that are not JSON objects
        ("POST", "/v1/groups", {"data": "{bad", "content_type": "application/json"}),
        ("POST", "/v1/groups", {"data": "[1, 2]", "content_type": "application/json"}),
        ("POST", "/v1/groups", {"data": "null", "content_type": "application/json"}),
        ("POST", "/v1/groups", {"data": "\xff\xfe", "content_type": "application/json"}),
        ("POST", "/v1/groups", {"data": "[" * 100_000, "content_type": "application/json"}),
        ("POST", "/v1/groups", {"data": '{"genesis": "AA"}', "content_type": "text/plain"}),
        ("POST", "/v1/groups", {"data": b"", "content_type": "application/json"}),
        # wrong types, missing and extra fields
        ("POST", "/v1/groups", {"json": {}}),
        ("POST", "/v1/groups", {"json": {"genesis": 12}}),
        ("POST", "/v1/groups", {"json": {"genesis": None}}),
        ("POST", "/v1/groups", {"json": {"genesis": ["AA"]}}),
        ("POST", "/v1/groups", {"json": {"genesis": "AAAA", "extra": 1}}),
        # bad base64, wrong lengths, huge fields, bytes that are not the object
        ("POST", "/v1/groups", {"json": {"genesis": "AA=="}}),
        ("POST", "/v1/groups", {"json": {"genesis": "AA+/"}}),
        ("POST", "/v1/groups", {"json": {"genesis": "A"}}),
        ("POST", "/v1/groups", {"json": {"genesis": "AB"}}),
        ("POST", "/v1/groups", {"json": {"genesis": big}}),
        ("POST", "/v1/groups", {"json": {"genesis": "A" * 2_000_000}}),
        ("POST", "/v1/groups", {"json": {"genesis": b64encode(b"\x02\x01" + bytes(300))}}),
        ("POST", f"{b}/auth/challenge", {"json": {"member": "short"}}),
        ("POST", f"{b}/auth/challenge", {"json": {"member": "é" * 43}}),
        ("POST", f"{b}/auth/challenge", {"json": {"member": b64encode(bytes(31)) + "A"}}),
        ("POST", f"{b}/auth/session", {"json": {"member": b64encode(bytes(32)),
                                                 "challenge": "x", "signature": "y"}}),
        ("POST", f"{b}/log", {"json": {"entry": "!!!"}, "token": token}),
        ("POST", f"{b}/log", {"json": entry_json, "token": token}),
        ("POST", f"{b}/log", {"json": {"entry": b64encode(b"\x02\x01")}, "token": token}),
        ("GET", f"{b}/log", {"query": {"from": "-1"}, "token": token}),
        ("GET", f"{b}/log", {"query": {"from": "x"}, "token": token}),
        ("GET", f"{b}/log", {"query": {"from": str(2**70)}, "token": token}),
        ("GET", f"{b}/log", {"query": {"limit": "0"}, "token": token}),
        ("GET", f"{b}/log", {"query": {"bogus": "1"}, "token": token}),
        ("GET", f"{b}/posts", {"query": {"after": "-5"}, "token": token}),
        ("GET", f"{b}/posts", {"query": {"after": "9" * 40}, "token": token}),
        ("GET", f"{b}/posts", {"query": {"limit": "1000"}, "token": token}),
        ("GET", f"{b}/events", {"query": {"timeout": "31"}, "token": token}),
        ("GET", f"{b}/events", {"query": {"after": "abc"}, "token": token}),
        ("PUT", f"{b}/posts/{pid}", {"json": {"envelope": env[:-10]}, "token": token}),
        ("PUT", f"{b}/posts/{pid}", {"json": {"envelope": 5}, "token": token}),
        ("PUT", f"{b}/posts/{pid[:-2]}", {"json": {"envelope": env}, "token": token}),
        ("PUT", f"{b}/posts/{'A' * 5000}", {"json": {"envelope": env}, "token": token}),
        ("PUT", f"{b}/posts/{pid}", {"json": {"envelope": "A" * 400_000}, "token": token}),
        ("POST", f"{b}/grants", {"json": {"epoch": -1, "grants": ["AA"]}, "token": token}),
        ("POST", f"{b}/grants", {"json": {"epoch": 2**63, "grants": ["AA"]}, "token": token}),
        ("POST", f"{b}/grants", {"json": {"epoch": True, "grants": ["AA"]}, "token": token}),
        ("POST", f"{b}/grants", {"json": {"epoch": 0, "grants": ["AA"] * 10_001},
                                 "token": token}),
        ("POST", f"{b}/grants", {"json": {"epoch": 0, "grants": "AA"}, "token": token}),
        ("POST", f"{b}/join-requests", {"json": {"request": "AAAA"}}),
        ("POST", f"{b}/join-requests", {"json": {"request": b64encode(bytes(300))}}),
        ("DELETE", f"{b}/join-requests/xyz", {"token": token}),
        ("GET", "/v1/groups/not-an-id/log", {"token": token}),
        ("GET", f"/v1/groups/{b64encode(bytes(32))}/posts", {"token": token}),
        ("GET", "/v1/nothing-here", {}),
        ("PATCH", f"{b}/posts/{pid}", {"token": token}),
        ("DELETE", "/v1/groups", {}),
        ("GET", "/v1/health", {"query": {"x": "1"}}),
        ("GET", f"{b}/posts", {"token": token, "data": "{}", "content_type": "application/json"}),
    ]


@pytest.fixture
def group(api: Api) -> RelayGroup:
    g = RelayGroup(api)
    g.f.add_member()
    g.sync()
    g.put_post(g.owner)
    return g


def test_bad_input_never_500_never_writes(api: Api, group: RelayGroup) -> None:
    token = group.token(group.owner)
    pid, env = group.envelope(group.owner)
    before = row_counts(api.app)
    for method, path, kwargs in _cases(group, token, pid, env):
        response = api.call(method, path[:8000], **kwargs)
        label = (method, path[:80], json.dumps(kwargs.get("json"))[:80] if "json" in kwargs
                 else str(kwargs.get("data"))[:40])
        assert 400 <= response.status_code < 500, (label, response.status_code, response.data)
        assert response.mimetype == "application/json", label
        body = response.get_json()
        assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, label
        assert body["error"]["code"] in KNOWN, (label, body)
        assert row_counts(api.app) == before, label


def test_error_bodies_do_not_echo_input(api: Api, group: RelayGroup) -> None:
    canary = "CANARYVALUE" * 4
    response = api.post("/v1/groups", json={"genesis": canary})
    assert response.status_code == 400
    assert canary not in response.get_data(as_text=True)
    response = api.post("/v1/groups", json={"genesis": "AAAA", canary: 1})
    assert canary not in response.get_data(as_text=True)
