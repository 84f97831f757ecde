"""Structured JSON logs. One line per request: method, path *template*, status, duration.

Never logged: bodies, query strings, headers (so no tokens), ciphertext, ids from the URL
(the template ``/v1/groups/<gid>/posts/<post_id>`` is logged, not the values), addresses.
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from flask import Flask, Response, g, request

access_log = logging.getLogger("vault.relay.access")
relay_log = logging.getLogger("vault.relay")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        extra = getattr(record, "vault", None)
        if isinstance(extra, dict):
            data.update(extra)
        return json.dumps(data, separators=(",", ":"))


def setup_logging(level: str = "INFO") -> None:
    """Attach one JSON handler to stderr for the relay's loggers (idempotent)."""
    root = logging.getLogger("vault.relay")
    if not any(getattr(h, "_vault_json", False) for h in root.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(JsonFormatter())
        handler._vault_json = True  # type: ignore[attr-defined]
        root.addHandler(handler)
        root.propagate = False
    root.setLevel(level.upper())


def install_request_logging(app: Flask) -> None:
    @app.before_request
    def _start() -> None:
        g.vault_started = time.perf_counter()

    @app.after_request
    def _log(response: Response) -> Response:
        if access_log.isEnabledFor(logging.INFO):  # (the line is built only to be written)
            started = g.get("vault_started")
            duration = 0.0 if started is None else (time.perf_counter() - started) * 1000
            rule = request.url_rule.rule if request.url_rule is not None else "<unmatched>"
            access_log.info(
                "request",
                extra={
                    "vault": {
                        "method": request.method,
                        "path": rule,
                        "status": response.status_code,
                        "duration_ms": round(duration, 2),
                    }
                },
            )
        response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        return response
