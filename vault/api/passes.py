"""Waiting members' passes: a long-poll asked again starts its wait without a database read.

A member following a group asks again each time its long-poll times out (the SDK's every
25 s), and each ask read its session and membership. A *pass* is what the last fresh read
said of a member's session (:func:`vault.api.authn.authenticate_with_counter`, one
statement): its group, its expiry, and the group's event counter read in the same
statement. The next long-poll of that session may start waiting on it, without a read,
while this process is sure that no event came after that counter
(:meth:`vault.api.news.Watch.nothing_beyond`): every membership or role change is a log
entry, and every log entry is an event, so the membership is still the one that read saw.

A pass is good for starting a wait and nothing else: a wait that ends with news reads the
session and membership fresh before it answers, and one that times out answers nothing but
the cursor it was given (vault/api/blueprints/events.py). News of a removal not yet heard
by this process (a signal still on its way, or lost until the next safety re-read,
``VAULT_EVENTS_POLL_MS``) lets the removed member start waits on the pass meanwhile: a wake
answers 403, a timeout nothing but the cursor the pass was issued at, the only cursor a
pass starts a wait for. A session refused for a group loses its pass. Sessions are never
revoked before their expiry; should that change, a revocation must drop the session's pass.

Per process, at most :data:`MAX_PASSES` (the oldest dropped first), and expired ones go from
the oldest end as new ones come; one past its session's expiry is never used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

MAX_PASSES: Final = 100_000


@dataclass(frozen=True, slots=True)
class Pass:
    group_id: bytes
    expires_at_ms: int
    seq: int
    """The group's event counter, read in the statement that found the member."""


class Passes:
    """Session token hash -> the last fresh read's :class:`Pass`."""

    def __init__(self, limit: int = MAX_PASSES) -> None:
        self._lock = threading.Lock()
        self._passes: OrderedDict[bytes, Pass] = OrderedDict()
        self._limit = limit

    def issue(self, token_hash: bytes, held: Pass, now_ms: int) -> None:
        """Keep *held* for the session (the newest last); passes at the oldest end that
        have expired go, and the oldest beyond the limit."""
        with self._lock:
            self._passes[token_hash] = held
            self._passes.move_to_end(token_hash)
            while self._passes:
                oldest = next(iter(self._passes.values()))
                if len(self._passes) <= self._limit and oldest.expires_at_ms > now_ms:
                    break
                self._passes.popitem(last=False)

    def drop(self, token_hash: bytes) -> None:
        """Forget the session's pass (its session was refused)."""
        with self._lock:
            self._passes.pop(token_hash, None)

    def get(self, token_hash: bytes, group_id: bytes, now_ms: int) -> Pass | None:
        """The session's pass for *group_id*, if it has one that has not expired."""
        held = self._unexpired(token_hash, now_ms)
        return held if held is not None and held.group_id == group_id else None

    def live(self, token_hash: bytes, now_ms: int) -> bool:
        """Whether the session holds a pass (for any group) that has not expired: a session
        that exists, so that its request's input may be read before the handler checks it."""
        return self._unexpired(token_hash, now_ms) is not None

    def _unexpired(self, token_hash: bytes, now_ms: int) -> Pass | None:
        with self._lock:
            held = self._passes.get(token_hash)
        return held if held is not None and held.expires_at_ms > now_ms else None

    def __len__(self) -> int:
        with self._lock:
            return len(self._passes)
