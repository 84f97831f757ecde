"""Shared by the fault tests and their client worker process."""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import Counter
from typing import Any

from vault.crypto.keystore import KdfParams

PASSPHRASE = "fault passphrase"
FAULT_RUNS: Counter[str] = Counter()
"""Fault runs of each kind (reported at the end of the session)."""


def cheap_kdf(secret: bytes, salt: bytes, params: KdfParams) -> bytes:
    """A stand-in for Argon2id: these tests kill processes, they do not test keystores."""
    cost = f"{params.time_cost},{params.memory_kib},{params.parallelism}".encode()
    return hashlib.blake2b(secret + b"|" + salt + b"|" + cost, digest_size=32).digest()


def use_cheap_kdf() -> None:
    from vault.crypto import keystore

    keystore._kdf = cheap_kdf


class Killer:
    """SIGKILLs the relay after a random delay, then starts it again on the same port and
    data after another random pause (in a background thread)."""

    def __init__(self, relay: Any, rng: random.Random, *, delay: tuple[float, float],
                 down: tuple[float, float]) -> None:
        self.relay = relay
        self.delay = rng.uniform(*delay)
        self.down = rng.uniform(*down)
        self.killed = threading.Event()
        self.restarted = threading.Event()
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="relay-killer", daemon=True)

    def __enter__(self) -> Killer:
        self._thread.start()
        return self

    def _run(self) -> None:
        try:
            time.sleep(self.delay)
            self.relay.kill()
            self.killed.set()
            time.sleep(self.down)
            self.relay.start()
        except BaseException as error:  # reported by __exit__
            self.error = error
        finally:
            self.restarted.set()

    def __exit__(self, *exc: object) -> None:
        self._thread.join(timeout=120)
        assert self.restarted.is_set(), "the relay was not restarted"
        if self.error is not None:
            raise self.error


def relay_log(client: Any, gid: str) -> list[bytes]:
    """The raw log entries the relay holds now (read through *client*'s session)."""
    from vault_client._internal.transport import MemberAuth

    view = client._device.view(gid)
    transport = client._device.transport(view.relay_url)
    auth = MemberAuth(view.group_id, view.me)
    entries: list[bytes] = []
    while True:
        page = transport.read_log(auth, len(entries), 1000)
        entries += page.entries
        if not page.entries or len(entries) > page.head_seq:
            return entries


def relay_post_ids(client: Any, gid: str) -> Counter[bytes]:
    """Every post id the relay holds now, with how often each appears."""
    from vault_client._internal.transport import MemberAuth

    view = client._device.view(gid)
    transport = client._device.transport(view.relay_url)
    auth = MemberAuth(view.group_id, view.me)
    ids: Counter[bytes] = Counter()
    cursor = None
    while True:
        page = transport.posts(auth, cursor, 100)
        ids.update(p.post_id for p in page.posts if not p.deleted)
        cursor = page.cursor
        if not page.more:
            return ids
