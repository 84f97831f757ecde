"""Small helpers shared by the blueprints: time, path ids, events."""

from __future__ import annotations

import threading

from vault.api.services import services
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import MalformedError

# How far the relay lets a client's clock trail its own: a log entry or join request dated
# earlier than this is refused as stale. (The core bounds the future side of log entries with
# vault.crypto.limits.MAX_FUTURE_SKEW_MS, also 5 minutes; the relay applies that bound to
# join requests too.)
MAX_PAST_SKEW_MS = 5 * 60 * 1000


def now_ms() -> int:
    return services().clock()


def decode_id(text: str, size: int, what: str) -> bytes:
    """A base64url id from a URL path or body field, of exactly *size* bytes."""
    if len(text) > 200:
        raise MalformedError(f"{what}: too long")
    value = b64decode(text, what, max_len=size)
    if len(value) != size:
        raise MalformedError(f"{what}: must be {size} bytes")
    return value


def decode_b64(text: str, what: str, max_len: int) -> bytes:
    return b64decode(text, what, max_len=max_len)


def cursor_text(value: int) -> str:
    return str(value)


def parse_cursor(text: str | None) -> int:
    return 0 if text is None else int(text)


class EventBell:
    """Wakes this process's long-polls after a commit; other processes are reached by polling
    the database (see the events blueprint)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def ring(self) -> None:
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    @property
    def generation(self) -> int:
        return self._generation

    def wait(self, generation: int, timeout: float) -> None:
        with self._cond:
            if self._generation == generation:
                self._cond.wait(timeout)


def ring_events() -> None:
    services().events.ring()


__all__ = ["b64encode"]
