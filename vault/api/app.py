"""The relay's app factory and configuration.

Configuration (environment, overridden by the mapping passed to :func:`create_app`):

=============================  ===========================================================
VAULT_DATABASE_URL             ``sqlite:///path`` or ``postgresql+psycopg://...``
                               (default: SQLite file ``<VAULT_DATA_DIR>/relay.db``)
VAULT_DATA_DIR                 default ``./var/relay``
VAULT_AUTO_MIGRATE             upgrade the schema at start (default: on for SQLite, off for
                               PostgreSQL where operators run ``vault relay migrate``)
VAULT_MAX_BLOB_BYTES           attachment size limit (default 10 MiB + 40, the protocol's maximum)
VAULT_RATE_LIMIT / _BURST      requests/s and burst per client address, per process
                               (default 50 / 200; 0 disables)
VAULT_RATE_LIMIT_EXPENSIVE     group creation, challenges, join requests (default 2 / 30)
VAULT_PROXY_HOPS               trusted reverse proxies in front (X-Forwarded-For), default 0
VAULT_SESSION_TTL_S            session lifetime (default 3600)
VAULT_EVENTS_POLL_MS           how often a long-poll re-reads the database (default 500)
VAULT_BODY_TIMEOUT_S / _MIN_RATE  a request body must arrive within this many seconds plus
                               one per MIN_RATE bytes, else it is cut off (default 20 / 4096;
                               0 disables; see vault/api/slowclients.py)
VAULT_LOG_LEVEL                default INFO
=============================  ===========================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask
from flask_migrate import Migrate
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, OperationalError, SQLAlchemyError

from vault.api.db import configure_engine, db
from vault.api.errors import register_error_handlers
from vault.api.logs import install_request_logging, setup_logging
from vault.api.ratelimit import TokenBuckets
from vault.api.schemas import GRANTS_MAX_BODY
from vault.api.slowclients import BodyDeadline
from vault.api.state import StateCache
from vault.api.util import EventBell
from vault.crypto.attachments import MAX_BLOB_SIZE
from vault.crypto.errors import RelayConfigError
from vault.crypto.primitives import default_clock

# Shipped inside the package (package data), so an installed wheel can migrate and serve.
MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")
MIB = 1024 * 1024

DEFAULTS: dict[str, Any] = {
    "VAULT_DATA_DIR": "./var/relay",
    "VAULT_DATABASE_URL": None,
    "VAULT_AUTO_MIGRATE": None,
    # The largest encrypted attachment a client can make (10 MiB padded + nonce + tag).
    "VAULT_MAX_BLOB_BYTES": MAX_BLOB_SIZE,
    "VAULT_RATE_LIMIT": 50.0,
    "VAULT_RATE_BURST": 200.0,
    "VAULT_RATE_LIMIT_EXPENSIVE": 2.0,
    "VAULT_RATE_BURST_EXPENSIVE": 30.0,
    "VAULT_PROXY_HOPS": 0,
    "VAULT_SESSION_TTL_S": 3600,
    "VAULT_CHALLENGE_TTL_S": 60,
    "VAULT_EVENTS_POLL_MS": 500,
    "VAULT_LOG_LEVEL": "INFO",
    "VAULT_DB_BUSY_TIMEOUT_MS": 10_000,
    "VAULT_BODY_TIMEOUT_S": 20.0,
    "VAULT_BODY_MIN_RATE": 4096.0,
}


def _settings(config: Mapping[str, Any] | None) -> dict[str, Any]:
    settings = dict(DEFAULTS)
    for key in DEFAULTS:
        if key in os.environ:
            settings[key] = os.environ[key]
    if config:
        settings.update(config)
    for key in ("VAULT_MAX_BLOB_BYTES", "VAULT_PROXY_HOPS", "VAULT_SESSION_TTL_S",
                "VAULT_CHALLENGE_TTL_S", "VAULT_EVENTS_POLL_MS", "VAULT_DB_BUSY_TIMEOUT_MS"):
        try:
            settings[key] = int(settings[key])
        except (TypeError, ValueError):
            raise RelayConfigError(f"{key} must be a whole number") from None
    for key in ("VAULT_RATE_LIMIT", "VAULT_RATE_BURST", "VAULT_RATE_LIMIT_EXPENSIVE",
                "VAULT_RATE_BURST_EXPENSIVE", "VAULT_BODY_TIMEOUT_S", "VAULT_BODY_MIN_RATE"):
        try:
            settings[key] = float(settings[key])
        except (TypeError, ValueError):
            raise RelayConfigError(f"{key} must be a number") from None
    return settings


def database_url(settings: Mapping[str, Any]) -> str:
    """The SQLAlchemy URL to use, with the data directory checked for SQLite."""
    raw = settings.get("VAULT_DATABASE_URL")
    if not raw:
        data_dir = Path(str(settings["VAULT_DATA_DIR"])).expanduser()
        try:
            data_dir.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise RelayConfigError(
                f"cannot create the data directory {data_dir}: {error.strerror}"
            ) from None
        if not os.access(data_dir, os.W_OK | os.X_OK):
            raise RelayConfigError(f"the data directory {data_dir} is not writable")
        return f"sqlite:///{(data_dir / 'relay.db').resolve()}"
    try:
        url = make_url(str(raw))
    except ArgumentError:
        raise RelayConfigError(
            "VAULT_DATABASE_URL is not a database URL; use sqlite:///path/relay.db or "
            "postgresql+psycopg://user@host:5432/dbname"
        ) from None
    backend = url.get_backend_name()
    if backend == "postgresql":
        if url.drivername in ("postgresql", "postgres"):
            url = url.set(drivername="postgresql+psycopg")
        elif url.drivername != "postgresql+psycopg":
            raise RelayConfigError("for PostgreSQL use a postgresql+psycopg:// URL")
    elif backend == "sqlite":
        if url.database and url.database != ":memory:":
            parent = Path(url.database).expanduser().resolve().parent
            if not parent.is_dir() or not os.access(parent, os.W_OK | os.X_OK):
                raise RelayConfigError(f"the SQLite database directory {parent} is not writable")
    else:
        raise RelayConfigError(
            f"unsupported database '{backend}': the relay runs on SQLite or PostgreSQL"
        )
    return url.render_as_string(hide_password=False)


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    return {"pool_pre_ping": True, "pool_size": 10, "max_overflow": 20}


def _safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a relay. Raises :class:`RelayConfigError` for a configuration it cannot use."""
    settings = _settings(config)
    url = database_url(settings)
    app = Flask("vault.api")
    app.config.update(settings)
    app.config.setdefault("VAULT_CLOCK", default_clock)
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(url)
    app.config["MAX_CONTENT_LENGTH"] = max(settings["VAULT_MAX_BLOB_BYTES"], GRANTS_MAX_BODY)
    app.config["JSON_SORT_KEYS"] = False
    setup_logging(str(settings["VAULT_LOG_LEVEL"]))

    db.init_app(app)
    Migrate(app, db, directory=MIGRATIONS_DIR)
    app.extensions["vault_state_cache"] = StateCache()
    app.extensions["vault_events"] = EventBell()
    app.extensions["vault_rate"] = TokenBuckets({
        "default": (settings["VAULT_RATE_LIMIT"], settings["VAULT_RATE_BURST"]),
        "expensive": (settings["VAULT_RATE_LIMIT_EXPENSIVE"],
                      settings["VAULT_RATE_BURST_EXPENSIVE"]),
    })
    app.wsgi_app = BodyDeadline(  # type: ignore[method-assign]
        app.wsgi_app, timeout_s=settings["VAULT_BODY_TIMEOUT_S"],
        min_rate=settings["VAULT_BODY_MIN_RATE"], max_body=app.config["MAX_CONTENT_LENGTH"])
    if settings["VAULT_PROXY_HOPS"] > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings["VAULT_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    with app.app_context():
        configure_engine(db.engine, settings["VAULT_DB_BUSY_TIMEOUT_MS"])
        auto = settings["VAULT_AUTO_MIGRATE"]
        if auto is None or auto == "":
            auto = url.startswith("sqlite")
        elif isinstance(auto, str):
            auto = auto.strip().lower() in ("1", "true", "yes", "on")
        try:
            if auto:
                migrate_schema()
            else:
                check_schema()
        except OperationalError as error:
            raise RelayConfigError(
                f"cannot use the database at {_safe_url(url)}: "
                f"{str(error.orig).strip().splitlines()[0] if error.orig else 'connection failed'}"
            ) from None
        except SQLAlchemyError as error:
            raise RelayConfigError(
                f"cannot use the database at {_safe_url(url)} ({type(error).__name__})"
            ) from None

    from vault.api.blueprints import register_blueprints

    register_blueprints(app)
    register_error_handlers(app)
    install_request_logging(app)
    return app


def migrate_schema() -> None:
    """Upgrade the schema to the latest migration (inside an app context)."""
    from alembic import command

    command.upgrade(_alembic_config(), "head")


def _alembic_config() -> Any:
    from flask import current_app

    migrate = current_app.extensions["migrate"].migrate
    return migrate.get_config(MIGRATIONS_DIR)


def check_schema() -> None:
    """Refuse to start on a database whose schema is not at the latest migration."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    heads = set(ScriptDirectory.from_config(_alembic_config()).get_heads())
    with db.engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    if current != heads:
        raise RelayConfigError(
            "the database schema is not up to date: run `vault relay migrate` first "
            "(or set VAULT_AUTO_MIGRATE=1)"
        )
