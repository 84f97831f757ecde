"""Serving the relay with gunicorn (the production server), programmatically.

Production command (the same settings, from a shell; see :mod:`vault.api.gunicorn_conf`)::

    VAULT_DATABASE_URL=postgresql+psycopg://vault@db/vault \\
    gunicorn -c python:vault.api.gunicorn_conf --workers 4 \\
             --bind 0.0.0.0:8080 'vault.api:create_app()'

gevent workers: a member waiting for events (a long-poll, an event stream) costs a socket
and a greenlet, not a thread, so one process holds thousands of them while it keeps
answering everything else. gevent patches the standard library before the worker loads the
app (never preload it): threads, locks, sockets, ``time.sleep`` and psycopg's waits then
yield to each other, so the SQLAlchemy pool, the purge timer, the rate limiter's lock and
the event listener all work unchanged. SQLite's calls do not yield; they are short, and a
writer waiting for the lock (up to ``VAULT_DB_BUSY_TIMEOUT_MS``) waits between tries in
``time.sleep``, which yields (:func:`vault.api.db._take_write_lock`), so it holds up only its
own request. A WAL checkpoint (SQLite runs one after a commit every 1,000 pages or so) still
pauses its whole process for as long as it takes: one more reason PostgreSQL is the backend
for large relays.
"""

from __future__ import annotations

import gc
import logging
import resource
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

PURGE_INTERVAL_S = 60.0
WORKER_CLASS = "gevent"
STOP_CHECK_S = 0.2
WORKER_CONNECTIONS = 10_000  # per worker: waiting members, and everything else
SPARE_FILES = 256  # beyond one per connection: database connections, logs, the listener
FULL_COLLECTION_INTERVAL_S = 600.0
FULL_EVERY_MIDDLE = 2
THOROUGH_AFTER_GROWTH = 100_000
"""Frozen objects added since the last thorough collection that make the next one due
(about a thousand waiting members' worth)."""


def raise_open_file_limit(wanted: int) -> int:
    """Raise this process's soft limit on open files towards *wanted* (one per connection;
    the default soft limit, often 1024, would cap a worker's connections long before
    gevent does), never above the hard limit. Children inherit it. The limit now."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return int(soft)


def start_purge_timer(app: Flask, interval: float = PURGE_INTERVAL_S) -> threading.Thread:
    """Purge expired posts and their attachments, orphan attachments, challenges and
    sessions every *interval* seconds (daemon)."""
    from vault.api.logs import relay_log
    from vault.api.purge import purge_expired

    def loop() -> None:
        while True:
            time.sleep(interval)
            try:
                with app.app_context():
                    counts = purge_expired()
                if any(counts.values()):
                    relay_log.info("purged", extra={"vault": counts})
            except Exception as error:  # keep the timer alive; never log row data
                relay_log.error("purge failed",
                                extra={"vault": {"error_type": type(error).__name__}})

    thread = threading.Thread(target=loop, name="vault-purge", daemon=True)
    thread.start()
    return thread


def cooperative_database_driver() -> None:
    """In a gevent worker: make psycopg's waits yield to other greenlets.

    psycopg chooses how it waits for the server when it is first imported: a C loop that
    blocks the whole process, unless gevent has already patched ``select``. The master
    imports it before any worker patches (it checks the configuration and upgrades the
    schema on the database), so each worker switches it here to its ``poll`` loop, which
    gevent's patched ``select.poll`` makes cooperative.
    """
    waiting: Any = sys.modules.get("psycopg.waiting")  # (a private module: no stubs to lean on)
    if waiting is None or not waiting._is_select_patched():
        return
    if waiting.wait is getattr(waiting, "wait_c", None):
        waiting.wait = waiting.wait_poll


def freeze_before_fork() -> None:
    """gunicorn's pre_fork, in the master: what it loaded (the app it checked, its modules)
    is moved out of the collector's reach, so that no collection in a worker writes to
    those objects' pages and they stay shared with the master (copy-on-write)."""
    gc.collect()
    gc.freeze()


def steady_garbage_collector(interval: float = FULL_COLLECTION_INTERVAL_S,
                             growth: int = THOROUGH_AFTER_GROWTH) -> None:
    """Keep the cycle collector's pauses short while thousands of members wait.

    A waiting member is about a hundred small objects (greenlet, socket, request, parser)
    that live for up to a long-poll's 30 s, longer than the collector's young generations:
    they pile up in the oldest one, and Python then scans *all* of it every few seconds
    (measured with 5,000 waiters in a worker: about 600,000 objects, a 0.3-0.6 s pause in
    which the worker answers nobody). So: what survives a full collection is frozen (moved
    out of every later scan; ``gc.freeze``): the next full collection scans only what came
    since. Frozen objects are still freed as usual when nothing refers to them; only a
    reference cycle among them waits for the thorough collection (unfreeze, collect,
    freeze), the one long pause. Its timer checks every *interval* seconds and runs it
    only when the frozen objects grew by *growth* since the last one: a quiet worker never
    scans the objects it shares with the master (see :func:`freeze_before_fork`), and so
    never copies their pages.
    """
    gc.freeze()  # the code and data loaded so far: never garbage
    # A full collection now scans only the survivors of the young collections since the
    # last one: run it every 2 middle-generation collections (Python's default: 10), so
    # there are few of them each time.
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_EVERY_MIDDLE)

    def freeze_survivors(phase: str, info: dict[str, int]) -> None:
        if phase == "stop" and info["generation"] == 2:
            gc.freeze()

    def thorough() -> None:
        baseline = gc.get_freeze_count()
        while True:
            time.sleep(interval)
            count = gc.get_freeze_count()
            baseline = min(baseline, count)  # (live objects that died since: room for garbage)
            if count - baseline >= growth:
                collect_thoroughly()
                baseline = gc.get_freeze_count()

    gc.callbacks.append(freeze_survivors)
    threading.Thread(target=thorough, name="vault-gc", daemon=True).start()


def collect_thoroughly() -> None:
    """Scan everything, frozen survivors included (their dead cycles go), then freeze again."""
    gc.unfreeze()
    gc.collect()
    gc.freeze()


def worker_started(worker: Any) -> None:
    """gunicorn's post_worker_init: a cooperative driver, a steady garbage collector, the
    purge timer, and waiters answered when the worker is told to stop."""
    cooperative_database_driver()
    steady_garbage_collector()
    start_purge_timer(worker.wsgi)
    answer_waiters_when_stopping(worker)


def worker_exiting(server: Any, worker: Any) -> None:
    """gunicorn's worker_exit: flush and close the worker's log handlers, then leave
    nothing for the interpreter's end to do with them.

    Why: a handler collected at the very end of a gevent worker runs logging's weakref
    callback, which takes logging's lock (patched by gevent) after gevent's own module
    globals are gone; each worker's exit then printed ``Exception ignored in:
    <function _removeHandlerRef ...> TypeError: 'NoneType' object is not callable``
    (gevent issue #2148). With logging's handler list emptied here, while the worker is
    whole, that callback has nothing to remove and takes no lock."""
    logging.shutdown()
    handlers = getattr(logging, "_handlerList", None)  # (private: checked, not assumed)
    if isinstance(handlers, list):
        handlers.clear()


def answer_waiters_when_stopping(worker: Any, interval: float = STOP_CHECK_S) -> threading.Thread:
    """When gunicorn tells *worker* to stop (SIGTERM: a restart, a deploy, a scale-down),
    its waiting members are answered at once and sent elsewhere (vault/api/news.py), so
    the worker exits in a second or two instead of holding them until the graceful timeout
    and then cutting them off. (gunicorn only clears ``worker.alive``; it has no hook for
    that moment, hence the check every *interval* seconds: a greenlet's wake-up, no more.)"""
    from vault.api.services import services_of

    wakeup = services_of(worker.wsgi).wakeup

    def watch() -> None:
        while worker.alive:
            time.sleep(interval)
        wakeup.shutdown()

    thread = threading.Thread(target=watch, name="vault-stop-watch", daemon=True)
    thread.start()
    return thread


def run_gunicorn(app_factory: Callable[[], Flask], host: str, port: int, *, workers: int,
                 connections: int, on_ready: Callable[[str], None]) -> None:
    from gunicorn.app.base import BaseApplication

    raise_open_file_limit(connections + SPARE_FILES)

    class RelayServer(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
                "workers": workers,
                "worker_class": WORKER_CLASS,
                "worker_connections": connections,
                "preload_app": False,  # gevent must patch before the app is built
                "timeout": 60,
                "graceful_timeout": 10,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "when_ready": lambda server: on_ready(
                    ", ".join(str(listener) for listener in server.LISTENERS)
                ),
                "post_worker_init": worker_started,
                "worker_exit": worker_exiting,
                "pre_fork": lambda server, worker: freeze_before_fork(),
            }
            if "control_socket_disable" in self.cfg.settings:  # gunicorn >= 25
                # No runtime control socket (one per user by default, shared by every
                # gunicorn of that user on the host): the relay is managed by its process.
                settings["control_socket_disable"] = True
            for key, value in settings.items():
                self.cfg.set(key, value)

        def load(self) -> Any:  # a WSGI app (the stubs' WSGI type is narrower than Flask's)
            return app_factory()

    RelayServer().run()
    sys.exit(0)
