"""Search benchmark (issue "What makes a support group work": search on the device): a
query over the N posts (default 10,000) a member's device holds, beside its floor.

Run: ``python benchmarks/search.py [--posts N] [--repeats R] [--quick]``.

It starts ``vault relay serve`` (SQLite in a temporary directory) on 127.0.0.1, seeds a
group as ``benchmarks/client.py`` does (4 authors, 80% posts / 15% replies / 5% reactions,
texts of 40-600 characters from a small vocabulary; not timed), and a member's device syncs
it (not timed). Then, on that device, ``Client.search(query, group)`` for four queries: a
common word, two words, a quoted phrase, and a word no post holds.

* **first search** (the device's search index is empty: every post is folded, then
  scanned), beside its floor: ``str.lower`` over the same N texts, then the same scan;
* **search again** (the index kept: nothing is folded again), the median of R, beside its
  floor: a list comprehension testing ``term in text`` (``all(...)`` of them for several
  terms) over the same N texts already folded, the bare scan any search must make.

What ``Client.search`` adds to the floor is drawing the posts (the group's drawing is kept,
see ``vault_client/_internal/drawn.py``), checking that each post's words did not change
since it was folded, and sorting the results newest first. The last line is one JSON
object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from client import PASSPHRASE, seed_posts  # noqa: E402
from vault_client import Client  # noqa: E402
from vault_client._internal import search  # noqa: E402

from tests.relayproc import RelayProcess  # noqa: E402

QUERIES = ("sister", "grateful tomorrow", '"called my sister"', "zebra")


def timed(fn: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench(root: Path, relay: RelayProcess, count: int, repeats: int) -> dict[str, Any]:
    rng = random.Random(20240501)
    admin = Client(PASSPHRASE, home=root / "admin", relay_url=relay.url)
    gid = admin.create_group("Search benchmark", display_name="Admin").group_id
    seed_posts(root, relay, admin, gid, count, rng)  # type: ignore[arg-type]
    invite = admin.create_invite(gid, expires_in=3600)
    member = Client(PASSPHRASE, home=root / "member", relay_url=relay.url)
    joined = member.join(invite.uri)
    admin.approve(gid, joined.member_id, share_history="all")
    member.sync(gid)
    admin.close()
    shown = member.posts(gid)  # the drawing a search reads (kept from here on)
    texts = [p.text for p in shown if not p.deleted]
    figures: dict[str, Any] = {"search_posts": len(texts)}
    for query in QUERIES:
        wanted = search.terms(query)
        member._device.view(gid).search_index = search.SearchIndex()  # empty: first search
        first_s, found = timed(lambda q=query: member.search(q, gid))  # type: ignore[misc]

        def scan(folded: list[str], w: tuple[str, ...] = wanted) -> list[str]:
            if len(w) == 1:
                return [t for t in folded if w[0] in t]
            return [t for t in folded if all(term in t for term in w)]

        again, floor_again, floor_first = [], [], []
        folded = [search.fold(t) for t in texts]
        for _ in range(repeats):  # interleaved: each pair meets the same machine
            again.append(timed(lambda q=query: member.search(q, gid))[0])  # type: ignore[misc]
            floor_again.append(timed(lambda f=folded: scan(f))[0])  # type: ignore[misc]
            floor_first.append(timed(lambda: scan([x.lower() for x in texts]))[0])
        key = query.strip('"').replace(" ", "_")
        figures[f"{key}_found"] = len(found)
        figures[f"{key}_first_ms"] = first_s * 1e3
        figures[f"{key}_first_floor_ms"] = statistics.median(floor_first) * 1e3
        figures[f"{key}_again_ms"] = statistics.median(again) * 1e3
        figures[f"{key}_again_floor_ms"] = statistics.median(floor_again) * 1e3
        print(f"{query!r}: {len(found):,} of {len(texts):,} posts | first search "
              f"{first_s * 1e3:.1f} ms (floor {statistics.median(floor_first) * 1e3:.1f} ms: "
              f"lower + scan) | again {statistics.median(again) * 1e3:.1f} ms (floor "
              f"{statistics.median(floor_again) * 1e3:.1f} ms: the scan alone), ratio "
              f"{statistics.median(again) / statistics.median(floor_again):.2f}x")
    member.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--quick", action="store_true", help="2,000 posts, 5 repeats")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.repeats = 2_000, 5
    with tempfile.TemporaryDirectory(prefix="vault-search-") as tmp:
        root = Path(tmp)
        relay = RelayProcess(root / "relay", workers=2, threads=8)
        try:
            figures = bench(root, relay, args.posts, args.repeats)
        finally:
            relay.stop()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(json.dumps({"python": platform.python_version(), "machine": platform.machine(),
                      "cores": cores, **{k: round(v, 3) if isinstance(v, float) else v
                                         for k, v in figures.items()}}, sort_keys=True))


if __name__ == "__main__":
    main()
