"""The relay worker's garbage collector (vault.api.serve.steady_garbage_collector): a full
collection scans only what came since the last one, and a reference cycle that dies among
the frozen survivors is still reclaimed, by the thorough pass its timer runs once the
frozen objects have grown.

Each check runs in a fresh interpreter: the collector's settings are process-wide.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PRELUDE = r"""
import gc, sys, time, weakref
from vault.api.serve import collect_thoroughly, steady_garbage_collector

class Node:
    pass

def dead_cycle_among_frozen():
    a, b = Node(), Node()
    a.other, b.other = b, a
    gc.collect()  # a full collection: a and b survive it, so they are frozen
    probe = weakref.ref(a)
    del a, b  # garbage now, but a cycle: reference counting alone cannot free it
    return probe
"""

SCANS = PRELUDE + r"""
held = [[i] for i in range(200_000)]  # long-lived, as a worker's waiting members
steady_garbage_collector(interval=3600)
gc.collect()
after_start = len(gc.get_objects())
more = [[i] for i in range(50_000)]
gc.collect()
after_full = len(gc.get_objects())
probe = dead_cycle_among_frozen()
gc.collect()
alive_after_full = probe() is not None
collect_thoroughly()
print(after_start, after_full, alive_after_full, probe() is None, len(held) + len(more))
"""

TIMER = PRELUDE + r"""
steady_garbage_collector(interval=0.2, growth=1)
probe = dead_cycle_among_frozen()
deadline = time.monotonic() + 30
while probe() is not None and time.monotonic() < deadline:
    time.sleep(0.05)
print(probe() is None)
"""

QUIET = PRELUDE + r"""
import vault.api.serve as serve
passes = []
thorough = serve.collect_thoroughly
serve.collect_thoroughly = lambda: (passes.append(1), thorough())
steady_garbage_collector(interval=0.05, growth=100_000)
time.sleep(1.0)  # about 20 checks, and nothing new frozen
quiet = len(passes)
held = [[i] for i in range(150_000)]
gc.collect()  # the new lists survive a full collection: frozen
deadline = time.monotonic() + 30
while not passes and time.monotonic() < deadline:
    time.sleep(0.05)
print(quiet, len(passes) > 0, len(held))
"""


def run(script: str) -> list[str]:
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True,
                            text=True, timeout=60, check=True)
    return result.stdout.split()


def test_a_full_collection_scans_only_what_came_since_the_last() -> None:
    after_start, after_full, alive_after_full, reclaimed, held = run(SCANS)
    assert int(held) == 250_000
    # 200,000 and then 50,000 live lists are left out of every later scan.
    assert int(after_start) < 5_000
    assert int(after_full) < 5_000
    # A cycle that died among frozen objects outlives ordinary collections...
    assert alive_after_full == "True"
    # ...until the thorough pass, which frees it.
    assert reclaimed == "True"


def test_the_thorough_pass_runs_on_its_timer() -> None:
    assert run(TIMER) == ["True"]


def test_the_thorough_pass_waits_until_the_frozen_objects_grew() -> None:
    # A quiet worker never scans what it shares with the master (copy-on-write pages).
    quiet, ran_after_growth, held = run(QUIET)
    assert int(held) == 150_000
    assert quiet == "0"
    assert ran_after_growth == "True"
