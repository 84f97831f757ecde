"""Shared pieces of the fuzz suite: a cheap stand-in for Argon2id, and the one assertion.

Every fuzz test asserts the same thing: whatever bytes, text or JSON come in from outside,
the only exceptions that come out are the protocol's typed errors (:class:`VaultError` and
its subclasses): never KeyError, TypeError, ValueError, IndexError, UnicodeError,
OverflowError, struct.error, RecursionError...

Example counts are bounded (``settings(max_examples=...)``) and derandomized so the suite is
fast and reproducible; ``VAULT_FUZZ_SCALE=10`` multiplies every count for a longer hunt, and
``VAULT_FUZZ_RANDOM=1`` draws fresh examples each run.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, settings

from vault.crypto import keystore
from vault.crypto.errors import VaultError
from vault.crypto.keystore import KdfParams

SCALE = float(os.environ.get("VAULT_FUZZ_SCALE", "1"))
DERANDOMIZE = os.environ.get("VAULT_FUZZ_RANDOM", "") != "1"

EXAMPLES_RUN: dict[str, int] = {}
"""How many examples each fuzz target ran (printed at the end of the session)."""
ABUSE_CASES: list[str] = []
"""Every relay abuse case sent (printed at the end of the session)."""


def fuzz_settings(examples: int, **extra: Any) -> settings:
    """Bounded, deterministic hypothesis settings for one fuzz target."""
    return settings(
        max_examples=max(1, int(examples * SCALE)),
        deadline=None,
        derandomize=DERANDOMIZE,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                               HealthCheck.filter_too_much,
                               HealthCheck.function_scoped_fixture],
        **extra,
    )


def count(name: str) -> None:
    EXAMPLES_RUN[name] = EXAMPLES_RUN.get(name, 0) + 1


def only_typed(call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Run *call*; a :class:`VaultError` is an accepted outcome (returned), anything else
    propagates and fails the example."""
    try:
        return call(*args, **kwargs)
    except VaultError as error:
        assert isinstance(error.code, str) and error.code
        assert isinstance(error.message, str)
        return error


def cheap_kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """A stand-in for Argon2id (keystores are not what these tests exercise)."""
    cost = f"{params.time_cost},{params.memory_kib},{params.parallelism}".encode()
    return hashlib.blake2b(secret + b"|" + salt + b"|" + cost, digest_size=32).digest()


@pytest.fixture(autouse=True)
def _cheap_kdf(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(keystore, "_kdf", cheap_kdf)
    yield


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if EXAMPLES_RUN:
        total = sum(EXAMPLES_RUN.values())
        terminalreporter.write_line(
            f"fuzz: {total} examples over {len(EXAMPLES_RUN)} targets "
            + ", ".join(f"{k}={v}" for k, v in sorted(EXAMPLES_RUN.items())))
    if ABUSE_CASES:
        terminalreporter.write_line(f"relay abuse: {len(ABUSE_CASES)} cases")
