"""Feeding this process's waiting room (:mod:`vault.api.news`) with every commit's news.

* This process's commits: the handler calls :func:`vault.api.util.ring_events` after its
  commit, which
  wakes the waiters here at once and, on SQLite, signals the other processes
  (:mod:`vault.api.wakeup_sqlite`; on PostgreSQL the database's trigger does that,
  :mod:`vault.api.wakeup_pg`).
* Other processes' commits: one background listener per process (LISTEN on PostgreSQL, a
  datagram socket on SQLite).
* A lost signal (a full socket, a dropped database connection): every
  ``VAULT_EVENTS_POLL_MS`` the process re-reads, in one query per 500 groups, the counters of
  the groups it keeps news of (those with waiters, and for a while those just left). That
  is a per-process cost, not a per-waiter one; a lost signal delays news by at most that
  interval and never loses it.

The listener and the re-read run only while the process has waiters: they start with the
first (which waits, briefly, until the listener listens, so that nothing committed after its
own read of the counter goes unheard) and stop after :data:`IDLE_S` seconds without any.
"""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Protocol

from flask import Flask
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from vault.api.db import db
from vault.api.models import Group
from vault.api.news import News, Watch

log = logging.getLogger("vault.relay")

IDLE_S = 60.0
READY_WAIT_S = 2.0  # a first waiter waits at most this long for the listener (then re-reads)
REREAD_BATCH = 500


class Signal(Protocol):
    ready: threading.Event
    failed: bool
    generation: int  # one more each time it starts hearing again

    def send(self, group_id: bytes, seq: int) -> None: ...

    def run(self, deliver: Callable[[bytes, int], None], stop: threading.Event,
            reconnected: Callable[[], None]) -> None: ...


def make_signal(app: Flask, database_url: str) -> Signal | None:
    """The cross-process signal for this database (None: an in-memory SQLite database)."""
    if database_url.startswith("postgresql"):
        from vault.api.wakeup_pg import NotifySignal

        with app.app_context():
            engine = db.engine
            args, kwargs = engine.dialect.create_connect_args(engine.url)
        return NotifySignal((tuple(args), dict(kwargs)))
    from vault.api.wakeup_sqlite import DatagramSignal, socket_directory

    directory = socket_directory(database_url)
    return None if directory is None else DatagramSignal(directory)


class Wakeup:
    """One per app (so one per relay process)."""

    def __init__(self, app: Flask, signal: Signal | None, reread_s: float) -> None:
        self.news = News()
        self._app = app
        self._signal = signal
        self._reread_s = max(0.05, reread_s)
        self._lock = threading.Lock()
        self._stop: threading.Event | None = None
        self._listener: threading.Thread | None = None
        self._pid = 0

    @contextmanager
    def watch(self, group_id: bytes) -> Iterator[Watch]:
        """Wait for *group_id*'s news within the block: enter it before reading the group's
        counter."""
        with self.news.watching(group_id) as watch:
            if not self.news.closing:  # (a stopping process starts nothing: nobody waits)
                self._ensure_running()
            yield watch

    def committed(self, group_id: bytes, seq: int) -> None:
        """A commit of this process advanced *group_id*'s counter to *seq*."""
        self.news.publish(group_id, seq)
        if self._signal is not None:
            self._signal.send(group_id, seq)

    def reread(self) -> None:
        """Read the counters of every watched group (the safety net for lost signals)."""
        groups = self.news.watched()
        if not groups:
            return
        generation = self.listening()  # before the read: news after it reaches this process
        seen = {gid: group.seq for gid, group in groups.items()}  # (news since may be newer)
        ids = list(groups)
        try:
            with self._app.app_context(), db.engine.connect() as conn:
                for start in range(0, len(ids), REREAD_BATCH):
                    chunk = ids[start:start + REREAD_BATCH]
                    rows = conn.execute(select(Group.group_id, Group.event_seq)
                                        .where(Group.group_id.in_(chunk))).all()
                    self.news.refreshed(groups, {bytes(gid): int(seq) for gid, seq in rows},
                                        generation, seen)
        except SQLAlchemyError as error:  # the next round tries again
            log.warning("re-reading event counters failed",
                        extra={"vault": {"error_type": type(error).__name__}})

    def listening(self) -> int:
        """The generation of the listener now hearing other processes' commits; -1 when
        none is (not started, reconnecting, or no cross-process signal)."""
        signal = self._signal
        if signal is None or signal.failed or not signal.ready.is_set():
            return -1
        return signal.generation

    def nothing_beyond(self, watch: Watch, after: int) -> bool:
        """Whether *watch*'s group surely has no event after *after* (no database read
        needed): :meth:`Watch.nothing_beyond` for the listener now listening."""
        return watch.nothing_beyond(after, self.listening())

    def shutdown(self) -> None:
        """The process is about to exit: every waiter answers now, none waits from now on
        (their clients ask again, of a process that is not stopping), and the background
        work stops."""
        self.news.close()
        self.close()

    def close(self) -> None:
        """Stop the background work (it starts again with the next waiter)."""
        with self._lock:
            if self._stop is not None:
                self._stop.set()
            self._stop = None

    # --- the background work ----------------------------------------------------------------

    def _ensure_running(self) -> None:
        with self._lock:
            if self._stop is None or self._pid != os.getpid():  # (a forked child starts anew)
                self._start()
            elif (self._listener is not None and not self._listener.is_alive()
                  and self._signal is not None and not self._signal.failed):
                self._start_listener(self._stop)
        signal = self._signal
        if signal is not None and not signal.failed and not signal.ready.is_set():
            signal.ready.wait(READY_WAIT_S)

    def _start(self) -> None:
        stop = threading.Event()
        self._stop, self._pid = stop, os.getpid()
        self._start_listener(stop)
        threading.Thread(target=self._supervise, args=(stop,), name="vault-events-reread",
                         daemon=True).start()

    def _start_listener(self, stop: threading.Event) -> None:
        if self._signal is None:
            return
        self._listener = threading.Thread(
            target=self._signal.run, args=(self.news.publish, stop, self.reread),
            name="vault-events-listener", daemon=True)
        self._listener.start()

    def _supervise(self, stop: threading.Event) -> None:
        while not stop.wait(self._reread_s):
            with self._lock:
                if self.news.idle_for() > IDLE_S and self._stop is stop:
                    stop.set()
                    self._stop = None
                    # Lingering entries go: news is not heard from here on, so none may
                    # vouch for a counter.
                    self.news.drop_lingering()
                    return
            self.reread()

