"""SQLite: relay processes on one database file wake each other with Unix datagrams.

SQLite has no server to carry a notification, so the processes signal each other directly:
each process with waiters binds one datagram socket in a directory beside the database file
(``relay.db`` -> ``relay.db-wake/``); after a commit that advances a group's event counter,
the committing process sends ``<group id hex>:<event number>`` to every socket there and
removes the sockets of processes that are gone (``ECONNREFUSED``). A send never blocks: a
datagram that does not fit a full receiver is dropped, and the safety re-read
(:mod:`vault.api.wakeup`) brings that news a few seconds later. The payload holds nothing but
the group id (relay metadata already) and the counter.

A socket path is limited to about 100 bytes; a database in a deeper directory gets its
socket directory under the temporary directory instead, named by a hash of the database path
(and used only if it is this user's and private).
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path

from sqlalchemy.engine import make_url

from vault.api.news import parse_payload, payload

log = logging.getLogger("vault.relay")

MAX_SOCKET_PATH = 100  # sun_path is 104 (BSD) or 108 (Linux) bytes, with its terminator
MESSAGE_BYTES = 128


def socket_directory(database_url: str) -> Path | None:
    """Where the processes on this SQLite database meet; None for a database without a file
    (in memory: one process only)."""
    url = make_url(database_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" \
            or url.database.startswith("file:"):
        return None
    database = Path(url.database).expanduser().resolve()
    beside = database.with_name(database.name + "-wake")
    if len(os.fsencode(beside)) + 24 <= MAX_SOCKET_PATH:  # room for "/<pid>-<random>"
        return beside
    digest = hashlib.sha256(os.fsencode(database)).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / f"vault-wake-{digest}"


def _private_directory(path: Path) -> bool:
    """Make *path* (mode 700) if missing; whether it is ours and private."""
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=0o700)
    try:
        info = path.lstat()
    except OSError:
        return False
    return (stat.S_ISDIR(info.st_mode) and info.st_uid == os.geteuid()
            and stat.S_IMODE(info.st_mode) & 0o077 == 0)


class DatagramSignal:
    """This process's end: :meth:`send` after commits, and (while started) a receiving
    socket whose news goes to *deliver*."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.ready = threading.Event()
        self.generation = 0  # one more each time it binds again
        self.failed = False  # no private directory: the re-reads alone reach other processes
        self._usable: bool | None = None
        self._receiver: socket.socket | None = None
        self._name: str | None = None
        self._sender: socket.socket | None = None
        self._sender_pid = 0
        self._lock = threading.Lock()

    def _check(self) -> bool:
        if self._usable is None:
            self._usable = _private_directory(self.directory)
            if not self._usable:
                self.failed = True
                log.warning("wake-up directory unusable; other processes are seen by re-reads",
                            extra={"vault": {"directory": str(self.directory)}})
        return self._usable

    # --- sending ---------------------------------------------------------------------------

    def send(self, group_id: bytes, seq: int) -> None:
        """Tell every other process on this database (never blocks, never raises)."""
        try:
            names = os.listdir(self.directory)
        except OSError:
            return  # no directory: no process has waited yet
        message = payload(group_id, seq)
        sender = self._sending_socket()
        for name in names:
            if name == self._name:
                continue  # this process was told directly
            path = os.path.join(self.directory, name)
            try:
                sender.sendto(message, path)
            except OSError as error:
                if error.errno in (errno.ECONNREFUSED, errno.ENOTSOCK):
                    with contextlib.suppress(OSError):  # its process is gone
                        os.unlink(path)
                # EAGAIN/ENOBUFS (a full receiver), ENOENT (just left): the re-read covers it

    def _sending_socket(self) -> socket.socket:
        with self._lock:
            if self._sender is None or self._sender_pid != os.getpid():  # (after a fork)
                self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                self._sender.setblocking(False)
                self._sender_pid = os.getpid()
            return self._sender

    # --- receiving -------------------------------------------------------------------------

    def run(self, deliver: Callable[[bytes, int], None], stop: threading.Event,
            reconnected: Callable[[], None]) -> None:
        """Bind, then deliver news until *stop* is set (the body of a background thread).
        (*reconnected* is for signals that can drop; a bound socket loses nothing.)"""
        if not self._check():
            return
        name = f"{os.getpid()}-{secrets.token_hex(6)}"
        path = os.path.join(self.directory, name)
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        mine = -1
        try:
            receiver.bind(path)
            receiver.settimeout(1.0)  # so that a stop is noticed
            self._receiver, self._name = receiver, name
            self.generation += 1
            mine = self.generation
            self.ready.set()
            while not stop.is_set():
                try:
                    message = receiver.recv(MESSAGE_BYTES)
                except TimeoutError:
                    continue
                news = parse_payload(message)
                if news is not None:
                    deliver(*news)
        except OSError as error:
            log.warning("wake-up socket failed; other processes are seen by re-reads",
                        extra={"vault": {"error_type": type(error).__name__}})
        finally:
            if self.generation == mine:  # (not a newer run's: a restart after an idle stop
                # can bind before this run has noticed its stop)
                self.ready.clear()
                self._receiver, self._name = None, None
            receiver.close()
            with contextlib.suppress(OSError):
                os.unlink(path)
