"""Server-Sent Events framing (the WHATWG HTML "text/event-stream" format), and nothing else.

A frame is ``field: value`` lines ended by a blank line; a line starting with ``:`` is a
comment, which clients ignore (heartbeats). Values here are compact JSON, which never
contains a newline, so every ``data`` is one line.
"""

from __future__ import annotations

import json
import re
from typing import Any

from vault.crypto.errors import VaultError

MIMETYPE = "text/event-stream"
HEADERS = {
    "Cache-Control": "no-store",
    # nginx buffers proxied responses unless told not to; a buffered stream never arrives.
    "X-Accel-Buffering": "no",
}
_ID = re.compile(r"^[0-9]{1,18}$")


def data_frame(event_id: str, data: dict[str, Any]) -> bytes:
    """A message with an id (the client's resume point) and one JSON line of data."""
    return f"id: {event_id}\ndata: {_json(data)}\n\n".encode()


def error_frame(error: VaultError) -> bytes:
    """An ``error`` event carrying the relay's usual error body; the stream ends after it."""
    body = {"error": {"code": error.code, "message": error.message}}
    return f"event: error\ndata: {_json(body)}\n\n".encode()


def comment(text: str) -> bytes:
    return f": {text}\n\n".encode()


def valid_id(text: str) -> bool:
    """Whether a Last-Event-ID header holds one of this relay's cursors."""
    return bool(_ID.match(text))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=True)
