"""The relay's pooled PostgreSQL connections (vault.api.db._ping_after_idle): one that died
while idle is replaced before a request uses it; one that dies within a second of its last
use fails that one request with a 503, and the next request gets a fresh connection."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.api import db as db_module
from vault.api.db import db
from vault.api.services import services_of

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


@pytest.fixture
def relay(database_url: str, clock: FakeClock) -> Iterator[Api]:
    app = make_app(database_url, clock)
    yield Api(app)
    services_of(app).wakeup.close()
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _only_pooled_backend(app: Flask) -> int:
    """Leave the app's pool holding one connection, and return its server process id."""
    with app.app_context():
        db.session.remove()
        db.engine.dispose()  # (closes what the pool holds; the next checkout connects)
        pid = int(db.session.execute(sa.text("SELECT pg_backend_pid()")).scalar_one())
        db.session.remove()
    return pid


def _terminate(database_url: str, pid: int) -> None:
    admin = sa.create_engine(database_url.replace("postgresql://", "postgresql+psycopg://", 1))
    try:
        with admin.begin() as conn:
            assert conn.execute(sa.text("SELECT pg_terminate_backend(:pid)"),
                                {"pid": pid}).scalar_one()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with admin.connect() as conn:
                if not conn.execute(sa.text("SELECT count(*) FROM pg_stat_activity "
                                            "WHERE pid = :pid"), {"pid": pid}).scalar_one():
                    return
            time.sleep(0.02)
        raise AssertionError("the server process did not end")
    finally:
        admin.dispose()


def _poll(api: Api, g: RelayGroup, token: str) -> int:
    return int(api.get(f"{g.base}/events", token=token, query={"timeout": 0}).status_code)


def test_a_connection_that_died_while_idle_is_replaced_before_use(
        relay: Api, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    g = RelayGroup(relay)
    token = g.token(g.owner)
    pid = _only_pooled_backend(relay.app)
    _terminate(database_url, pid)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 0.0)  # as after a second's pause
    assert _poll(relay, g, token) == 200


def test_a_connection_that_dies_right_after_use_costs_one_request_a_503(
        relay: Api, database_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    g = RelayGroup(relay)
    token = g.token(g.owner)
    monkeypatch.setattr(db_module, "PING_AFTER_IDLE_S", 3600.0)  # never idle long enough
    pid = _only_pooled_backend(relay.app)
    _terminate(database_url, pid)
    response = relay.get(f"{g.base}/events", token=token, query={"timeout": 0})
    assert response.status_code == 503 and code(response) == "unavailable"
    assert _poll(relay, g, token) == 200  # the pool was replaced: nothing else fails
