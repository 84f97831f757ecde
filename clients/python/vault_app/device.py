"""This device's keystore, opened or locked: the one :class:`vault_client.Client` the app
holds while the person is using it.

Locked means the client is closed and dropped, so its unlocked keys are no longer in this
process's objects (Python cannot promise the memory is scrubbed; the SDK forgets them). It
locks when the person presses "Lock now", and after ``idle_lock_minutes`` without a request
*they* made (the live feed's refreshes do not count, or an open page would never lock).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable

from vault_client import Client, RetryNotice, has_keystore

from vault_app.settings import AppSettings

log = logging.getLogger(__name__)


class Locked(Exception):
    """The keystore is locked: the person must unlock it first."""


class Device:
    """The keystore of this launch's home: create, unlock, use, lock."""

    def __init__(self, settings: AppSettings,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.settings = settings
        self._clock = clock
        self._lock = threading.Lock()
        self._client: Client | None = None
        self._last_activity = clock()
        self.generation = 0
        """Grows at every lock and unlock: a live stream started under one client stops
        when it sees another number."""
        self._last_retry = 0.0
        self._retries = 0
        self._retried = threading.Condition()
        self._watchdog: threading.Thread | None = None
        self._stop = threading.Event()
        self._on_lock: set[Callable[[], None]] = set()

    # --- state -------------------------------------------------------------------------------

    @property
    def has_keystore(self) -> bool:
        """False on first run: the first unlock creates the keystore (ask twice)."""
        return has_keystore(self.settings.home)

    @property
    def unlocked(self) -> bool:
        self.lock_if_idle()
        return self._client is not None

    def client(self) -> Client:
        """The open client, or :class:`Locked`."""
        self.lock_if_idle()
        client = self._client
        if client is None:
            raise Locked
        return client

    def touch(self) -> None:
        """The person did something: the idle time starts again."""
        self._last_activity = self._clock()

    def relay_trouble(self) -> bool:
        """Whether the relay failed to answer in the last half minute (a banner says so)."""
        return self._last_retry > 0 and self._clock() - self._last_retry < 30

    def _on_retry(self, notice: RetryNotice) -> None:
        self._last_retry = self._clock()
        with self._retried:
            self._retries += 1
            self._retried.notify_all()

    @property
    def retries(self) -> int:
        """How many times a request to the relay has failed so far (see :meth:`wait_retry`)."""
        return self._retries

    def wait_retry(self, after: int, timeout: float) -> bool:
        """Wait until a request to the relay fails (more than *after* failures in all), at
        most *timeout* seconds; whether one did. A page waiting for a sync stops waiting as
        soon as the relay is known to be unreachable."""
        with self._retried:
            return self._retried.wait_for(lambda: self._retries > after, timeout)

    # --- opening and locking -----------------------------------------------------------------

    def unlock(self, passphrase: str) -> Client:
        """Open the keystore (create it on first run). Raises what :class:`Client` raises:
        ``KeystoreLockedError`` for a wrong passphrase, ``PassphraseRejectedError`` for a
        new one that is too easy to guess."""
        with self._lock:
            if self._client is not None:
                return self._client
            client = Client(passphrase, home=self.settings.home,
                            relay_url=self.settings.relay_url,
                            retry_for=self.settings.retry_for, on_retry=self._on_retry)
            self._client = client
            self.generation += 1
            self.touch()
            self._start_watchdog()
            return client

    def lock(self) -> None:
        """Close the client and forget it (idempotent); tell the open live streams."""
        with self._lock:
            client, self._client = self._client, None
            if client is not None:
                self.generation += 1
        if client is not None:
            try:
                client.close()
            except Exception:  # closing must never keep the keys open: log, carry on
                log.exception("closing the client failed")
        self.end_streams()

    def end_streams(self) -> None:
        """Tell the open live streams the keystore locks (after a lock; at exit, before it:
        their pages learn it, and the server's threads they hold come free at once)."""
        with self._lock:
            listeners = list(self._on_lock)
        for listener in listeners:
            listener()

    def add_lock_listener(self, listener: Callable[[], None]) -> None:
        """Call *listener* at every lock (and at shutdown): a live stream ends at once."""
        with self._lock:
            self._on_lock.add(listener)

    def remove_lock_listener(self, listener: Callable[[], None]) -> None:
        with self._lock:
            self._on_lock.discard(listener)

    def lock_if_idle(self) -> None:
        minutes = self.settings.idle_lock_minutes
        if minutes > 0 and self._client is not None \
                and self._clock() - self._last_activity >= minutes * 60:
            log.info("locking the keystore after %s minutes without activity", minutes)
            self.lock()

    def _start_watchdog(self) -> None:
        """A thread that locks an idle keystore even when no page asks anything."""
        if self._watchdog is not None or self.settings.idle_lock_minutes <= 0:
            return
        interval = min(15.0, self.settings.idle_lock_minutes * 60 / 4)

        def watch() -> None:
            while not self._stop.wait(interval):
                with contextlib.suppress(Exception):
                    self.lock_if_idle()

        self._watchdog = threading.Thread(target=watch, name="vault-idle-lock", daemon=True)
        self._watchdog.start()

    def shutdown(self) -> None:
        """At exit: stop the watchdog and lock."""
        self._stop.set()
        self.lock()
