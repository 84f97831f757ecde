"""The SQLAlchemy handle, engine tuning and the write-transaction helper.

SQLite: WAL journal, a busy timeout, foreign keys on, and every *write* transaction starts
with ``BEGIN IMMEDIATE`` so concurrent writers queue on the lock (within the busy timeout)
instead of failing on a stale read snapshot. Reads use plain deferred transactions.
PostgreSQL: READ COMMITTED; compare-and-swap updates and unique constraints decide races.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, Session

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


db = SQLAlchemy(model_class=Base)

_write_intent: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "vault_write_intent", default=False
)
_configured: weakref.WeakSet[Engine] = weakref.WeakSet()


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Install the SQLite pragmas and BEGIN handling once per engine."""
    if engine.dialect.name != "sqlite" or engine in _configured:
        return
    _configured.add(engine)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = NORMAL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if _write_intent.get() else "BEGIN")


@contextmanager
def write_txn() -> Iterator[Session]:
    """One atomic write: everything inside commits together or not at all.

    Ends any read transaction first, so on SQLite the write starts with a fresh
    ``BEGIN IMMEDIATE`` (queueing behind other writers) rather than upgrading a stale
    snapshot.
    """
    session = db.session
    session.rollback()
    token = _write_intent.set(True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)
