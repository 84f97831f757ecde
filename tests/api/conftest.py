"""Fixtures of the relay tests: a real app per test, on SQLite (a file) and on PostgreSQL
(``backend``, from tests/conftest.py).

Each test gets a clean database: SQLite copies a freshly migrated template file;
PostgreSQL uses a schema private to this test session (migrated once) and truncates it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.api.helpers import Api, FakeClock
from tests.conftest import fresh_database
from tests.crypto.logfactory import T0
from vault.api import create_app, upgrade_database, upgrade_if_configured
from vault.api.db import db
from vault.api.models import ALL_TABLES
from vault.api.services import services_of

QUIET: dict[str, Any] = {
    "VAULT_RATE_LIMIT": 0,
    "VAULT_RATE_LIMIT_EXPENSIVE": 0,
    "VAULT_EVENTS_POLL_MS": 50,
    "VAULT_LOG_LEVEL": "WARNING",
}


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "relay.db"
    upgrade_database({"VAULT_DATABASE_URL": f"sqlite:///{path}", **QUIET})
    return path


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_database("postgresql") as database:
        upgrade_database({"VAULT_DATABASE_URL": database.url, **QUIET})
        yield database.url


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(T0 + 3_600_000)


@pytest.fixture
def database_url(backend: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if backend == "sqlite":
        template: Path = request.getfixturevalue("sqlite_template")
        target = tmp_path / "relay.db"
        shutil.copyfile(template, target)
        return f"sqlite:///{target}"
    url: str = request.getfixturevalue("pg_url")
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with engine.begin() as conn:
        conn.execute(sa.text(f"TRUNCATE {', '.join(ALL_TABLES)} CASCADE"))
    engine.dispose()
    return url


def make_app(database_url: str, clock: FakeClock, **overrides: Any) -> Flask:
    """A relay on *database_url*, started as `vault relay serve` starts one: its schema is
    upgraded first only if the overrides ask (VAULT_AUTO_MIGRATE="1")."""
    config = {"VAULT_DATABASE_URL": database_url, "VAULT_CLOCK": clock,
              "VAULT_AUTO_MIGRATE": "0", **QUIET, **overrides}
    upgrade_if_configured(config)
    return create_app(config)


@pytest.fixture
def app(database_url: str, clock: FakeClock) -> Iterator[Flask]:
    app = make_app(database_url, clock)
    yield app
    services_of(app).wakeup.close()  # its event listener, if a test waited (else idle)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def api(app: Flask) -> Api:
    return Api(app)


def row_counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {
            table: int(db.session.execute(sa.text(f"SELECT COUNT(*) FROM {table}")).scalar_one())
            for table in ALL_TABLES
        }
        db.session.remove()
        return counts
