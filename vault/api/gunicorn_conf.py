"""gunicorn settings for running the relay in production.

    gunicorn -c python:vault.api.gunicorn_conf --workers 4 --threads 16 \\
             --bind 0.0.0.0:8080 'vault.api:create_app()'

What this adds to the command line's settings:

* ``gthread`` workers: an event long-poll holds its thread (not its database connection)
  for up to 30 s, so each worker serves many requests at once from a thread pool;
* every worker purges expired posts (with their attachments), orphan attachments, auth
  challenges and sessions once a minute (the same timer ``vault relay serve`` runs), so
  expired ciphertext does not linger;
* no gunicorn control socket (gunicorn >= 25 opens one per user by default, shared by
  every gunicorn that user runs on the host; the relay is managed by its process manager);
* once, in the master before any worker starts, the schema upgrade ``VAULT_AUTO_MIGRATE``
  asks for (by default on the embedded SQLite only; on PostgreSQL run
  ``vault relay migrate`` once per deploy). A configuration the relay cannot use stops
  gunicorn there with one line on stderr.
"""

from __future__ import annotations

import sys
from typing import Any

worker_class = "gthread"
threads = 16
timeout = 60
graceful_timeout = 10
control_socket_disable = True  # ignored by gunicorn < 25, which has no control socket


def post_worker_init(worker: Any) -> None:
    from vault.api.serve import start_purge_timer

    start_purge_timer(worker.wsgi)


def on_starting(server: Any) -> None:
    from vault.api.app import upgrade_if_configured
    from vault.api.errors import RelayConfigError

    try:
        upgrade_if_configured()
    except RelayConfigError as error:
        print(f"vault: {error.message}", file=sys.stderr)
        sys.exit(2)
