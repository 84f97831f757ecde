"""The SQLAlchemy handle, engine tuning and the write-transaction helper.

SQLite: WAL journal, a busy timeout, foreign keys on, and every *write* transaction starts
with ``BEGIN IMMEDIATE`` so concurrent writers queue on the lock (within the busy timeout)
instead of failing on a stale read snapshot. Reads use plain deferred transactions.
PostgreSQL: READ COMMITTED; compare-and-swap updates and unique constraints decide races.
"""

from __future__ import annotations

import contextvars
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql import Executable

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


def autocommit_request() -> None:
    """This request only reads, or writes in single statements (the registry calls this for
    GET requests and routes declared ``autocommit=True``).

    On PostgreSQL its statements then run in autocommit mode: each sees the latest commits,
    exactly as inside the READ COMMITTED transaction it would otherwise get, and a single
    statement is atomic by itself; what goes is the BEGIN and COMMIT/ROLLBACK round trips.
    :func:`write_txn` still opens a real transaction when a handler needs one. (SQLite keeps
    its transactions: there they cost no round trips.)
    """
    session = db.session()
    if not session.in_transaction() and session.get_bind().dialect.name == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def in_autocommit() -> bool:
    """Whether the session's statements commit one by one (see :func:`autocommit_request`)."""
    session = db.session()
    if not session.in_transaction():
        return False
    options = session.connection().get_execution_options()
    return bool(options.get("isolation_level") == "AUTOCOMMIT")


def run(statement: Executable, params: Mapping[str, Any] | None = None) -> CursorResult[Any]:
    """Execute a Core statement on the session's connection, in its transaction.

    For the hot paths (authentication, post pages and uploads): it skips the ORM's
    per-statement work (about 40 us a statement on SQLite), which column selects, UPDATEs and
    INSERTs of plain values do not need.
    """
    return db.session.connection().execute(statement, params or {})


def run_is_postgresql() -> bool:
    """Whether the session runs on PostgreSQL (some hot statements have a one-round-trip
    form there)."""
    return bool(db.session.get_bind().dialect.name == "postgresql")


def affected(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE touched."""
    assert isinstance(result, CursorResult)
    return int(result.rowcount)


@contextmanager
def write_txn() -> Iterator[Session]:
    """One atomic write: everything inside commits together or not at all.

    On SQLite it ends any read transaction first, so the write starts with a fresh
    ``BEGIN IMMEDIATE`` (queueing behind other writers) rather than upgrading a stale
    snapshot.
    """
    session = db.session()  # this request's (or thread's) Session behind the scoped proxy
    if session.get_bind().dialect.name == "sqlite" or in_autocommit():
        # SQLite: end the read transaction so the write starts with BEGIN IMMEDIATE.
        # Autocommit (PostgreSQL): give the connection back, so the write gets a real
        # transaction. (Otherwise PostgreSQL runs READ COMMITTED: every statement sees the
        # latest commits, so the transaction the request's reads began simply carries on.)
        session.rollback()
    else:
        session.expire_all()  # objects read before the write are read again inside it
    token = _write_intent.set(True)
    try:
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)
