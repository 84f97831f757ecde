"""The database schema's version: upgrading it (Alembic) and checking it is current.

Only ``vault relay migrate`` and the start paths (``vault relay serve`` and ``purge``,
gunicorn with :mod:`vault.api.gunicorn_conf`) upgrade, when the settings say so
(``VAULT_AUTO_MIGRATE``; on the embedded SQLite by default). Building an app only checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final, Literal

from flask import current_app
from sqlalchemy import Connection, create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.pool import NullPool

from vault.api.db import db
from vault.api.errors import RelayConfigError

# Shipped inside the package (package data), so an installed wheel can migrate and serve.
MIGRATIONS_DIR = str(Path(__file__).resolve().parent / "migrations")
SCHEMA_HEAD: Final = "0006"
"""The latest migration's revision (``tests/api/test_migrations.py`` checks it is Alembic's
head): checking a database against it needs no Alembic, which only upgrades load (about
11 MB a process)."""


def migrate_schema() -> None:
    """Upgrade the schema to the latest migration (inside an app context)."""
    from alembic import command

    command.upgrade(_alembic_config(), "head")


def check_schema() -> None:
    """Refuse a database whose schema is not at the latest migration (inside an app
    context)."""
    with db.engine.connect() as conn:
        current = _versions(conn)
    if current != {SCHEMA_HEAD}:
        raise RelayConfigError(
            "the database schema is not up to date: run `vault relay migrate` first "
            "(or set VAULT_AUTO_MIGRATE=1)"
        )


def is_current(url: str) -> bool:
    """Whether the database at *url* is already at the latest migration, read on one
    connection opened and closed here (no app, no Alembic): a start on a current database
    skips the upgrade's child process, about a second of every restart. Any doubt (no
    SQLite file yet, an error) is False: the upgrade then runs, and says what is wrong."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite" and not (parsed.database
                                                      and Path(parsed.database).is_file()):
        return False
    engine = create_engine(parsed, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            return _versions(conn) == {SCHEMA_HEAD}
    except SQLAlchemyError:
        return False
    finally:
        engine.dispose()


def render_item(type_: str, obj: Any, _context: Any) -> str | Literal[False]:
    """Alembic's hook for writing a migration: a :class:`vault.api.models.Blob` column is
    written as the ``LargeBinary`` it is in the schema (migrations never import the models,
    which change after them). Anything else: Alembic's own rendering (False)."""
    from vault.api.models import Blob

    if type_ == "type" and isinstance(obj, Blob):
        length = getattr(obj.impl, "length", None)
        return "sa.LargeBinary()" if length is None else f"sa.LargeBinary(length={length!r})"
    return False


def _versions(conn: Connection) -> set[str]:
    if not inspect(conn).has_table("alembic_version"):
        return set()
    return set(conn.scalars(text("SELECT version_num FROM alembic_version")))


def _alembic_config() -> Any:
    from flask_migrate import Migrate

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    if "migrate" not in app.extensions:  # registered only where the schema is upgraded
        Migrate(app, db, directory=MIGRATIONS_DIR)
    return app.extensions["migrate"].migrate.get_config(MIGRATIONS_DIR)


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """Turn a database that cannot be used into one line naming it (without its password)."""
    safe = make_url(url).render_as_string(hide_password=True)
    try:
        yield
    except OperationalError as error:
        reason = str(error.orig).strip().splitlines()[0] if error.orig else "connection failed"
        raise RelayConfigError(f"cannot use the database at {safe}: {reason}") from None
    except SQLAlchemyError as error:
        raise RelayConfigError(
            f"cannot use the database at {safe} ({type(error).__name__})"
        ) from None
