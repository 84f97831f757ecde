"""Work spread over every core: one thread pool for the process, made on first use.

libsodium (through PyNaCl's cffi bindings) releases the GIL while it works, so threads
seal and open on every core at once. The pool is only ever handed pure functions of their
arguments (the protocol core's batch sealers); results come back in the order the work
was given (``Executor.map``), whatever order the threads finish in.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def workers() -> int:
    """The cores this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # (not on every platform)
        return max(1, os.cpu_count() or 1)


def _shared() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=workers(),
                                       thread_name_prefix="vault-cores")
        return _pool


def map_on_cores(fn: Callable[[T], R], items: Sequence[T]) -> Iterator[R]:
    """``fn`` over *items* on every core; results in the order of *items*. With one core
    (or one item) it runs here, in this thread."""
    if workers() == 1 or len(items) <= 1:
        return iter([fn(item) for item in items])
    return _shared().map(fn, items)
