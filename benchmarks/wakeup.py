"""Wake-up benchmark (not a test): a post uploaded through one relay process wakes a member
waiting on ANOTHER process (issue 14, item 2).

Run: ``python benchmarks/wakeup.py [--posts N] [--only sqlite|postgresql] [--postgres-url URL]``.
About 2 minutes with the defaults on 2 CPUs.

Scenarios (each: a fresh database, one group and its owner's session made through the relay's
API in process, ``benchmarks/relay.py``'s ``seed``):

* ``postgresql_2`` / ``postgresql_4``: two / four relay processes on one PostgreSQL
  (``--postgres-url``, default ``$VAULT_BENCH_POSTGRES_URL`` else ``$VAULT_TEST_POSTGRES_URL``;
  a schema ``vault_bench_<pid>`` made and dropped): LISTEN/NOTIFY carries the news;
* ``sqlite_2``: two relay processes on ONE SQLite file (Unix datagrams carry the news). This
  is the same cross-process mechanism as one relay with ``--workers 2`` (two gunicorn workers
  are two processes on one file), but here the process behind each connection is known,
  which one port with two workers does not let a client choose.

Every relay process is ``vault relay serve --workers 1`` with the defaults otherwise
(``benchmarks/ingest.py``'s ``DefaultRelay``: tests/relayproc.py without its test settings;
the safety re-read every 2 s, rate limiting on with a limit never reached), so each process
is one gevent worker.

On every process, one member waits by long-poll (``GET /events?after=<cursor>&timeout=25``,
re-issued after each answer) and one by an event stream (``GET /events/stream``, open all
along). For each of ``--posts`` posts (after 5 warm-up posts), 0.1 s after the long-polls were
sent, a post is uploaded through process ``i mod P`` (real ~0.7 KB envelope). Latency = from
sending the upload to a waiter receiving the event (the long-poll's answer; the stream's frame
whose ``id`` is the post's cursor), on one event loop (httpx.AsyncClient). A long-poll whose
connection fails is retried at once, as the SDK does, and counted (``long_polls_retried``).
The waiters on the other processes give the **cross-process** figures; the waiter on the
uploading process, in the same round, gives the **floor** (same process); the upload's own
round trip is printed beside them (every wake-up includes it, up to the relay's commit).

Targets (issue 14): cross-process p50 <= 30 ms, p99 <= 100 ms. The last output line is one
JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import UNREACHABLE_RATE, DefaultRelay, cli_defaults  # noqa: E402
from relay import Database, Seeded, envelopes, postgres_database, seed, sqlite_database  # noqa: E402

WARM = 5
POLL_TIMEOUT = 25  # the SDK's Client.wait default
PARK_S = 0.1  # from sending the long-polls to the upload: they are waiting by then


def percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(len(ordered) * q))]


def figures(samples: list[float]) -> dict[str, Any]:
    return {"p50_ms": round(percentile(samples, 0.5) * 1000, 2),
            "p99_ms": round(percentile(samples, 0.99) * 1000, 2),
            "max_ms": round(max(samples) * 1000, 2), "samples": len(samples)}


class Stream:
    """One member's event stream on one process: when each event id arrived."""

    def __init__(self, client: httpx.AsyncClient, path: str, cursor: str) -> None:
        self.arrived: dict[str, float] = {}
        self.open = asyncio.Event()
        self.task = asyncio.ensure_future(self._read(client, path, cursor))

    async def _read(self, client: httpx.AsyncClient, path: str, cursor: str) -> None:
        async with client.stream("GET", path, params={"after": cursor},
                                 headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200, response.status_code
            async for line in response.aiter_lines():
                if line == ": stream open":
                    self.open.set()
                elif line.startswith("id: "):
                    self.arrived[line[4:]] = time.perf_counter()

    async def wait_for(self, event_id: str, timeout: float = 10.0) -> float:
        deadline = time.perf_counter() + timeout
        while event_id not in self.arrived:
            if self.task.done() or time.perf_counter() > deadline:
                raise RuntimeError(f"the stream never received event {event_id}")
            await asyncio.sleep(0.002)
        return self.arrived[event_id]


async def long_poll(client: httpx.AsyncClient, path: str, cursor: str,
                    retried: list[str]) -> tuple[float, Any]:
    """One long-poll, retried (as the SDK does) when the connection fails; failures are
    counted in *retried* (the post may then be found at once by the retry)."""
    for attempt in range(3):
        try:
            response = await client.get(path, params={"after": cursor, "timeout": POLL_TIMEOUT})
            break
        except httpx.TransportError as error:
            retried.append(type(error).__name__)
            if attempt == 2:
                raise
    received = time.perf_counter()
    assert response.status_code == 200, response.text[:200]
    return received, response.json()


async def measure(urls: list[str], s: Seeded, posts: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {s.token}"}
    base = f"/v1/groups/{s.gid}"
    uploads = envelopes(s, posts + WARM, 1)
    limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
    clients = [httpx.AsyncClient(base_url=url, headers=headers, timeout=60, limits=limits)
               for url in urls]
    samples: dict[str, list[float]] = {
        key: [] for key in ("cross_long_poll", "cross_stream", "same_long_poll", "same_stream",
                            "upload")}
    retried: list[str] = []
    try:
        cursor = (await clients[0].get(f"{base}/events", params={"timeout": 0})).json()["cursor"]
        streams = [Stream(c, f"{base}/events/stream", cursor) for c in clients]
        for stream in streams:
            await asyncio.wait_for(stream.open.wait(), 30)
        for i, (pid, body) in enumerate(uploads):
            poster = i % len(clients)
            polls = [asyncio.ensure_future(long_poll(c, f"{base}/events", cursor, retried))
                     for c in clients]
            await asyncio.sleep(PARK_S)
            began = time.perf_counter()
            response = await clients[poster].put(f"{base}/posts/{pid}", content=body,
                                                 headers={"Content-Type": "application/json"})
            uploaded = time.perf_counter()
            assert response.status_code == 201, response.text[:200]
            cursor = response.json()["cursor"]
            answers = await asyncio.gather(*polls)
            arrivals = [await stream.wait_for(cursor) for stream in streams]
            for _received, answer in answers:
                posted = [e["post"]["post_id"] for e in answer["events"] if e["type"] == "post"]
                assert posted == [pid], (posted, pid)
            if i < WARM:
                continue
            samples["upload"].append(uploaded - began)
            for process, ((received, _answer), arrived) in enumerate(zip(answers, arrivals,
                                                                         strict=True)):
                where = "same" if process == poster else "cross"
                samples[f"{where}_long_poll"].append(received - began)
                samples[f"{where}_stream"].append(arrived - began)
        for stream in streams:
            stream.task.cancel()
        await asyncio.gather(*(stream.task for stream in streams), return_exceptions=True)
    finally:
        for client in clients:
            await client.aclose()
    return {**{key: figures(values) for key, values in samples.items()},
            "long_polls_retried": retried}


def run_scenario(name: str, db: Database, tmp: Path, processes: int, posts: int,
                 threads: int) -> dict[str, Any]:
    print(f"\n== {name}: {processes} relay processes on one {db.name} database ==", flush=True)
    s = seed(db.url)
    relays: list[DefaultRelay] = []
    try:
        for n in range(processes):
            data = tmp / f"{name}-{n}"
            data.mkdir()
            relays.append(DefaultRelay(data, workers=1, threads=threads, log_level="WARNING",
                                       env={"VAULT_DATABASE_URL": db.url,
                                            "VAULT_AUTO_MIGRATE": "0",
                                            "VAULT_RATE_LIMIT": UNREACHABLE_RATE,
                                            "VAULT_RATE_BURST": UNREACHABLE_RATE}))
        result = asyncio.run(measure([r.url for r in relays], s, posts))
    finally:
        for relay in relays:
            relay.stop()
    result["processes"] = processes
    for kind in ("long_poll", "stream"):
        cross, same = result[f"cross_{kind}"], result[f"same_{kind}"]
        print(f"{name:<13} {kind:<9} other process p50 {cross['p50_ms']:7.2f} ms p99 "
              f"{cross['p99_ms']:7.2f} ms (n={cross['samples']})  vs same process p50 "
              f"{same['p50_ms']:7.2f} ms p99 {same['p99_ms']:7.2f} ms (n={same['samples']})",
              flush=True)
    upload = result["upload"]
    if result["long_polls_retried"]:
        print(f"{name:<13} long-polls retried after a transport error: "
              f"{result['long_polls_retried']}", flush=True)
    print(f"{name:<13} upload    p50 {upload['p50_ms']:7.2f} ms p99 {upload['p99_ms']:7.2f} ms "
          f"(the upload's own round trip, inside every wake-up)", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--posts", type=int, default=200, help="timed posts per scenario")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "VAULT_BENCH_POSTGRES_URL", os.environ.get("VAULT_TEST_POSTGRES_URL")))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    _workers, threads = cli_defaults()
    print(f"wake-up benchmark: {args.posts} posts per scenario; `vault relay serve --workers 1` "
          f"per process; Python {platform.python_version()}; {os.cpu_count()} CPUs; load "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    summary: dict[str, Any] = {"benchmark": "wakeup", "config": {
        "posts": args.posts, "warm_up": WARM, "park_s": PARK_S, "poll_timeout_s": POLL_TIMEOUT,
        "workers_per_process": 1, "cpus": os.cpu_count(), "load": os.getloadavg()[0]}}
    tmp = Path(tempfile.mkdtemp(prefix="vault-wakeup-"))
    try:
        if args.only in (None, "postgresql"):
            if not args.postgres_url:
                print("\n(no PostgreSQL URL: set VAULT_BENCH_POSTGRES_URL; skipping)")
            for processes in (2, 4) if args.postgres_url else ():
                db = postgres_database(args.postgres_url)
                try:
                    summary[f"postgresql_{processes}"] = run_scenario(
                        f"postgresql_{processes}", db, tmp, processes, args.posts, threads)
                finally:
                    db.cleanup()
        if args.only in (None, "sqlite"):
            (tmp / "sqlite").mkdir()
            summary["sqlite_2"] = run_scenario("sqlite_2", sqlite_database(tmp / "sqlite"), tmp,
                                               2, args.posts, threads)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    scenarios = [v for k, v in summary.items() if k != "config" and k != "benchmark"]
    crosses = [v[f"cross_{kind}"] for v in scenarios for kind in ("long_poll", "stream")]
    summary["worst_cross_p50_ms"] = max((c["p50_ms"] for c in crosses), default=None)
    summary["worst_cross_p99_ms"] = max((c["p99_ms"] for c in crosses), default=None)
    summary["targets_met"] = bool(crosses) and summary["worst_cross_p50_ms"] <= 30 \
        and summary["worst_cross_p99_ms"] <= 100
    print(f"\nworst other-process wake-up: p50 {summary['worst_cross_p50_ms']} ms, p99 "
          f"{summary['worst_cross_p99_ms']} ms (targets 30 / 100 ms)")
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
