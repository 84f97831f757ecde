"""Small helpers shared by the blueprints: time, path ids, events."""

from __future__ import annotations

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


def ring_events(group_id: bytes, seq: int) -> None:
    """After a commit that took event number *seq* in *group_id*: wake the group's waiters,
    in this process and in the others (:mod:`vault.api.wakeup`)."""
    services().wakeup.committed(group_id, seq)


__all__ = ["b64encode"]
