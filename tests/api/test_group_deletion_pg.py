"""Deleting a group while other writes about it run, on PostgreSQL (on SQLite writers take
turns: BEGIN IMMEDIATE already orders them). Each write first holds the group row, so the
deletion waits for it and then purges what it stored (tests/api/test_group_deletion.py has
the rest)."""

from __future__ import annotations

import threading

import pytest

from tests.api.helpers import Api, RelayGroup, join_request, real_invite
from tests.api.test_grants import _grants
from tests.api.test_group_deletion import _rows_of
from tests.conftest import NO_POSTGRES, POSTGRES_URL
from vault.api.blueprints import grants as grants_bp
from vault.api.blueprints import invites as invites_bp
from vault.crypto.encoding import b64encode
from vault.crypto.log_entries import DeleteGroupBody


@pytest.fixture(params=[pytest.param("postgresql", marks=pytest.mark.skipif(
    not POSTGRES_URL, reason=NO_POSTGRES))])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


class Deleter:
    """The owner's deletion, sent from its own thread (its own request) once :meth:`start`
    is called inside another request's transaction; ``results`` holds its status."""

    def __init__(self, g: RelayGroup) -> None:
        token = g.token(g.owner)
        deletion = g.f.make(g.owner, DeleteGroupBody())
        self.results: list[int] = []
        self.thread = threading.Thread(target=lambda: self.results.append(
            g.push_entry(deletion, token).status_code))

    def start(self) -> None:
        self.thread.start()
        self.thread.join(timeout=1.0)  # blocked by the transaction's hold on the group row

    def finished(self) -> list[int]:
        self.thread.join()
        return self.results


def test_grants_racing_the_deletion_are_purged_with_it(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: the deletion starts while a grant upload's transaction holds the group
    row. It waits for that commit, then purges what was stored: no grant outlives the
    group (before the shared lock on the group row, the grants stayed for ever)."""
    g = RelayGroup(api)
    member = g.f.add_member()
    g.f.rotate()
    g.sync()
    deleter = Deleter(g)
    real = grants_bp._current_members

    def read_then_delete(*args: object) -> object:
        found = real(*args)  # type: ignore[arg-type]
        deleter.start()
        assert deleter.results == []
        return found

    monkeypatch.setattr(grants_bp, "_current_members", read_then_delete)
    body = {"epoch": 1, "grants": _grants(g, 1, [g.owner, member])}
    assert api.post(f"{g.base}/grants", token=g.token(g.owner), json=body).status_code == 201
    assert deleter.finished() == [201]
    assert _rows_of(api.app, g.f.group_id)["grants"] == 0


def test_a_deny_racing_the_deletion_is_answered(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """PostgreSQL: an admin denies a join request while the owner deletes the group. The
    deletion waits for the deny's transaction (it holds the group row), then purges: no
    500 (before, the purge deleted the row under the deny: StaleDataError)."""
    g = RelayGroup(api)
    g.f.add_member()
    g.sync()
    link, _ = real_invite(g)
    joiner, request = join_request(g, link)
    assert api.post(f"{g.base}/join-requests", json={"request": request}).status_code == 201
    deleter = Deleter(g)
    real = invites_bp._status

    def deny_then_delete(row: object) -> object:
        deleter.start()
        return real(row)  # type: ignore[arg-type]

    monkeypatch.setattr(invites_bp, "_status", deny_then_delete)
    denied = api.delete(f"{g.base}/join-requests/{b64encode(joiner.sign_pk)}",
                        token=g.token(g.owner))
    assert denied.status_code == 200 and deleter.finished() == [201]
    assert _rows_of(api.app, g.f.group_id)["join_requests"] == 0
