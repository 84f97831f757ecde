"""Many-groups benchmark (not a test): does the relay slow down when it holds 10,000 groups and
1,000,000 posts instead of one group?

Run: ``python benchmarks/many_groups.py [--quick] [--groups G] [--posts P] [--workers W]
[--duration S] [--wakeups N] [--only sqlite|postgresql] [--postgres-url URL]``. About 3
minutes with the defaults on 2 CPUs (both backends, most of it bulk seeding); ``--quick``
(1,000 groups, 100,000 posts) under a minute.

For SQLite, then PostgreSQL (``--postgres-url``, default ``$VAULT_BENCH_POSTGRES_URL`` else
``$VAULT_TEST_POSTGRES_URL``; a schema ``vault_bench_<pid>`` made and dropped):

1. **One group.** A fresh database (the relay's migrations); the measured group and its
   owner's session made through the relay's API (``benchmarks/relay.py``'s ``seed``); then
   P / G posts of that group, real envelopes sealed for it, written by bulk SQL. A relay
   process (``vault relay serve`` defaults, tests/relayproc.py; ``--workers``, default 1:
   see below) is timed:
   * **newest page**: ``GET /posts?newest=50`` back to back from one client for
     ``--duration`` seconds: p50 (the lowest median of three windows, the least disturbed
     one on a shared machine) and p99 over all requests;
   * **wake-up**: a member waits on ``GET /events?after=<cursor>`` (long-poll); 0.1 s later
     another connection uploads a post; latency = from the upload's start to the waiting
     request's return (``--wakeups`` times): p50 and p99.
2. **Many groups.** Seeded directly with SQL bulk inserts, NOT through the API (SQLite:
   ``executemany``; PostgreSQL: ``COPY``, then ``ANALYZE``): G - 1 more groups, each a
   well-formed copy of what the relay stores for a new group — a ``groups`` row, its real
   signed genesis entry in ``log_entries`` (a fresh owner identity per group), the owner's
   ``members`` row and one live ``sessions`` row — and P / G posts per group, the measured
   group included, inserted round-robin across the groups so each group's newest rows lie
   scattered through the table, as on a relay where all groups post at once. Each post row
   holds a real envelope sealed for its group (for the other groups one envelope per group,
   repeated under its post ids: the size and format are right, and the relay never opens a
   stored envelope); the measured group's are each its own. A fresh relay process is timed
   the same way. (The measured group then holds 2 x P / G posts; a page is 50 either way.)
3. Ratios many / one, printed beside both figures; the target is <= 1.2.

``--workers 1`` by default: with more, a waiter and the upload may land in different relay
processes, whose wake-up today waits for the other process's poll (up to 0.5 s, issue 14
item 2), which would drown the effect measured here. ``--workers 2`` measures that too.

The last output line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sqlite3
import statistics
import sys
import threading
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import httpx
import nacl.utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import UNREACHABLE_RATE, DefaultRelay, cli_defaults  # noqa: E402
from relay import (  # noqa: E402
    Database,
    Seeded,
    each_database,
    envelopes,
    seed,
)

from vault.crypto.auth import AuthSubject, session_token_hash  # noqa: E402
from vault.crypto.epochs import new_epoch_key  # noqa: E402
from vault.crypto.identity import Identity  # noqa: E402
from vault.crypto.log import create_group, group_id_of  # noqa: E402
from vault.crypto.log_entries import Role  # noqa: E402
from vault.crypto.log_verify import genesis_state  # noqa: E402
from vault.crypto.post_body import PostBody, PostKind  # noqa: E402
from vault.crypto.posts import seal_post  # noqa: E402

PAGE = 50
TEXT = "x" * 200  # as benchmarks/relay.py: a ~0.7 KB envelope (the 512-byte bucket)
HOUR_MS = 3_600_000

POST_COLUMNS = ("group_id", "post_id", "cursor", "epoch", "uploader", "envelope", "deleted",
                "created_at_ms", "expires_at_ms")
TABLES: dict[str, tuple[str, ...]] = {
    "groups": ("group_id", "head_seq", "head_hash", "epoch", "event_seq", "created_at_ms"),
    "log_entries": ("group_id", "seq", "entry_hash", "raw", "event_seq", "created_at_ms"),
    "members": ("group_id", "sign_pk", "role", "joined_seq", "removed_seq"),
    "sessions": ("token_hash", "group_id", "kind", "subject", "expires_at_ms"),
    "posts": POST_COLUMNS,
}


# --- bulk SQL -------------------------------------------------------------------------------


def bulk(db: Database, table: str, rows: Iterable[tuple[Any, ...]]) -> None:
    columns = TABLES[table]
    if db.name == "sqlite":
        conn = sqlite3.connect(db.url.removeprefix("sqlite:///"), timeout=60)
        try:
            conn.execute("PRAGMA synchronous = OFF")
            with conn:
                conn.executemany(f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
                                 f"({', '.join('?' * len(columns))})", rows)
        finally:
            conn.close()
        return
    import psycopg

    with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        with conn.cursor() as cur, cur.copy(
                f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        conn.commit()


def execute(db: Database, sql: str, params: tuple[Any, ...] = ()) -> None:
    if db.name == "sqlite":
        conn = sqlite3.connect(db.url.removeprefix("sqlite:///"), timeout=60)
        with conn:
            conn.execute(sql, params)
        conn.close()
        return
    import psycopg

    with psycopg.connect(db.url.replace("postgresql+psycopg://", "postgresql://", 1),
                         autocommit=True) as conn:
        conn.execute(sql.replace("?", "%s"), params)


def analyze(db: Database) -> None:
    execute(db, "ANALYZE")


class Author:
    """Seals posts for one group as its owner (real envelopes, each its own post id)."""

    def __init__(self, owner: Identity, group_id: bytes, epoch_key: bytes, head: bytes) -> None:
        self.owner, self.group_id, self.epoch_key, self.head = owner, group_id, epoch_key, head
        self.seq = 0

    def seal(self, now: int) -> tuple[bytes, bytes]:
        """(post id, envelope bytes)."""
        self.seq += 1
        post_id = nacl.utils.random(16)
        body = PostBody(author=self.owner.sign_pk, group_id=self.group_id, epoch=0,
                        post_id=post_id, author_seq=self.seq, log_seq=0, log_head=self.head,
                        timestamp_ms=now, kind=PostKind.POST, text=TEXT)
        return post_id, seal_post(self.owner, self.epoch_key, body).encode()


def other_groups(count: int, now: int) -> list[tuple[bytes, bytes, Author, bytes, bytes]]:
    """(group id, owner pk, author, genesis raw, head) for *count* new groups."""
    out = []
    for _ in range(count):
        owner, epoch_key = Identity.generate(), new_epoch_key()
        genesis = create_group(owner, epoch_key)
        group_id = group_id_of(genesis)
        state = genesis_state(genesis, group_id, now_ms=now)
        out.append((group_id, owner.sign_pk, Author(owner, group_id, epoch_key, state.head),
                    genesis.raw, state.head))
    return out


def seed_many(db: Database, measured: Seeded, measured_author: Author, groups: int,
              per_group: int, first_cursor: int) -> dict[str, float]:
    """Phase 2's rows: groups - 1 new groups with their log, owner and session, and
    per_group posts in every group (the measured one included), round-robin."""
    now = int(time.time() * 1000)
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    made = other_groups(groups - 1, now)
    timings["genesis_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    events = per_group + 1  # genesis (1) then posts 2..per_group+1
    bulk(db, "groups", ((gid, 0, head, 0, events, now) for gid, _pk, _a, _raw, head in made))
    bulk(db, "log_entries", ((gid, 0, head, raw, 1, now) for gid, _pk, _a, raw, head in made))
    bulk(db, "members", ((gid, pk, int(Role.OWNER), 0, None) for gid, pk, *_ in made))
    bulk(db, "sessions", ((session_token_hash(nacl.utils.random(32)), gid, int(AuthSubject.MEMBER),
                           pk, now + HOUR_MS) for gid, pk, *_ in made))
    timings["groups_s"] = round(time.perf_counter() - t0, 1)
    t0 = time.perf_counter()
    one_each = [(gid, author.owner.sign_pk, author.seal(now)[1]) for gid, _pk, author, *_ in made]
    measured_posts = [measured_author.seal(now) for _ in range(per_group)]
    timings["seal_s"] = round(time.perf_counter() - t0, 1)

    def rows() -> Iterator[tuple[Any, ...]]:
        for r in range(per_group):
            pid, envelope = measured_posts[r]
            yield (measured.group_id, pid, first_cursor + r, 0, measured.owner.sign_pk,
                   envelope, False, now, None)
            for gid, owner_pk, envelope in one_each:
                yield (gid, nacl.utils.random(16), 2 + r, 0, owner_pk, envelope, False, now,
                       None)

    t0 = time.perf_counter()
    bulk(db, "posts", rows())
    execute(db, "UPDATE groups SET event_seq = ? WHERE group_id = ?",
            (first_cursor + per_group - 1, measured.group_id))
    analyze(db)
    timings["posts_s"] = round(time.perf_counter() - t0, 1)
    return timings


def seed_one(db: Database, measured: Seeded, author: Author, count: int) -> int:
    """The measured group's first *count* posts (cursors 2..count+1); the next cursor."""
    now = int(time.time() * 1000)
    posts = [author.seal(now) for _ in range(count)]
    bulk(db, "posts", ((measured.group_id, pid, 2 + i, 0, measured.owner.sign_pk, envelope,
                        False, now, None) for i, (pid, envelope) in enumerate(posts)))
    execute(db, "UPDATE groups SET event_seq = ? WHERE group_id = ?",
            (count + 1, measured.group_id))
    analyze(db)
    return count + 2


# --- timing ------------------------------------------------------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def newest_page(address: str, s: Seeded, duration: float) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {s.token}"}
    path = f"/v1/groups/{s.gid}/posts?newest={PAGE}"
    medians, every = [], []
    with httpx.Client(base_url=address, headers=headers, timeout=60) as client:
        for _ in range(30):  # warm-up
            client.get(path)
        for _window in range(3):
            samples = []
            stop = time.perf_counter() + duration / 3
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text[:200]
                assert len(response.json()["posts"]) == PAGE
            medians.append(statistics.median(samples))
            every.extend(samples)
    return {"p50_ms": round(min(medians) * 1000, 3),
            "p99_ms": round(percentile(every, 0.99) * 1000, 3), "requests": len(every)}


def wakeups(address: str, s: Seeded, count: int, start_seq: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {s.token}"}
    base = f"/v1/groups/{s.gid}"
    uploads = envelopes(s, count + 3, start_seq)
    latencies: list[float] = []
    puts: list[float] = []  # the upload's own round trip, part of every wake-up
    with httpx.Client(base_url=address, headers=headers, timeout=60) as waiter, \
            httpx.Client(base_url=address, headers={**headers,
                         "Content-Type": "application/json"}, timeout=60) as poster:
        cursor = waiter.get(f"{base}/posts?newest=1").json()["cursor"]  # the newest event
        for i, (pid, body) in enumerate(uploads):
            woke: list[float] = []
            seen: list[Any] = []

            def wait(after: str = cursor, woke: list[float] = woke,
                     seen: list[Any] = seen) -> None:
                response = waiter.get(f"{base}/events?after={after}&timeout=10")
                woke.append(time.perf_counter())
                seen.append(response.json())

            thread = threading.Thread(target=wait)
            thread.start()
            time.sleep(0.1)  # the waiter is parked by now
            began = time.perf_counter()
            response = poster.put(f"{base}/posts/{pid}", content=body)
            put_done = time.perf_counter()
            assert response.status_code == 201, response.text[:200]
            thread.join()
            events = seen[0]["events"]
            assert events and events[-1]["post"]["post_id"] == pid, seen[0]
            cursor = seen[0]["cursor"]
            if i >= 3:  # the first three warm the connections and caches
                latencies.append(woke[0] - began)
                puts.append(put_done - began)
    return {"p50_ms": round(statistics.median(latencies) * 1000, 3),
            "p99_ms": round(percentile(latencies, 0.99) * 1000, 3), "samples": len(latencies),
            "upload_p50_ms": round(statistics.median(puts) * 1000, 3)}


def measure(db: Database, tmp: Path, s: Seeded, label: str, args: argparse.Namespace,
            threads: int, start_seq: int) -> dict[str, Any]:
    data = tmp / f"{db.name}-{label}-data"
    data.mkdir(exist_ok=True)
    relay = DefaultRelay(data, workers=args.workers, threads=threads, log_level="WARNING",
                         env={"VAULT_DATABASE_URL": db.url, "VAULT_AUTO_MIGRATE": "0",
                              "VAULT_RATE_LIMIT": UNREACHABLE_RATE,
                              "VAULT_RATE_BURST": UNREACHABLE_RATE})
    try:
        page = newest_page(relay.url, s, args.duration)
        wake = wakeups(relay.url, s, args.wakeups, start_seq)
    finally:
        relay.stop()
    return {"newest_page": page, "wakeup": wake}


def run_backend(db: Database, tmp: Path, args: argparse.Namespace, threads: int,
                table: list[str]) -> dict[str, Any]:
    print(f"\n== {db.name} ==", flush=True)
    measured = seed(db.url)
    author = Author(measured.owner, measured.group_id, measured.epoch_key, measured.head)
    per_group = max(PAGE, args.posts // args.groups)
    next_cursor = seed_one(db, measured, author, per_group)
    print(f"one group: {per_group} posts", flush=True)
    one = measure(db, tmp, measured, "one", args, threads, 10_000)
    next_cursor += args.wakeups + 3
    t0 = time.perf_counter()
    timings = seed_many(db, measured, author, args.groups, per_group, next_cursor)
    stored = args.groups * per_group + args.wakeups + 3
    print(f"{args.groups:,} groups, {stored:,} posts stored by bulk SQL in "
          f"{time.perf_counter() - t0:.1f} s {timings}", flush=True)
    many = measure(db, tmp, measured, "many", args, threads, 20_000)
    ratios = {
        "newest_p50": round(many["newest_page"]["p50_ms"] / one["newest_page"]["p50_ms"], 3),
        "newest_p99": round(many["newest_page"]["p99_ms"] / one["newest_page"]["p99_ms"], 3),
        "wakeup_p50": round(many["wakeup"]["p50_ms"] / one["wakeup"]["p50_ms"], 3),
        "wakeup_p99": round(many["wakeup"]["p99_ms"] / one["wakeup"]["p99_ms"], 3),
    }
    lines = []
    for key, what in (("newest_page", "newest page"), ("wakeup", "wake-up")):
        a, b = one[key], many[key]
        lines.append(
            f"{db.name:<10} {what:<11} p50 {b['p50_ms']:8.2f} ms with {args.groups:,} groups "
            f"/ {stored:,} posts vs {a['p50_ms']:8.2f} ms with one group -> x"
            f"{b['p50_ms'] / a['p50_ms']:.3f};  p99 {b['p99_ms']:8.2f} vs {a['p99_ms']:8.2f} "
            f"-> x{b['p99_ms'] / a['p99_ms']:.3f}")
    lines.append(f"{db.name:<10} (each wake-up includes its upload: upload p50 "
                 f"{many['wakeup']['upload_p50_ms']:.2f} ms with many groups vs "
                 f"{one['wakeup']['upload_p50_ms']:.2f} ms with one)")
    for line in lines:
        print(line, flush=True)
    table.extend(lines)
    return {"one_group": one, "many_groups": many, "ratios": ratios,
            "groups": args.groups, "posts": stored, "posts_per_group": per_group,
            "seeding_s": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="1,000 groups, 100,000 posts, shorter timings")
    parser.add_argument("--groups", type=int, default=None, help="default 10,000")
    parser.add_argument("--posts", type=int, default=None, help="default 1,000,000")
    parser.add_argument("--workers", type=int, default=1,
                        help="relay processes' workers (default 1: see the description)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of newest-page reads per phase (default 3)")
    parser.add_argument("--wakeups", type=int, default=None,
                        help="timed wake-ups per phase (default 40)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "VAULT_BENCH_POSTGRES_URL", os.environ.get("VAULT_TEST_POSTGRES_URL")))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    args.groups = args.groups or (1_000 if args.quick else 10_000)
    args.posts = args.posts or (100_000 if args.quick else 1_000_000)
    args.duration = args.duration or (1.5 if args.quick else 3.0)
    args.wakeups = args.wakeups or (15 if args.quick else 40)
    _workers, threads = cli_defaults()  # (threads: ignored under gevent workers)
    print(f"many-groups benchmark: {args.groups:,} groups, {args.posts:,} posts (bulk SQL, not "
          f"the API) vs one group; relay `vault relay serve` --workers {args.workers} "
          f"--threads {threads}; Python {platform.python_version()}; {os.cpu_count()} CPUs",
          flush=True)
    summary: dict[str, Any] = {"benchmark": "many_groups", "config": {
        "groups": args.groups, "posts": args.posts, "workers": args.workers,
        "threads": threads, "page": PAGE, "duration_s": args.duration,
        "wakeups": args.wakeups, "seeded_by": "bulk SQL", "cpus": os.cpu_count()}}
    table: list[str] = []
    each_database(args.only, args.postgres_url, "vault-groups-", summary,
                  lambda db, tmp: run_backend(db, tmp, args, threads, table))
    ratios = [summary[name]["ratios"] for name in ("sqlite", "postgresql") if summary.get(name)]
    summary["worst_ratio"] = max((v for r in ratios for v in r.values()), default=None)
    print("\n" + "\n".join(table))
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
