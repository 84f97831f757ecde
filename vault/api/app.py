"""The relay's app factory, and the schema upgrade the start paths run before it.

:func:`create_app` builds a relay from its settings (:mod:`vault.api.settings`: the
environment, overridden by the mapping it is given) on a database whose schema is current;
it never changes the schema. :func:`upgrade_database` does (``vault relay migrate``), and
:func:`upgrade_if_configured` is the start paths' step before serving (``vault relay serve``
and ``purge``, gunicorn with :mod:`vault.api.gunicorn_conf`): it upgrades when
``VAULT_AUTO_MIGRATE`` says so, which by default it does on SQLite only.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask

from vault.api.db import configure_engine, db
from vault.api.errors import RelayConfigError, register_error_handlers
from vault.api.logs import install_request_logging, setup_logging
from vault.api.passes import Passes
from vault.api.ratelimit import TokenBuckets
from vault.api.schema_version import (
    MIGRATIONS_DIR,
    check_schema,
    database_errors,
    is_current,
    migrate_schema,
)
from vault.api.schemas import GRANTS_MAX_BODY
from vault.api.services import RelayServices, services_of
from vault.api.settings import load_settings, resolve_database_url
from vault.api.slowclients import BodyDeadline
from vault.api.state import StateCache
from vault.api.wakeup import Wakeup, make_signal
from vault.crypto.primitives import default_clock

CLOCK_KEY = "VAULT_CLOCK"  # not a setting: tests hand the app a fake clock with the mapping

__all__ = ["MIGRATIONS_DIR", "create_app", "upgrade_database", "upgrade_if_configured",
           "upgrade_if_configured_in_child"]


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build a relay. Raises :class:`~vault.api.errors.RelayConfigError` for a configuration
    it cannot use, and for a database whose schema is not current."""
    app = _build(config)
    _on_database(app, check_schema)
    return app


def upgrade_database(config: Mapping[str, Any] | None = None) -> None:
    """Upgrade the configured database's schema to the latest migration (idempotent)."""
    app = _build(config)
    _on_database(app, migrate_schema)
    with app.app_context():
        db.engine.dispose()


def upgrade_if_configured(config: Mapping[str, Any] | None = None) -> bool:
    """A start path's step before serving: upgrade when ``VAULT_AUTO_MIGRATE`` is on (by
    default on SQLite). Whether it did."""
    if _url_upgraded_at_start(config) is None:
        return False
    upgrade_database(config)
    return True


def _url_upgraded_at_start(config: Mapping[str, Any] | None) -> str | None:
    """The database URL when the settings ask the start paths to upgrade it, else None."""
    settings = load_settings(_without_clock(config))
    url = resolve_database_url(settings)
    return url if settings.upgrades_at_start(url) else None


_UPGRADE_IN_CHILD = """
import sys
from vault.api.app import upgrade_database
from vault.api.errors import RelayConfigError
try:
    upgrade_database()
except RelayConfigError as error:
    sys.stderr.write(error.message + "\\n")
    sys.exit(2)
"""


def upgrade_if_configured_in_child() -> bool:
    """:func:`upgrade_if_configured` for a process that goes on to fork the relay's workers
    (``vault relay serve``, gunicorn's master): the upgrade runs in a short-lived child
    process (same interpreter, same environment), so Alembic (about 11 MB) is never loaded
    in the parent, whose pages every worker shares; a database already current needs no
    child at all. Whether it upgraded."""
    url = _url_upgraded_at_start(None)
    if url is None or is_current(url):
        return False
    # (A fixed program of ours, run by this interpreter: no outside input in the argv;
    # -P: the current directory is not put on sys.path, as for the parent's command.)
    done = subprocess.run([sys.executable, "-P", "-c", _UPGRADE_IN_CHILD],  # noqa: S603
                          capture_output=True, text=True, check=False)
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines()
        raise RelayConfigError(lines[-1] if done.returncode == 2 and lines else
                               "the schema upgrade failed: " + (lines[-1] if lines else
                                                                f"exit {done.returncode}"))
    return True


def _without_clock(config: Mapping[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (config or {}).items() if key != CLOCK_KEY}


def _build(config: Mapping[str, Any] | None) -> Flask:
    settings = load_settings(_without_clock(config))
    url = resolve_database_url(settings)
    clock: Callable[[], int] = (config or {}).get(CLOCK_KEY, default_clock)
    largest_body = max(settings.max_blob_bytes, GRANTS_MAX_BODY)
    app = Flask("vault.api")
    app.config["SQLALCHEMY_DATABASE_URI"] = url
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(url)
    app.config["MAX_CONTENT_LENGTH"] = largest_body
    app.config["JSON_SORT_KEYS"] = False
    setup_logging(settings.log_level)

    db.init_app(app)
    RelayServices(
        settings=settings,
        database_url=url,
        clock=clock,
        state_cache=StateCache(),
        wakeup=Wakeup(app, make_signal(app, url), settings.events_poll_ms / 1000),
        rate=TokenBuckets({
            "default": (settings.rate_limit, settings.rate_burst),
            "expensive": (settings.rate_limit_expensive, settings.rate_burst_expensive),
        }),
        passes=Passes(),
    ).install(app)
    app.wsgi_app = BodyDeadline(  # type: ignore[method-assign]
        app.wsgi_app, timeout_s=settings.body_timeout_s, min_rate=settings.body_min_rate,
        max_body=largest_body)
    if settings.proxy_hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = settings.proxy_hops
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    from vault.api.blueprints import register_blueprints

    register_blueprints(app)
    register_error_handlers(app)
    install_request_logging(app)
    return app


def _on_database(app: Flask, step: Callable[[], None]) -> None:
    """Run *step* (check or upgrade the schema) on the app's database, in its context."""
    relay = services_of(app)
    with app.app_context(), database_errors(relay.database_url):
        configure_engine(db.engine, relay.settings.db_busy_timeout_ms)
        step()


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("sqlite"):
        return {"connect_args": {"check_same_thread": False, "timeout": 30}}
    # (No pool_pre_ping: vault.api.db pings only connections that have been idle.)
    return {"pool_size": 10, "max_overflow": 20}
