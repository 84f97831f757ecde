"""Serving the relay with gunicorn (the production server), programmatically.

Production command (the same settings, from a shell; see :mod:`vault.api.gunicorn_conf`)::

    VAULT_DATABASE_URL=postgresql+psycopg://vault@db/vault \\
    gunicorn -c python:vault.api.gunicorn_conf --workers 4 --threads 16 \\
             --bind 0.0.0.0:8080 'vault.api:create_app()'

(gthread workers, because event long-polls hold a thread for up to 30 s; every worker runs
the purge timer.)
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask

PURGE_INTERVAL_S = 60.0


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


def run_gunicorn(app_factory: Callable[[], Flask], host: str, port: int, *, workers: int,
                 threads: int, on_ready: Callable[[str], None]) -> None:
    from gunicorn.app.base import BaseApplication

    class RelayServer(BaseApplication):
        def load_config(self) -> None:
            settings: dict[str, Any] = {
                "bind": [f"[{host}]:{port}" if ":" in host else f"{host}:{port}"],
                "workers": workers,
                "worker_class": "gthread",
                "threads": threads,
                "timeout": 60,
                "graceful_timeout": 10,
                "accesslog": None,
                "errorlog": "-",
                "loglevel": "warning",
                "when_ready": lambda server: on_ready(
                    ", ".join(str(listener) for listener in server.LISTENERS)
                ),
                "post_worker_init": lambda worker: start_purge_timer(worker.wsgi),
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
