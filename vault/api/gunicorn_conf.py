"""gunicorn settings for running the relay in production.

    gunicorn -c python:vault.api.gunicorn_conf --workers 4 \\
             --bind 0.0.0.0:8080 'vault.api:create_app()'

What this adds to the command line's settings:

* ``gevent`` workers, up to 10,000 connections each (``--worker-connections``): a member
  waiting for events (a long-poll of up to 30 s, an event stream of minutes) costs a
  socket and a greenlet, no thread and no database connection, so waiting members do not
  hold up anyone else (see :mod:`vault.api.serve`). gevent patches the standard library in
  each worker before the app is loaded, so the app must not be preloaded (``preload_app``
  is off here; do not pass ``--preload``);
* the soft limit on open files raised (up to the hard limit) to one per connection plus
  spares, in the master before the workers start;
* a worker told to stop (SIGTERM to the master: a restart, a deploy) answers its waiting
  members at once, so that it exits in a second or two instead of holding them for the
  graceful timeout and cutting them off (:func:`vault.api.serve.answer_waiters_when_stopping`);
* a worker's log handlers flushed and closed as it exits, so that its exit prints no
  traceback from gevent's patched lock at the interpreter's end
  (:func:`vault.api.serve.worker_exiting`);
* every worker purges expired posts (with their attachments), orphan attachments, auth
  challenges and sessions once a minute (the same timer ``vault relay serve`` runs), so
  expired ciphertext does not linger;
* in the master, just before each worker is forked, what it has loaded is frozen out of
  the garbage collector's reach, so the workers share those pages with it instead of
  copying them (:func:`vault.api.serve.freeze_before_fork`);
* no gunicorn control socket (gunicorn >= 25 opens one per user by default, shared by
  every gunicorn that user runs on the host; the relay is managed by its process manager);
* once, before any worker starts, the schema upgrade ``VAULT_AUTO_MIGRATE`` asks for (by
  default on the embedded SQLite only; on PostgreSQL run ``vault relay migrate`` once per
  deploy), in a child process of the master, so that the master never loads Alembic. A
  configuration the relay cannot use stops gunicorn there with one line on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

worker_class = "gevent"
worker_connections = 10_000
preload_app = False
timeout = 60
graceful_timeout = 10
control_socket_disable = True  # ignored by gunicorn < 25, which has no control socket


def post_worker_init(worker: Any) -> None:
    from vault.api.serve import worker_started

    worker_started(worker)


def worker_exit(server: Any, worker: Any) -> None:
    from vault.api.serve import worker_exiting

    worker_exiting(server, worker)


def pre_fork(server: Any, worker: Any) -> None:
    from vault.api.serve import freeze_before_fork

    freeze_before_fork()


def on_starting(server: Any) -> None:
    from vault.api.app import upgrade_if_configured_in_child
    from vault.api.errors import RelayConfigError
    from vault.api.serve import SPARE_FILES, raise_open_file_limit

    raise_open_file_limit(server.cfg.worker_connections + SPARE_FILES)
    try:
        upgrade_if_configured_in_child()
    except RelayConfigError as error:
        print(f"vault: {error.message}", file=sys.stderr)
        sys.exit(2)
