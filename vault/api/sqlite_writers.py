"""SQLite writers take the write lock in turn, across the relay's processes.

SQLite has no queue for its write lock: a writer that finds it taken tries again later
(:func:`vault.api.db._take_write_lock` does so in short sleeps, so that a gevent worker goes
on serving meanwhile). With two processes writing steadily, that is unfair: the process
holding the lock hands it from one of its writers to the next before the other process's
sleeper looks again, and that one waits tens of milliseconds (measured under
``benchmarks/ingest.py``: 1 write in 10 retried, those waited 48 ms at the 99th percentile,
the lock itself being held well under a millisecond each time).

So every write transaction first takes its turn here: within a process, a lock (a
greenlet lock under gevent); between processes, an advisory ``flock`` on a file beside the
database (``relay.db-writers``), waited for in a native thread under gevent so the process
goes on serving. A writer is woken when the one before it ends, and then finds SQLite's
lock free. The kernel drops a dead process's ``flock``. Writers that do not take a turn
(an operator's ``sqlite3`` shell) are still waited for the old way, within the busy timeout.

The turns only order the writers: SQLite's own lock still guards every write, so a turn
that goes wrong costs waiting, never data. (One such case: a greenlet killed while its
native thread waits, at a worker's shutdown; the thread's ``flock`` then stays with the
process until its next write ends or it exits.)
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Iterator
from typing import Any

from vault.crypto.errors import RelayUnavailableError

log = logging.getLogger("vault.relay")
_setup = threading.Lock()  # (held only while a process makes its own lock and file)


def _native_wait(fd: int) -> None:
    """Wait for the file lock; under gevent in a native thread (its waits block)."""
    try:
        from gevent import get_hub  # type: ignore[import-untyped]
        from gevent.monkey import is_module_patched  # type: ignore[import-untyped]
    except ImportError:  # (gevent is the relay's dependency; tests may run without it)
        fcntl.flock(fd, fcntl.LOCK_EX)
        return
    if is_module_patched("threading"):
        get_hub().threadpool.apply(fcntl.flock, (fd, fcntl.LOCK_EX))
    else:
        fcntl.flock(fd, fcntl.LOCK_EX)


def _open_lock_file(path: str) -> int:
    """The lock file, opened (``flock`` works on a read-only file too); -1 if it cannot
    be: the turns only order writers, so then this process writes without them."""
    for flags in (os.O_RDWR | os.O_CREAT, os.O_RDONLY):
        try:
            return os.open(path, flags | os.O_CLOEXEC, 0o644)
        except OSError:
            continue
    log.warning("cannot open the writers' lock file; writing without turns",
                extra={"vault": {"path": path}})
    return -1


class WriterTurns:
    """The turns of one SQLite database's writers (see the module's docstring)."""

    def __init__(self, database_path: str) -> None:
        self.lock_path = f"{database_path}-writers"
        self._pid = -1
        self._turn: Any = None
        self._fd = -1
        self._depth = 0

    def _here(self) -> tuple[Any, int]:
        """This process's lock and file (made again after a fork: a lock must not be
        shared with the parent, and ``flock`` belongs to an open file)."""
        with _setup:
            if self._pid != os.getpid():
                self._turn = threading.RLock()  # a greenlet lock once gevent has patched
                self._fd = _open_lock_file(self.lock_path)
                self._depth = 0
                self._pid = os.getpid()
            return self._turn, self._fd

    @contextlib.contextmanager
    def turn(self, timeout_s: float) -> Iterator[None]:
        """Hold the turn for one write transaction (re-entrant). Waiting for this process's
        other writers is bounded by *timeout_s* (then :class:`RelayUnavailableError`, as a
        busy SQLite lock is); the turn between processes comes when the writer before
        ends its transaction."""
        turn, fd = self._here()
        if not turn.acquire(timeout=max(timeout_s, 0.0)):
            raise RelayUnavailableError("the relay's database is busy; try again")
        try:
            if self._depth == 0 and fd >= 0:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    _native_wait(fd)
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0 and fd >= 0:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            turn.release()


_turns: dict[str, WriterTurns] = {}


def turns_for(database_path: str | None) -> WriterTurns | None:
    """The turns of the SQLite database at *database_path* (None for an in-memory one)."""
    if not database_path or database_path == ":memory:" or database_path.startswith("file:"):
        return None
    path = os.path.abspath(database_path)
    with _setup:
        found = _turns.get(path)
        if found is None:
            found = _turns[path] = WriterTurns(path)
        return found
