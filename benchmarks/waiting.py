"""Waiting benchmark (not a test): 10,000 members waiting for news on one relay, while posts and
newest-page reads go on (issue 14, item 1).

Run: ``python benchmarks/waiting.py [--quick] [--waiters N] [--groups G] [--sse-share F]
[--duration S] [--window S] [--only sqlite|postgresql] [--postgres-url URL]``. About 3 minutes
per backend with the defaults on 2 CPUs; ``--quick`` (1,000 waiters) about 1 minute.

For SQLite, then PostgreSQL (``--postgres-url``, default ``$VAULT_BENCH_POSTGRES_URL`` else
``$VAULT_TEST_POSTGRES_URL``; a schema ``vault_bench_<pid>`` made and dropped):

1. Seeding through the relay's API, in process (as ``benchmarks/relay.py``'s ``seed``): G
   groups (default 1,000), each with its owner's session; the first (the *measured* group)
   gets 50 posts. One relay, ``vault relay serve`` with its defaults (tests/relayproc.py
   without its test settings: ``benchmarks/ingest.py``'s ``DefaultRelay``; 2 gevent workers x
   10,000 connections, safety re-read every 2 s), rate limiting on with a limit never reached.
2. **Floor**: with nobody waiting, ``--duration`` seconds of two closed loops side by side,
   each one keep-alive connection: newest-page reads (``GET /posts?newest=50``) and uploads
   (``PUT /posts/<id>``, real ~0.7 KB envelopes) in the measured group: p50, p99.
3. **Waiters**: a separate process (asyncio, raw sockets, one connection per waiter) opens N
   waiters spread round-robin over the G groups (the group owner's session; one session per
   group serves all its waiters), at ``--rate`` per second. A share ``--sse-share`` (default
   0.5) are event streams (``GET /events/stream``), the others long-polls (``GET
   /events?after=<cursor>&timeout=25``, the SDK's timeout; the first one of each waiter with a
   random timeout of 1-25 s, so that re-issues are spread evenly as when members arrive over
   time), re-issued at once on the same connection when they return, as the SDK does. Every
   waiter's group gets news only from step 5's uploads (in the measured group, which has its
   share of waiters: each upload wakes them, as in a real group).
   *held* = streams that said ``stream open`` and are still open + long-polls sent and not
   answered; cross-checked with the TCP connections the relay's workers have accepted (from
   /proc), printed per worker.
4. **Database reads while waiting** (PostgreSQL): nothing is posted for ``--window`` seconds
   (after 11 s for PostgreSQL's statistics to flush): deltas of ``pg_stat_user_tables``
   (index + sequential scans, rows read) over the relay's schema only; also the long-polls
   that returned by timeout and were re-issued in the window (each re-issue reads the session,
   and the group's counter unless the process is sure nothing is new: see
   ``vault.api.news.Watch.nothing_beyond``) and the safety re-read's expected queries
   (processes x window / 2 s x ceil(groups / 500)). ``scans_per_waiter_s`` = scans / (held x
   window); ``scans_per_restart`` = (scans - expected re-reads) / re-issues;
   ``unexplained_scans`` = scans - re-issues x scans per long-poll start - expected re-reads:
   the reads waiting itself costs (target: about 0; below 0 when re-issues cost less than a
   first long-poll). The scans per long-poll start are measured before the waiters come: 200
   long-polls at once (``timeout=1``, in 200 groups nobody waits for, so each reads the
   counter), their scans less the expected re-reads, / 200. Also the relay's CPU (cores, from
   /proc) in the window. SQLite keeps no such statistics: null.
5. **With waiters**: step 2 again while they wait; held counted before and after; relay RSS
   (master + workers, from /proc) with the waiters held. Then the waiters leave and the floor
   runs once more: the floor is the better (lower p99) of the two floor runs.

Targets (issue 14): reads and uploads p99 <= 100 ms with 10,000 waiting; no database reads per
waiter. The last output line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing as mp
import os
import platform
import resource
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import (  # noqa: E402
    UNREACHABLE_RATE,
    DefaultRelay,
    cli_defaults,
    cpu_seconds,
    rss_mb,
)
from relay import (  # noqa: E402
    Database,
    Seeded,
    each_database,
    envelopes,
)
from waitload import POLL_TIMEOUT, accepted, run_waiters  # noqa: E402

from vault.crypto.auth import sign_member_challenge  # noqa: E402
from vault.crypto.encoding import b64decode, b64encode  # noqa: E402
from vault.crypto.epochs import new_epoch_key  # noqa: E402
from vault.crypto.identity import Identity  # noqa: E402
from vault.crypto.log import create_group, group_id_of  # noqa: E402
from vault.crypto.log_verify import genesis_state  # noqa: E402

PAGE = 50
REREAD_S = 2.0  # VAULT_EVENTS_POLL_MS's default
REREAD_BATCH = 500
STATS_FLUSH_S = 11.0  # PostgreSQL 15 flushes an idle backend's statistics within 10 s


# --- seeding (in process, through the relay's API) ---------------------------------------


def seed_groups(url: str, count: int) -> tuple[list[Seeded], list[str]]:
    """*count* groups with their owner's session, 50 posts in the first; and each group's
    cursor (its newest event)."""
    from vault.api import create_app, upgrade_database
    from vault.api.db import db

    config = {"VAULT_DATABASE_URL": url, "VAULT_RATE_LIMIT": 0,
              "VAULT_RATE_LIMIT_EXPENSIVE": 0, "VAULT_LOG_LEVEL": "WARNING"}
    upgrade_database(config)
    app = create_app(config)
    client = app.test_client()
    groups, cursors = [], []
    for _ in range(count):
        owner, epoch_key = Identity.generate(), new_epoch_key()
        genesis = create_group(owner, epoch_key)
        group_id = group_id_of(genesis)
        gid, member = b64encode(group_id), b64encode(owner.sign_pk)
        assert client.post("/v1/groups", json={"genesis": b64encode(genesis.raw)}
                           ).status_code == 201
        answer = client.post(f"/v1/groups/{gid}/auth/challenge", json={"member": member})
        challenge = b64decode(answer.get_json()["challenge"])
        answer = client.post(f"/v1/groups/{gid}/auth/session", json={
            "member": member, "challenge": b64encode(challenge),
            "signature": b64encode(sign_member_challenge(owner, group_id, challenge))})
        token = answer.get_json()["token"]
        head = genesis_state(genesis, group_id).head
        groups.append(Seeded(gid, group_id, token, owner, epoch_key, head))
    auth = {"Authorization": f"Bearer {groups[0].token}", "Content-Type": "application/json"}
    for pid, body in envelopes(groups[0], PAGE, 1):
        assert client.put(f"/v1/groups/{groups[0].gid}/posts/{pid}", data=body,
                          headers=auth).status_code == 201
    for s in groups:
        answer = client.get(f"/v1/groups/{s.gid}/events?timeout=0",
                            headers={"Authorization": f"Bearer {s.token}"})
        cursors.append(answer.get_json()["cursor"])
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    return groups, cursors


# --- the measuring driver and the database's statistics ----------------------------------


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))] if ordered else math.nan


def drive(address: str, s: Seeded, uploads: list[tuple[str, bytes]],
          duration: float) -> dict[str, Any]:
    """Newest-page reads and uploads, two closed loops side by side for *duration* s."""
    auth = {"Authorization": f"Bearer {s.token}", "Content-Type": "application/json"}
    base = f"/v1/groups/{s.gid}"
    samples: dict[str, list[float]] = {"read": [], "upload": []}
    errors = {"read": 0, "upload": 0}
    stop_at = time.perf_counter() + duration

    def loop(op: str) -> None:
        todo = iter(uploads)
        with httpx.Client(base_url=address, headers=auth, timeout=60) as client:
            client.get("/v1/health")
            while time.perf_counter() < stop_at:
                began = time.perf_counter()
                if op == "read":
                    response = client.get(f"{base}/posts?newest={PAGE}")
                else:
                    item = next(todo, None)
                    if item is None:
                        break
                    response = client.put(f"{base}/posts/{item[0]}", content=item[1])
                samples[op].append(time.perf_counter() - began)
                errors[op] += response.status_code >= 300

    threads = [threading.Thread(target=loop, args=(op,)) for op in samples]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return {op: {"requests": len(v), "p50_ms": round(percentile(v, 0.5) * 1000, 2),
                 "p99_ms": round(percentile(v, 0.99) * 1000, 2), "errors": errors[op]}
            for op, v in samples.items()}


def scans(db: Database) -> dict[str, int] | None:
    """Reads of the relay's tables so far (PostgreSQL's statistics; None on SQLite)."""
    if db.name != "postgresql":
        return None
    import psycopg

    url = db.url.split("?", 1)[0].replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT coalesce(sum(seq_scan + coalesce(idx_scan, 0)), 0),"
            " coalesce(sum(seq_tup_read + coalesce(idx_tup_fetch, 0)), 0)"
            " FROM pg_stat_user_tables WHERE schemaname = %s",
            (f"vault_bench_{os.getpid()}",)).fetchone()
    assert row is not None
    return {"scans": int(row[0]), "rows": int(row[1])}


def calibrate(db: Database, url: str, groups: list[Seeded], cursors: list[str],
              count: int = 200) -> float | None:
    """Scans one long-poll's start costs (it then times out after 1 s, reading nothing more,
    if waiting is free): *count* at once on as many groups, minus the expected re-reads."""
    count = min(count, len(groups) - 1)
    if db.name != "postgresql" or count < 1:
        return None

    async def polls() -> None:
        async with httpx.AsyncClient(base_url=url, timeout=30, limits=httpx.Limits(
                max_connections=count)) as client:
            answers = await asyncio.gather(*(
                client.get(f"/v1/groups/{s.gid}/events", params={"after": c, "timeout": 1},
                           headers={"Authorization": f"Bearer {s.token}"})
                for s, c in zip(groups[1:count + 1], cursors[1:count + 1], strict=True)))
            assert all(a.status_code == 200 for a in answers)

    time.sleep(STATS_FLUSH_S)
    before, began = scans(db), time.perf_counter()
    asyncio.run(polls())
    time.sleep(STATS_FLUSH_S)
    spent = delta(scans(db), before)
    assert spent is not None
    rereads = 2 * (time.perf_counter() - began) / REREAD_S
    return (spent["scans"] - rereads) / count


def delta(after: dict[str, int] | None, before: dict[str, int] | None) -> dict[str, int] | None:
    return None if after is None or before is None else {k: after[k] - before[k] for k in after}


# --- one backend ----------------------------------------------------------------------------


def run_backend(db: Database, tmp: Path, args: argparse.Namespace, threads: int,
                table: list[str]) -> dict[str, Any]:
    print(f"\n== {db.name} ==", flush=True)
    t0 = time.perf_counter()
    groups, cursors = seed_groups(db.url, args.groups)
    print(f"seeded {args.groups:,} groups through the API in {time.perf_counter() - t0:.1f} s",
          flush=True)
    measured = groups[0]
    pool = envelopes(measured, 3 * 4000, PAGE + 1)
    data = tmp / f"{db.name}-data"
    data.mkdir()
    relay = DefaultRelay(data, workers=2, threads=threads, log_level="WARNING", env={
        "VAULT_DATABASE_URL": db.url, "VAULT_AUTO_MIGRATE": "0",
        "VAULT_RATE_LIMIT": UNREACHABLE_RATE, "VAULT_RATE_BURST": UNREACHABLE_RATE})
    assert relay.proc is not None
    root = relay.proc.pid
    out: dict[str, Any] = {"groups": args.groups, "waiters": args.waiters}
    pipe, child = mp.get_context("fork").Pipe()
    proc = None
    try:
        out["floor_before"] = drive(relay.url, measured, pool[:4000], args.duration)
        out["rss_mb_idle"] = round(rss_mb(root), 1)
        cursors[0] = httpx.get(f"{relay.url}/v1/groups/{measured.gid}/posts?newest=1",
                               headers={"Authorization": f"Bearer {measured.token}"},
                               timeout=30).json()["cursor"]  # past the floor's uploads
        per_start = calibrate(db, relay.url, groups, cursors)
        plan = [(groups[i % len(groups)].gid, groups[i % len(groups)].token,
                 cursors[i % len(groups)],  # the j-th waiter of each group: share streams
                 int((i // len(groups) + 1) * args.sse_share) > int(i // len(groups)
                                                                   * args.sse_share))
                for i in range(args.waiters)]
        proc = mp.get_context("fork").Process(target=run_waiters,
                                              args=(relay.port, plan, args.rate, child))
        proc.start()
        t0 = time.perf_counter()
        deadline = t0 + args.waiters / args.rate + 60
        while time.perf_counter() < deadline:
            time.sleep(1)
            pipe.send("status")
            status = pipe.recv()
            if status["held"] >= args.waiters:
                break
        out["connect_s"] = round(time.perf_counter() - t0, 1)
        print(f"waiters: {status['held']:,} held after {out['connect_s']} s {status}",
              flush=True)
        time.sleep(STATS_FLUSH_S if db.name == "postgresql" else 1)
        pipe.send("status")
        start_status, start_scans, cpu0 = pipe.recv(), scans(db), cpu_seconds(root)
        time.sleep(args.window)
        pipe.send("status")
        end_status, end_scans, cpu1 = pipe.recv(), scans(db), cpu_seconds(root)
        out["relay_cpu_share_while_waiting"] = round((cpu1 - cpu0) / args.window, 3)
        held = end_status["held"]
        quiet = delta(end_scans, start_scans)
        reissued = end_status["poll_sent"] - start_status["poll_sent"] + \
            end_status["stream_opens"] - start_status["stream_opens"]
        rereads = 2 * args.window / REREAD_S * math.ceil(args.groups / REREAD_BATCH)
        out["database_while_waiting"] = None if quiet is None or per_start is None else {
            "window_s": args.window, "held": held, **quiet,
            "scans_per_s": round(quiet["scans"] / args.window, 1),
            "scans_per_waiter_s": round(quiet["scans"] / max(1, held) / args.window, 5),
            "requests_started_in_window": reissued,
            "scans_per_long_poll_start": round(per_start, 2),
            "scans_per_restart": round((quiet["scans"] - rereads) / max(1, reissued), 2),
            "expected_reread_queries": rereads,
            "unexplained_scans": round(quiet["scans"] - reissued * per_start - rereads, 1)}
        print(f"{db.name}: database while {held:,} wait and nothing is posted: "
              f"{out['database_while_waiting']}", flush=True)
        pipe.send("status")
        out["held_before_load"] = pipe.recv()["held"]
        out["accepted_per_worker"] = list(accepted(root, relay.port).values())
        cpu0 = cpu_seconds(root)
        out["with_waiters"] = drive(relay.url, measured, pool[4000:8000], args.duration)
        out["relay_cpu_share_under_load"] = round((cpu_seconds(root) - cpu0) / args.duration, 3)
        out["rss_mb_with_waiters"] = round(rss_mb(root), 1)
        pipe.send("status")
        out["waiters_status"] = pipe.recv()
        out["held_after_load"] = out["waiters_status"]["held"]
        pipe.send("stop")
        pipe.recv()
        proc.join(30)
        time.sleep(1)
        out["floor_after"] = drive(relay.url, measured, pool[8000:], args.duration)
    finally:
        if proc is not None and proc.is_alive():
            proc.kill()
            proc.join()
        relay.stop()
    floors = (out["floor_before"], out["floor_after"])
    floor = {op: min((f[op] for f in floors), key=lambda r: r["p99_ms"])
             for op in ("read", "upload")}
    out["floor"] = floor
    lines = [f"{db.name:<10} held {out['held_before_load']:,} / {out['held_after_load']:,} "
             f"(before/after the load; relay workers' accepted connections "
             f"{out['accepted_per_worker']}); relay RSS {out['rss_mb_with_waiters']} MB "
             f"(idle {out['rss_mb_idle']} MB); relay CPU (cores) "
             f"{out['relay_cpu_share_while_waiting']} while waiting, "
             f"{out['relay_cpu_share_under_load']} under the load"]
    for op, what in (("read", "newest page"), ("upload", "upload")):
        a, b = floor[op], out["with_waiters"][op]
        lines.append(f"{db.name:<10} {what:<11} p50 {b['p50_ms']:7.2f} ms, p99 {b['p99_ms']:7.2f}"
                     f" ms with {out['held_before_load']:,} waiting vs floor (0 waiting) p50 "
                     f"{a['p50_ms']:7.2f}, p99 {a['p99_ms']:7.2f}  ({b['requests']} vs "
                     f"{a['requests']} requests, errors {b['errors']})")
    dbw = out["database_while_waiting"]
    if dbw:
        lines.append(f"{db.name:<10} database scans while waiting: {dbw['scans_per_s']}/s = "
                     f"{dbw['scans_per_waiter_s']} per waiter per s; "
                     f"{dbw['requests_started_in_window']} requests (re)started, "
                     f"{dbw['scans_per_restart']} scans each (a first long-poll: "
                     f"{dbw['scans_per_long_poll_start']}) + {dbw['expected_reread_queries']} "
                     f"re-reads expected; unexplained {dbw['unexplained_scans']}")
    for line in lines:
        print(line, flush=True)
    table.extend(lines)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1,000 waiters, shorter timings")
    parser.add_argument("--waiters", type=int, default=None, help="default 10,000")
    parser.add_argument("--groups", type=int, default=None, help="default waiters / 10")
    parser.add_argument("--sse-share", type=float, default=0.5,
                        help="share of waiters on event streams (default 0.5)")
    parser.add_argument("--rate", type=float, default=500.0,
                        help="waiters connected per second (default 500)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of reads and uploads per phase (default 10)")
    parser.add_argument("--window", type=float, default=None,
                        help="seconds of the database-reads window (default 20)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "VAULT_BENCH_POSTGRES_URL", os.environ.get("VAULT_TEST_POSTGRES_URL")))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    args.waiters = args.waiters or (1_000 if args.quick else 10_000)
    args.groups = args.groups or max(1, args.waiters // 10)
    args.duration = args.duration or (4.0 if args.quick else 10.0)
    args.window = args.window or (10.0 if args.quick else 20.0)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < args.waiters + 500:
        sys.exit(f"the hard limit on open files ({hard}) is below {args.waiters + 500}")
    _workers, threads = cli_defaults()
    print(f"waiting benchmark: {args.waiters:,} waiters ({args.sse_share:.0%} event streams) over "
          f"{args.groups:,} groups on one `vault relay serve` (defaults); open files soft/hard "
          f"{soft}/{hard}; Python {platform.python_version()}; {os.cpu_count()} CPUs; load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    summary: dict[str, Any] = {"benchmark": "waiting", "config": {
        "waiters": args.waiters, "groups": args.groups, "sse_share": args.sse_share,
        "poll_timeout_s": POLL_TIMEOUT, "duration_s": args.duration, "window_s": args.window,
        "rate": args.rate, "cpus": os.cpu_count(), "load": os.getloadavg()[0]}}
    table: list[str] = []
    each_database(args.only, args.postgres_url, "vault-waiting-", summary,
                  lambda db, tmp: run_backend(db, tmp, args, threads, table))
    p99s = [summary[n]["with_waiters"][op]["p99_ms"] for n in ("sqlite", "postgresql")
            if summary.get(n) for op in ("read", "upload")]
    summary["worst_p99_ms_with_waiters"] = max(p99s, default=None)
    print("\n" + "\n".join(table))
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
