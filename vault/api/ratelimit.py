"""Per-client token buckets, **per process**: with N relay processes a client may get up to
N times the configured rate. Buckets are keyed by (client address, class). An operator
behind a reverse proxy sets VAULT_PROXY_HOPS so the address is the client's, not the proxy's.
"""

from __future__ import annotations

import threading
import time

from flask import request

from vault.api.services import services
from vault.crypto.errors import RateLimitedError

MAX_BUCKETS = 100_000


class TokenBuckets:
    def __init__(self, limits: dict[str, tuple[float, float]]) -> None:
        self._limits = limits  # class -> (tokens per second, burst); rate <= 0 disables
        self._buckets: dict[tuple[str, str], tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, klass: str) -> float | None:
        """Take one token; return None if allowed, else seconds until one is available."""
        rate, burst = self._limits.get(klass, self._limits["default"])
        if rate <= 0:
            return None
        now = time.monotonic()
        with self._lock:
            if len(self._buckets) >= MAX_BUCKETS:
                self._prune(now)
            tokens, last = self._buckets.get((key, klass), (burst, now))
            tokens = min(burst, tokens + (now - last) * rate)
            if tokens < 1.0:
                self._buckets[(key, klass)] = (tokens, now)
                return (1.0 - tokens) / rate
            self._buckets[(key, klass)] = (tokens - 1.0, now)
            return None

    def _prune(self, now: float) -> None:
        full = [
            k for k, (tokens, last) in self._buckets.items()
            if tokens + (now - last) * self._limits.get(k[1], self._limits["default"])[0]
            >= self._limits.get(k[1], self._limits["default"])[1]
        ]
        for k in full:
            del self._buckets[k]
        if len(self._buckets) >= MAX_BUCKETS:  # still full: forget the oldest half
            for k in sorted(self._buckets, key=lambda k: self._buckets[k][1])[: MAX_BUCKETS // 2]:
                del self._buckets[k]


def check_rate(klass: str) -> None:
    wait = services().rate.take(request.remote_addr or "unknown", klass)
    if wait is not None:
        retry = max(1, int(wait + 0.999))
        error = RateLimitedError(f"too many requests; retry in {retry} s")
        error.retry_after = retry  # type: ignore[attr-defined]
        raise error
