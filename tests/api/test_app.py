"""Configuration, start-up errors, health, logs, rate limits, the catch-all."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.api import create_app, upgrade_database, upgrade_if_configured
from vault.api.errors import RelayConfigError
from vault.api.services import services_of


def test_health(api: Api) -> None:
    response = api.get("/v1/health")
    assert response.status_code == 200
    assert response.get_json()["status"] == "ok"


def test_default_sqlite_in_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("VAULT_DATABASE_URL", raising=False)
    config = {"VAULT_DATA_DIR": str(tmp_path / "data"), "VAULT_LOG_LEVEL": "WARNING"}
    upgrade_database(config)  # (create_app never changes the schema)
    app = create_app(config)
    assert (tmp_path / "data" / "relay.db").exists()
    from vault.api.db import db

    with app.app_context():
        mode = db.session.connection().exec_driver_sql("PRAGMA journal_mode").scalar()
        fks = db.session.connection().exec_driver_sql("PRAGMA foreign_keys").scalar()
        synchronous = db.session.connection().exec_driver_sql("PRAGMA synchronous").scalar()
        db.session.remove()
        db.engine.dispose()
    # FULL (2): each commit is on disk before the relay answers, a power cut included.
    assert (mode, fks, synchronous) == ("wal", 1, 2)


@pytest.mark.parametrize("config, fragment", [
    ({"VAULT_DATA_DIR": "/proc/vault-cannot-exist"}, "data directory"),
    ({"VAULT_DATABASE_URL": "not a url"}, "not a database URL"),
    ({"VAULT_DATABASE_URL": "mysql://u@h/db"}, "unsupported database"),
    ({"VAULT_DATABASE_URL": "sqlite:////proc/nope/relay.db"}, "not writable"),
    ({"VAULT_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/x"}, "cannot use the database"),
    ({"VAULT_MAX_BLOB_BYTES": "lots"}, "whole number"),
])
def test_clear_startup_errors(config: dict[str, str], fragment: str) -> None:
    with pytest.raises(RelayConfigError) as caught:
        create_app({**config, "VAULT_LOG_LEVEL": "WARNING"})
    assert fragment in caught.value.message


def test_unknown_setting_is_refused() -> None:
    with pytest.raises(RelayConfigError) as caught:
        create_app({"VAULT_SESION_TTL_S": 60, "VAULT_LOG_LEVEL": "WARNING"})
    assert caught.value.message == "VAULT_SESION_TTL_S is not a relay setting"


def test_settings_come_from_the_environment_and_the_mapping_overrides_them(
        database_url: str, clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAULT_SESSION_TTL_S", "120")
    monkeypatch.setenv("VAULT_RATE_LIMIT", "7.5")
    settings = services_of(make_app(database_url, clock, VAULT_SESSION_TTL_S=90)).settings
    assert (settings.session_ttl_s, settings.rate_limit) == (90, 0)  # (make_app sets the rate)
    monkeypatch.delenv("VAULT_SESSION_TTL_S")
    assert services_of(make_app(database_url, clock)).settings.session_ttl_s == 3600
    with pytest.raises(ValidationError):  # frozen: read once, when the app is built
        settings.session_ttl_s = 1  # type: ignore[misc]


def test_settings_are_read_in_one_place() -> None:
    """The relay reads its configuration through services().settings only: no environment
    variable or string key of app.config / app.extensions of its own elsewhere."""
    root = Path(__file__).resolve().parents[2] / "vault" / "api"
    scattered = re.compile(r"os\.environ|getenv|config\[\"VAULT_|extensions\[\"vault_")
    found = [f"{path.relative_to(root)}:{number}"
             for path in sorted(root.rglob("*.py")) if path.name != "settings.py"
             for number, line in enumerate(path.read_text().splitlines(), 1)
             if scattered.search(line)]
    assert found == []


def test_create_app_never_changes_the_schema(tmp_path: Path) -> None:
    """Only `vault relay migrate` and the start paths upgrade (by default on SQLite)."""
    config = {"VAULT_DATABASE_URL": f"sqlite:///{tmp_path / 'relay.db'}",
              "VAULT_LOG_LEVEL": "WARNING"}
    with pytest.raises(RelayConfigError) as caught:
        create_app(config)
    assert "vault relay migrate" in caught.value.message
    assert upgrade_if_configured(config) is True
    app = create_app(config)
    assert app.test_client().get("/v1/health").status_code == 200
    assert upgrade_if_configured({**config, "VAULT_AUTO_MIGRATE": "0"}) is False


def test_unmigrated_postgres_is_refused(postgres_url: str) -> None:
    import sqlalchemy as sa

    from tests.relayproc import with_schema

    admin = sa.create_engine(postgres_url.replace("postgresql://", "postgresql+psycopg://", 1))
    with admin.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA IF EXISTS vault_api_empty CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA vault_api_empty"))
    try:
        with pytest.raises(RelayConfigError) as caught:
            create_app({"VAULT_DATABASE_URL": with_schema(postgres_url, "vault_api_empty"),
                        "VAULT_LOG_LEVEL": "WARNING"})
        assert "vault relay migrate" in caught.value.message
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text("DROP SCHEMA IF EXISTS vault_api_empty CASCADE"))
        admin.dispose()


def test_rate_limit(database_url: str, clock: FakeClock) -> None:
    api = Api(make_app(database_url, clock, VAULT_RATE_LIMIT=1, VAULT_RATE_BURST=3))
    statuses = [api.get("/v1/health").status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200] and statuses[3:] == [429, 429]
    response = api.get("/v1/health")
    assert code(response) == "rate_limited" and int(response.headers["Retry-After"]) >= 1


def test_logs_hold_no_secrets(api: Api, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="vault.relay")
    logging.getLogger("vault.relay").propagate = True
    try:
        g = RelayGroup(api)
        alice = g.f.add_member()
        g.sync()
        token = g.token(alice)
        pid, _response = g.put_post(alice, text="LOGCANARY")
        _pid, env = g.envelope(alice)
        api.get(f"{g.base}/posts", token=token)
    finally:
        logging.getLogger("vault.relay").propagate = False
    records = [r for r in caplog.records if r.name == "vault.relay.access"]
    assert records
    text = "\n".join(str(r.__dict__) for r in caplog.records)
    for secret in (token, pid, g.gid, env[:40], "LOGCANARY"):
        assert secret not in text
    fields = records[-1].__dict__["vault"]
    assert set(fields) == {"method", "path", "status", "duration_ms"}
    assert fields["path"] == "/v1/groups/<gid>/posts"


def test_catch_all_is_internal_without_details(database_url: str, clock: FakeClock,
                                               caplog: pytest.LogCaptureFixture) -> None:
    app = make_app(database_url, clock)

    @app.get("/boom")
    def boom() -> str:
        raise RuntimeError("SECRET-DETAIL")

    caplog.set_level(logging.ERROR, logger="vault.relay")
    logging.getLogger("vault.relay").propagate = True
    try:
        response = app.test_client().get("/boom")
    finally:
        logging.getLogger("vault.relay").propagate = False
    assert response.status_code == 500 and code(response) == "internal"
    assert "SECRET-DETAIL" not in response.get_data(as_text=True)
    assert "SECRET-DETAIL" not in caplog.text
