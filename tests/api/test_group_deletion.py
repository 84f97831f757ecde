"""Deleting a group at the relay: an owner's DELETE_GROUP purges everything the relay holds
for it in the transaction that stores the entry, and leaves a tombstone that answers
``group_deleted`` (410) and serves that entry, and nothing else (protocol §4.9)."""

from __future__ import annotations

import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.api.conftest import row_counts
from tests.api.helpers import Api, RelayGroup, code, join_request, real_invite
from tests.api.test_blobs import put_blob
from tests.api.test_grants import _grants
from vault.api.blueprints import blobs as blobs_bp
from vault.api.db import db
from vault.api.models import ALL_TABLES
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.log_entries import DeleteGroupBody, Role
from vault.crypto.log_verify import check_deletion


def _rows_of(app: Flask, group_id: bytes) -> dict[str, int]:
    """How many rows of each table name the group (every table has a group_id but
    ``schema_version``-like ones, which hold none)."""
    with app.app_context():
        counts = {}
        for table in ALL_TABLES:
            columns = {c["name"] for c in sa.inspect(db.engine).get_columns(table)}
            if "group_id" in columns:
                counts[table] = int(db.session.execute(
                    sa.text(f"SELECT COUNT(*) FROM {table} WHERE group_id = :g"),
                    {"g": group_id}).scalar_one())
        db.session.remove()
        return counts


def _a_lived_in_group(api: Api) -> tuple[RelayGroup, list]:  # type: ignore[type-arg]
    """A group with a member, an admin, a rotation and its grants, posts, an attachment,
    an open invite with a pending join request, and sessions."""
    g = RelayGroup(api)
    member = g.f.add_member()
    admin = g.f.add_member(Role.ADMIN)
    g.f.rotate()
    g.sync()
    response = api.post(f"{g.base}/grants", token=g.token(g.owner),
                        json={"epoch": 1, "grants": _grants(g, 1, [g.owner, member, admin])})
    assert response.status_code == 201
    for author in (member, admin):
        assert g.put_post(author)[1].status_code == 201
    assert put_blob(g, member, b"b" * 16, b"attachment bytes").status_code == 201
    link, _ = real_invite(g)
    _, request = join_request(g, link)
    assert api.post(f"{g.base}/join-requests", json={"request": request}).status_code == 201
    return g, [member, admin]


def test_an_owner_deletes_and_the_relay_keeps_only_a_tombstone(api: Api) -> None:
    g, (member, admin) = _a_lived_in_group(api)
    before = _rows_of(api.app, g.f.group_id)
    assert all(before[t] > 0 for t in ("posts", "blobs", "grants", "invites", "join_requests",
                                        "members", "sessions", "log_entries"))
    deletion = g.f.append(g.owner, DeleteGroupBody())
    response = g.push_entry(deletion, g.token(g.owner))
    assert response.status_code == 201, response.get_json()

    after = _rows_of(api.app, g.f.group_id)
    assert after.pop("log_entries") == 1 and after.pop("groups") == 1
    assert set(after.values()) == {0}, after
    # The tombstone serves the deletion to anyone who knows the group id, and a member's
    # device checks it against the log it holds.
    served = api.get(f"{g.base}/deletion")
    assert served.status_code == 200
    assert served.get_json() == {"seq": deletion.seq, "entry": b64encode(deletion.raw)}

    # Everything else about the group: group_deleted, for members, sessions and outsiders.
    old_token = g.tokens[member.sign_pk]
    assert code(api.get(f"{g.base}/log", token=old_token)) == "unauthenticated"
    challenge = api.post(f"{g.base}/auth/challenge", json={"member": b64encode(member.sign_pk)})
    assert challenge.status_code == 410 and code(challenge) == "group_deleted"
    again = api.post("/v1/groups", json={"genesis": b64encode(g.f.genesis.raw)})
    assert again.status_code == 410 and code(again) == "group_deleted"
    late = g.push_entry(g.f.make(admin, DeleteGroupBody()), old_token)
    assert late.status_code == 401
    assert _rows_of(api.app, g.f.group_id) == {**{t: 0 for t in after}, "log_entries": 1,
                                               "groups": 1}


def test_the_deletion_checks_against_a_members_log(api: Api) -> None:
    g = RelayGroup(api)
    g.f.add_member()
    g.sync()
    known = g.f.state
    g.f.add_member()
    g.sync()
    deletion = g.f.append(g.owner, DeleteGroupBody())
    assert g.push_entry(deletion, g.token(g.owner)).status_code == 201
    served = b64decode(api.get(f"{g.base}/deletion").get_json()["entry"])
    # A device one entry behind never sees the purged entry; DEL-3 still accepts it.
    assert check_deletion(known, served).hash == deletion.hash


def test_an_admin_cannot_delete_and_a_living_group_has_no_deletion(api: Api) -> None:
    g = RelayGroup(api)
    admin = g.f.add_member(Role.ADMIN)
    g.f.add_member()
    g.sync()
    token = g.token(admin)
    counts = row_counts(api.app)
    refused = g.push_entry(g.f.make(admin, DeleteGroupBody()), token)
    assert refused.status_code == 422 and code(refused) == "log_unauthorized"
    assert row_counts(api.app) == counts
    missing = api.get(f"{g.base}/deletion")
    assert missing.status_code == 404 and code(missing) == "not_found"
    assert api.get(f"{g.base}/log", token=g.token(admin)).status_code == 200


def test_an_attachment_racing_the_deletion_is_refused(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The deletion lands between the upload's first look at the group and its write: the
    write transaction sees the group deleted (group_deleted), and nothing is stored."""
    g = RelayGroup(api)
    member = g.f.add_member()
    g.sync()
    g.token(member)
    deletion, token = g.f.make(g.owner, DeleteGroupBody()), g.token(g.owner)
    real = blobs_bp.get_group

    results: list[int] = []

    def look_then_delete(group_id: bytes) -> object:
        found = real(group_id)
        deleter = threading.Thread(target=lambda: results.append(
            g.push_entry(deletion, token).status_code))  # (its own request, its own thread)
        deleter.start()
        deleter.join()
        return found

    monkeypatch.setattr(blobs_bp, "get_group", look_then_delete)
    late = put_blob(g, member, b"z" * 16, b"late attachment")
    assert results == [201]
    assert late.status_code == 410 and code(late) == "group_deleted"
    assert _rows_of(api.app, g.f.group_id)["blobs"] == 0
