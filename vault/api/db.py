"""The SQLAlchemy handle, engine tuning and the write-transaction helper.

SQLite: WAL journal, a busy timeout, foreign keys on, and every *write* transaction starts
with ``BEGIN IMMEDIATE`` so concurrent writers queue on the lock (within the busy timeout)
instead of failing on a stale read snapshot. Reads use plain deferred transactions, except
in requests declared autocommit (:func:`autocommit_request`), whose reads run one statement
at a time. A write transaction takes the connection the request's reads used (ending their
read transaction first) instead of giving it back to the pool and taking another. A writer
waits for the write lock by trying again after short sleeps (:func:`_take_write_lock`), not
in SQLite's own busy handler: under gevent that one pauses the whole process.
PostgreSQL: READ COMMITTED; compare-and-swap updates and unique constraints decide races.
"""

from __future__ import annotations

import contextvars
import sqlite3
import time
import weakref
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import CursorResult, Engine, Result
from sqlalchemy.exc import DisconnectionError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.sql import Executable

from vault.api.sqlite_writers import turns_for

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
DEFAULT_BUSY_MS = 10_000  # (a connection configure_engine did not see: the settings' default)
# SQLite: how the transaction on a connection began (kept in its ``info``), so a write can
# tell a read transaction (or none: autocommit reads) from one that already holds the lock.
_BEGUN = "vault_begun"
_IMMEDIATE, _DEFERRED, _NOTHING = "immediate", "deferred", "nothing"
_SQLITE_AUTOCOMMIT = "vault_sqlite_autocommit"  # an execution option of ours (SQLite only)
_BUSY_MS = "vault_busy_timeout_ms"  # in a connection's ``info``: its configured busy timeout
# Pauses between tries for the write lock (seconds); the last one repeats.
_LOCK_RETRY_S = (0.0002, 0.0005, 0.001, 0.001, 0.002)


PING_AFTER_IDLE_S = 1.0
"""PostgreSQL: a pooled connection idle for this long is checked with a round trip before
use (:func:`_ping_after_idle`)."""
_RETURNED_AT = "vault_returned_at"  # in a connection's ``info``: when it was last given back


def configure_engine(engine: Engine, busy_timeout_ms: int) -> None:
    """Once per engine: on PostgreSQL the pool's checks; on SQLite the pragmas and BEGIN
    handling."""
    if engine in _configured or engine.dialect.name not in ("postgresql", "sqlite"):
        return
    _configured.add(engine)
    if engine.dialect.name == "postgresql":
        _ping_after_idle(engine)
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
        record.info[_BUSY_MS] = int(busy_timeout_ms)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA foreign_keys = ON")
        cur.execute("PRAGMA journal_mode = WAL")
        # FULL: every commit reaches the disk before the relay answers. (NORMAL, in WAL
        # mode, may roll back the last commits in a power cut: acknowledged posts lost, a
        # log head devices have already verified gone, post cursors handed out twice.)
        cur.execute("PRAGMA synchronous = FULL")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        if _write_intent.get():
            _take_write_lock(conn)
        elif conn.get_execution_options().get(_SQLITE_AUTOCOMMIT):
            conn.info[_BEGUN] = _NOTHING  # each statement is its own (read) transaction
        else:
            conn.exec_driver_sql("BEGIN")
            conn.info[_BEGUN] = _DEFERRED


def _ping_after_idle(engine: Engine) -> None:
    """PostgreSQL: check a pooled connection with a round trip (``SELECT 1``) before use only
    when it has been idle for :data:`PING_AFTER_IDLE_S` (a new one counts as just used).

    SQLAlchemy's ``pool_pre_ping`` checks on every checkout: one more round trip for every
    request, the cheapest of which need only one or two. Here a connection that fails the
    check is replaced before the request uses it (``DisconnectionError``: the pool takes
    another), as with ``pool_pre_ping``; one that dies less than a second after its last use
    (the server restarted in that second) fails its request with 503 ``unavailable``,
    as a restart in mid-request does, and SQLAlchemy then replaces the whole pool.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _returned(_dbapi_conn: Any, record: Any) -> None:
        record.info[_RETURNED_AT] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        returned = record.info.get(_RETURNED_AT)
        if returned is not None and time.monotonic() - returned < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            raise DisconnectionError("the pooled connection is gone") from error


def _take_write_lock(conn: Any) -> None:
    """SQLite: ``BEGIN IMMEDIATE`` on *conn* (a SQLAlchemy connection), waiting up to the
    busy timeout for the write lock, as SQLite's busy handler would, but between tries.

    SQLite's handler sleeps inside the C call, with growing pauses (1, 2, 5, 10 ... 100 ms):
    under gevent that pauses every request of the process, and a lock another process holds
    for a fraction of a millisecond can cost its waiters far more. Here the lock is tried
    without waiting (busy timeout 0) and tried again after a short ``time.sleep`` (under
    gevent a greenlet switch: the process goes on serving) until the busy timeout has
    passed; then one last try through SQLAlchemy raises what a busy timeout always raised.
    """
    dbapi = conn.connection.driver_connection
    budget_ms = conn.info.get(_BUSY_MS)
    if budget_ms is None:  # (a connection made before configure_engine: its own setting)
        budget_ms = int(dbapi.execute("PRAGMA busy_timeout").fetchone()[0])
    dbapi.execute("PRAGMA busy_timeout = 0")
    try:
        deadline = time.monotonic() + budget_ms / 1000
        tries = 0
        while True:
            try:
                dbapi.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as error:
                busy = (getattr(error, "sqlite_errorcode", 0) & 0xFF) == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    break
            else:
                conn.info[_BEGUN] = _IMMEDIATE
                return
            time.sleep(_LOCK_RETRY_S[min(tries, len(_LOCK_RETRY_S) - 1)])
            tries += 1
        conn.exec_driver_sql("BEGIN IMMEDIATE")  # raises (wrapped), as it always did
        conn.info[_BEGUN] = _IMMEDIATE
    finally:
        dbapi.execute(f"PRAGMA busy_timeout = {budget_ms}")


def autocommit_request() -> None:
    """This request only reads, or writes in single statements (the registry calls this for
    GET requests and routes declared ``autocommit=True``).

    On PostgreSQL its statements then run in autocommit mode: each sees the latest commits,
    exactly as inside the READ COMMITTED transaction it would otherwise get, and a single
    statement is atomic by itself; what goes is the BEGIN and COMMIT/ROLLBACK round trips.
    On SQLite its reads likewise run without a BEGIN (each statement reads one consistent
    snapshot by itself): what goes is the BEGIN and ROLLBACK statements and, when the
    request then writes, giving the connection back to the pool and taking another.
    :func:`write_txn` still opens a real transaction when a handler needs one.
    """
    session = db.session()
    if session.in_transaction():
        return
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})
    elif dialect == "sqlite":
        session.connection(execution_options={_SQLITE_AUTOCOMMIT: True})


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

    On SQLite the write first takes its turn among the relay's writers (all processes:
    :mod:`vault.api.sqlite_writers`), then starts with a fresh ``BEGIN IMMEDIATE`` rather
    than upgrading a stale snapshot: a read transaction the request holds is ended first,
    on the same connection (:func:`_begin_immediate`).
    """
    session = db.session()  # this request's (or thread's) Session behind the scoped proxy
    engine = session.get_bind().engine
    sqlite = engine.dialect.name == "sqlite"
    turns = turns_for(engine.url.database) if sqlite else None
    if turns is None:
        with _write(session, sqlite=sqlite) as written:
            yield written
        return
    conn = _hold_connection(session)  # before the turn: never wait for the pool holding it
    with turns.turn(conn.info.get(_BUSY_MS, DEFAULT_BUSY_MS) / 1000), \
            _write(session, sqlite=True) as written:
        yield written


def _hold_connection(session: Session) -> Any:
    """SQLite: make sure *session* holds its connection before its writer takes a turn
    (a writer holding the turn while waiting for a pooled connection, held by writers
    waiting for the turn, would stall them all), and return it. No BEGIN is sent here."""
    if session.in_transaction() and (session.new or session.dirty or session.deleted):
        session.rollback()  # (as _begin_immediate would; none of the handlers has any)
    if not session.in_transaction():
        return session.connection(execution_options={_SQLITE_AUTOCOMMIT: True})
    return session.connection()


@contextmanager
def _write(session: Session, *, sqlite: bool) -> Iterator[Session]:
    token = _write_intent.set(True)
    try:
        if sqlite:
            _begin_immediate(session)
        elif in_autocommit():
            # Autocommit (PostgreSQL): give the connection back, so the write gets a real
            # transaction.
            session.rollback()
        else:
            # PostgreSQL runs READ COMMITTED: every statement sees the latest commits, so
            # the transaction the request's reads began simply carries on.
            session.expire_all()  # objects read before the write are read again inside it
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        _write_intent.reset(token)


def _begin_immediate(session: Session) -> None:
    """SQLite: make the session's transaction a write transaction that holds the lock.

    With no transaction yet, the first statement begins one with ``BEGIN IMMEDIATE`` (the
    ``begin`` listener: the write intent is set). With a read transaction (or autocommit
    reads) on a connection, that connection ends it (``ROLLBACK``: it wrote nothing) and
    begins ``BEGIN IMMEDIATE``; objects read before are expired and read again inside, as
    a rollback of the session would do. ORM changes made before the write (none of the
    handlers makes any) are dropped by a session rollback, as they always were.
    """
    if not session.in_transaction():
        return
    if session.new or session.dirty or session.deleted:
        session.rollback()
        return
    conn = session.connection()  # a new one begins with BEGIN IMMEDIATE (the listener)
    if conn.info.get(_BEGUN) == _IMMEDIATE:
        return
    if conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
        conn.exec_driver_sql("ROLLBACK")
    _take_write_lock(conn)
    session.expire_all()
