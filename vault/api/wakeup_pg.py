"""PostgreSQL: relay processes learn of each other's commits by LISTEN/NOTIFY.

A trigger on ``groups`` (migration 0003) calls ``pg_notify`` whenever a statement advances a
group's ``event_seq``, inside that statement's transaction, so the notification is delivered
at commit and never for a write that rolled back. Its payload is ``<group id hex>:<event
number>`` and nothing else; its channel is ``vault_events_`` followed by 16 hex digits of
md5 of the schema's name, so relays on other schemas of the same database are not heard.

Each process with waiters keeps one connection of its own (not from the pool) that LISTENs
and hands every notification to the waiting room. It pings the server every
:data:`PING_S` seconds (so a connection dropped without a word is noticed), reconnects with
a growing pause after a failure, and after each (re)connection has the waiting room's groups
re-read, since notifications sent while it was away are gone. That connection must reach
PostgreSQL in session mode: a pooler in transaction mode (PgBouncer's usual setting) does
not keep a LISTEN.

psycopg (>= 3.1.14) waits cooperatively when gevent has patched the process, so under
gunicorn's gevent worker this is a greenlet, like the waiters.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg
from psycopg import sql

from vault.api.news import parse_payload

log = logging.getLogger("vault.relay")

# The channel of this connection's schema (the trigger computes it from TG_TABLE_SCHEMA).
CHANNEL_SQL = "SELECT 'vault_events_' || substr(md5(current_schema()), 1, 16)"
APPLICATION_NAME = "vault-events-listener"  # as pg_stat_activity shows it
PING_S = 30.0
POLL_S = 1.0  # how often the loop looks at its stop flag
MAX_PAUSE_S = 5.0


class NotifySignal:
    """The LISTEN end for one process. *connect_args*: positional and keyword arguments of
    ``psycopg.connect``, as SQLAlchemy's dialect builds them from the database URL."""

    failed = False  # never for good: a lost connection is retried

    def __init__(self, connect_args: tuple[tuple[Any, ...], dict[str, Any]]) -> None:
        args, kwargs = connect_args
        self._args = args
        self._kwargs = {"connect_timeout": 10, "keepalives": 1, "keepalives_idle": 30,
                        "keepalives_interval": 10, "keepalives_count": 3,
                        "application_name": APPLICATION_NAME, **kwargs, "autocommit": True}
        self.ready = threading.Event()
        self.generation = 0  # one more each time it listens again (what it heard may be lost)

    def send(self, group_id: bytes, seq: int) -> None:
        """Nothing to do: the database's trigger notifies at commit."""

    def run(self, deliver: Callable[[bytes, int], None], stop: threading.Event,
            reconnected: Callable[[], None]) -> None:
        pause = 0.1
        while not stop.is_set():
            mine = -1
            try:
                with psycopg.connect(*self._args, **self._kwargs) as conn:
                    self._listen(conn)
                    self.generation += 1
                    mine = self.generation
                    self.ready.set()
                    pause = 0.1
                    reconnected()  # what was notified while no one listened
                    self._receive(conn, deliver, stop)
            except psycopg.Error as error:
                log.warning("event listener lost its database connection; reconnecting",
                            extra={"vault": {"error_type": type(error).__name__}})
            finally:
                if self.generation == mine:  # (not a newer run's: a restart after an idle
                    # stop can listen before this run has noticed its stop)
                    self.ready.clear()
            stop.wait(pause)
            pause = min(pause * 2, MAX_PAUSE_S)

    @staticmethod
    def _listen(conn: psycopg.Connection[Any]) -> None:
        row = conn.execute(CHANNEL_SQL).fetchone()
        assert row is not None
        conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(str(row[0]))))

    @staticmethod
    def _receive(conn: psycopg.Connection[Any], deliver: Callable[[bytes, int], None],
                 stop: threading.Event) -> None:
        pinged = time.monotonic()
        while not stop.is_set():
            for note in conn.notifies(timeout=POLL_S):
                news = parse_payload(note.payload.encode("ascii", "replace"))
                if news is not None:
                    deliver(*news)
            if time.monotonic() - pinged >= PING_S:
                conn.execute("SELECT 1")
                pinged = time.monotonic()
