"""Shared fixtures: where the test PostgreSQL is, if any, and the one parametrisation of the
relay's database over SQLite and PostgreSQL.

``backend`` runs a test (or a module's relay) once per backend, with the ids ``[sqlite]`` and
``[postgresql]``; the PostgreSQL variant is skipped when VAULT_TEST_POSTGRES_URL is unset.
Where the backend is not what the tests are about (the SDK's end-to-end tests: a relay is a
relay to them), a directory overrides ``backend`` with ``ONE_BACKEND``: PostgreSQL when it is
available, SQLite otherwise. The relay's own tests (tests/api) run on both.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.relayproc import with_schema

POSTGRES_URL = os.environ.get("VAULT_TEST_POSTGRES_URL")
NO_POSTGRES = "VAULT_TEST_POSTGRES_URL is not set"

BACKENDS = [
    "sqlite",
    pytest.param("postgresql", marks=pytest.mark.skipif(not POSTGRES_URL, reason=NO_POSTGRES)),
]
ONE_BACKEND = ["postgresql" if POSTGRES_URL else "sqlite"]


@dataclass(frozen=True)
class Database:
    """A fresh, empty database for a relay: its URL, and its PostgreSQL schema (None on
    SQLite)."""

    url: str
    schema: str | None = None


@contextmanager
def fresh_database(backend: str, directory: Path | None = None) -> Iterator[Database]:
    """A new empty database on *backend*, dropped afterwards: the SQLite file ``relay.db``
    in *directory* (created), or a schema of its own on the test PostgreSQL."""
    if backend == "sqlite":
        assert directory is not None, "SQLite needs a directory for its file"
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "relay.db"
        try:
            yield Database(f"sqlite:///{path}")
        finally:
            for name in ("relay.db", "relay.db-wal", "relay.db-shm"):
                (directory / name).unlink(missing_ok=True)
        return
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    import sqlalchemy as sa

    schema = f"vault_tests_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield Database(with_schema(POSTGRES_URL, schema), schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="module", params=BACKENDS)
def backend(request: pytest.FixtureRequest) -> str:
    """The backend's name, `sqlite` or `postgresql` (module-scoped: a module may share one
    relay)."""
    return str(request.param)


@pytest.fixture
def database(backend: str, tmp_path: Path) -> Iterator[Database]:
    """A fresh empty database on each backend for this test, dropped after it."""
    with fresh_database(backend, tmp_path / "database") as fresh:
        yield fresh


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """The PostgreSQL URL tests may use (skips the test when VAULT_TEST_POSTGRES_URL is unset)."""
    if not POSTGRES_URL:
        pytest.skip(NO_POSTGRES)
    return POSTGRES_URL


@pytest.fixture(scope="session", autouse=True)
def argon2_once_per_input() -> Iterator[None]:
    """Argon2id is a pure function: within this process, each distinct input (passphrase,
    salt, parameters) is computed once. A keystore opened again — every CLI command, every
    unlock of an in-process app — then costs nothing more; a new keystore (a new salt), a
    wrong passphrase or other parameters are computed as ever. Relay and app processes the
    tests start are not affected."""
    from vault.crypto import keystore

    real = keystore.hash_secret_raw
    computed: dict[tuple[object, ...], bytes] = {}

    def hash_secret_raw(secret: bytes, salt: bytes, **params: object) -> bytes:
        key = (secret, salt, tuple(sorted(params.items())))
        if key not in computed:
            computed[key] = real(secret, salt, **params)  # type: ignore[arg-type]
        return computed[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(keystore, "hash_secret_raw", hash_secret_raw)
        yield
