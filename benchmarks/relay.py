"""Relay benchmark (not a test): the relay under gunicorn against a bare Flask floor.

Run: ``python benchmarks/relay.py [--scale] [--duration S] [--rounds N] [--postgres-url URL]
[--only sqlite|postgresql]``. About 4 minutes with ``--scale`` on 2 CPUs.

What it does, for SQLite and then PostgreSQL:

1. A fresh database: SQLite, a file in a temporary directory; PostgreSQL, a dedicated schema
   ``vault_bench_<pid>`` in the database of ``--postgres-url`` (default
   ``$VAULT_BENCH_POSTGRES_URL``, else ``$VAULT_TEST_POSTGRES_URL``), dropped at the end.
   The relay's migrations create its tables; the floor's table is created beside them.
2. A group is created and an owner session opened through the relay's own API (in process).
3. Two servers under the same gunicorn settings on 127.0.0.1 (each on a free port):
   ``--worker-class gthread --workers 2 --threads 8`` (and no control socket):
   * the relay, ``vault.api:create_app()``, with its production defaults except rate
     limiting, which is switched off (it would throttle the single load-generating address);
   * the floor, ``benchmarks/bare_app.py``: parse JSON, decode, one INSERT + commit, or one
     SELECT of the newest page, as JSON (see that file).
4. Load: for each operation and concurrency (16 and 64), ``--duration`` seconds (after a
   short warm-up) of closed-loop requests from 2 client processes, each with half of the
   threads, each thread with its own keep-alive ``httpx.Client``:
   * ``upload``: PUT a new post (a real sealed envelope, ~0.7 KB; the floor stores the same
     bytes under a new id);
   * ``read``: GET the newest page (50 posts).
   Both servers run side by side and are measured in interleaved rounds (``--rounds``,
   default 2: relay, floor, relay, floor...); each app's best run per (operation,
   concurrency) is kept, so both get the same share of a machine other work may be using.
   Printed: requests/s, p50 and p99 latency, errors, and the servers' CPU time per request
   (all gunicorn processes, from /proc), which does not depend on the client's share of the
   machine.
5. Read growth: a second group is filled with 10,000 posts by bulk SQL (not HTTP: SQLite
   executemany, PostgreSQL COPY, then ANALYZE), the newest page is timed through a fresh
   relay server (one client, back-to-back requests, 3 s: the lowest median of three 1-s
   windows), then the group is grown to 1,000,000 posts (``--scale``) and timed again.
   ``read_growth`` = that p50 at 1M ÷ at 10k. Also printed: 16 concurrent readers' req/s.

The last output line is one JSON object. Keys (nested objects; "a.b" means obj["a"]["b"]):
``sqlite.throughput_ratio`` / ``postgresql.throughput_ratio``: relay ÷ floor requests/s, the
*lowest* over the four (operation, concurrency) pairs (higher is better; target ≥ 0.7);
``<backend>.ratios.<op>_c<N>``: each pair; ``<backend>.cpu_ratios``: floor ÷ relay server
CPU per request (higher is better); ``<backend>.relay|bare.<op>_c<N>``: the raw figures;
``<backend>.read_growth_10k_to_1m`` and the top-level ``read_growth_10k_to_1m`` (the larger of
the two backends; lower is better; target ≤ 1.2; null without ``--scale``).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import multiprocessing as mp
import os
import platform
import re
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import nacl.utils

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vault.crypto.auth import sign_member_challenge  # noqa: E402
from vault.crypto.encoding import b64decode, b64encode  # noqa: E402
from vault.crypto.epochs import new_epoch_key  # noqa: E402
from vault.crypto.identity import Identity  # noqa: E402
from vault.crypto.log import create_group, group_id_of  # noqa: E402
from vault.crypto.log_verify import genesis_state  # noqa: E402
from vault.crypto.post_body import PostBody, PostKind  # noqa: E402
from vault.crypto.posts import seal_post  # noqa: E402

WORKERS, THREADS = 2, 8
CONCURRENCY = (16, 64)
CLIENT_PROCESSES = 2
PAGE = 50
TEXT = "x" * 200  # a short post: its envelope is ~0.7 KB (the 512-byte bucket)
CLK_TCK = os.sysconf("SC_CLK_TCK")
# gunicorn >= 25 opens a control socket at one path per user: two servers side by side would
# share it, so it is switched off where it exists.
NO_CONTROL_SOCKET = (
    ["--no-control-socket"] if "--no-control-socket" in subprocess.run(
        [sys.executable, "-m", "gunicorn", "--help"], capture_output=True, text=True,
        check=False).stdout else []
)


# --- databases -------------------------------------------------------------------------


@dataclass
class Database:
    name: str
    url: str  # SQLAlchemy URL (both apps)
    cleanup: Callable[[], None]


def sqlite_database(tmp: Path) -> Database:
    path = tmp / "bench.db"
    return Database("sqlite", f"sqlite:///{path}", lambda: None)


def postgres_database(base_url: str) -> Database:
    import sqlalchemy as sa

    schema = f"vault_bench_{os.getpid()}"
    base = base_url.replace("postgresql://", "postgresql+psycopg://", 1)
    admin = sa.create_engine(base)
    with admin.begin() as conn:
        conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    option = quote(f"-csearch_path={schema}")
    url = f"{base}{'&' if '?' in base else '?'}options={option}"

    def cleanup() -> None:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()

    return Database("postgresql", url, cleanup)


def each_database(only: str | None, postgres_url: str | None, prefix: str,
                  summary: dict[str, Any], run: Callable[[Database, Path], Any]) -> None:
    """*run* on SQLite, then on PostgreSQL (as ``--only`` allows), each a fresh database with
    a temporary folder beside it; its answer goes to ``summary[<backend>]``. Without a
    PostgreSQL URL that backend is skipped and recorded as None."""
    tmp = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        backends: list[Callable[[], Database]] = []
        if only in (None, "sqlite"):
            backends.append(lambda: sqlite_database(tmp))
        if only in (None, "postgresql"):
            if postgres_url:
                backends.append(lambda: postgres_database(postgres_url))
            else:
                print("\n(no PostgreSQL URL: set VAULT_BENCH_POSTGRES_URL; skipping)")
                summary["postgresql"] = None
        for make in backends:
            db = make()
            try:
                summary[db.name] = run(db, tmp)
            finally:
                db.cleanup()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


# --- the group, its session and its posts ----------------------------------------------


@dataclass
class Seeded:
    gid: str
    group_id: bytes
    token: str
    owner: Identity
    epoch_key: bytes
    head: bytes


def seed(url: str) -> Seeded:
    """Migrate, create a group and open the owner's session through the relay's API."""
    from vault.api import create_app, upgrade_database
    from vault.api.db import db

    config = {"VAULT_DATABASE_URL": url, "VAULT_RATE_LIMIT": 0,
              "VAULT_RATE_LIMIT_EXPENSIVE": 0, "VAULT_LOG_LEVEL": "WARNING"}
    upgrade_database(config)
    app = create_app(config)
    client = app.test_client()
    owner, epoch_key = Identity.generate(), new_epoch_key()
    genesis = create_group(owner, epoch_key)
    group_id = group_id_of(genesis)
    response = client.post("/v1/groups", json={"genesis": b64encode(genesis.raw)})
    assert response.status_code == 201, response.get_json()
    gid = b64encode(group_id)
    member = b64encode(owner.sign_pk)
    response = client.post(f"/v1/groups/{gid}/auth/challenge", json={"member": member})
    challenge = b64decode(response.get_json()["challenge"])
    signature = sign_member_challenge(owner, group_id, challenge)
    response = client.post(f"/v1/groups/{gid}/auth/session", json={
        "member": member, "challenge": b64encode(challenge), "signature": b64encode(signature)})
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["token"]
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    state = genesis_state(genesis, group_id)
    return Seeded(gid, group_id, token, owner, epoch_key, state.head)


def envelopes(s: Seeded, count: int, start_seq: int) -> list[tuple[str, bytes]]:
    """(post id b64, JSON request body) for *count* new posts by the owner."""
    out = []
    now = int(time.time() * 1000)
    for i in range(count):
        post_id = nacl.utils.random(16)
        body = PostBody(author=s.owner.sign_pk, group_id=s.group_id, epoch=0, post_id=post_id,
                        author_seq=start_seq + i, log_seq=0, log_head=s.head,
                        timestamp_ms=now, kind=PostKind.POST, text=TEXT)
        envelope = seal_post(s.owner, s.epoch_key, body).encode()
        out.append((b64encode(post_id),
                    json.dumps({"envelope": b64encode(envelope)}).encode()))
    return out


def create_bare_table(url: str) -> None:
    import sqlalchemy as sa

    sys.path.insert(0, str(ROOT / "benchmarks"))
    from bare_app import db as bare_db

    engine = sa.create_engine(url)
    bare_db.metadata.create_all(engine)
    engine.dispose()


# --- servers ---------------------------------------------------------------------------


class Server:
    """gunicorn on 127.0.0.1 with a free port (gthread, WORKERS x THREADS)."""

    def __init__(self, app: str, env: dict[str, str], log: Path, cwd: Path) -> None:
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "--worker-class", "gthread",
             "--workers", str(WORKERS), "--threads", str(THREADS), "--bind", "127.0.0.1:0",
             "--timeout", "60", "--log-level", "info", *NO_CONTROL_SOCKET, app],
            cwd=cwd, env={**os.environ, **env}, stdout=self.handle, stderr=subprocess.STDOUT,
        )
        self.address = self._wait_address()

    def _wait_address(self) -> str:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            text = self.log.read_text(errors="replace")
            found = re.search(r"Listening at: (http://127\.0\.0\.1:\d+)", text)
            booted = len(re.findall(r"Booting worker", text))
            if found and booted >= WORKERS:
                address = found.group(1)
                for _ in range(100):  # until a worker answers
                    with contextlib.suppress(httpx.HTTPError):
                        httpx.get(address + "/", timeout=2)
                        return address
                    time.sleep(0.1)
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        raise RuntimeError(f"gunicorn did not start:\n{self.log.read_text()[-3000:]}")

    def cpu_seconds(self) -> float:
        """utime + stime of the master and its workers."""
        pids = [self.proc.pid]
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                with contextlib.suppress(OSError):
                    fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                    if int(fields[1]) == self.proc.pid:
                        pids.append(int(entry))
        total = 0
        for pid in pids:
            with contextlib.suppress(OSError):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        return total / CLK_TCK

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.handle.close()


# --- load ------------------------------------------------------------------------------


@dataclass
class Load:
    address: str
    method: str
    paths: list[str]  # one per request for uploads; one path repeated for reads
    bodies: list[bytes] | None
    headers: dict[str, str]
    threads: int
    duration: float


def _client_process(load: Load, out: Any) -> None:
    counter = iter(range(len(load.paths)))
    lock = threading.Lock()
    latencies: list[list[float]] = [[] for _ in range(load.threads)]
    errors = [0] * load.threads
    start_gate = threading.Barrier(load.threads + 1)  # every thread connected...
    go = threading.Event()  # ...then the clock starts
    stop_at = [0.0]

    def next_index() -> int | None:
        if load.bodies is None:  # reads: the same path again and again
            return 0
        with lock:
            return next(counter, None)

    def worker(slot: int) -> None:
        with httpx.Client(base_url=load.address, headers=load.headers, timeout=60) as client:
            client.get("/v1/health")  # open the keep-alive connection before the clock starts
            start_gate.wait()
            go.wait()
            mine = latencies[slot]
            while time.perf_counter() < stop_at[0]:
                index = next_index()
                if index is None:
                    break
                path = load.paths[index]
                content = load.bodies[index] if load.bodies is not None else None
                began = time.perf_counter()
                response = client.request(load.method, path, content=content)
                mine.append(time.perf_counter() - began)
                if response.status_code >= 300:
                    errors[slot] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(load.threads)]
    for t in threads:
        t.start()
    start_gate.wait()
    began = time.perf_counter()
    stop_at[0] = began + load.duration
    go.set()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - began
    out.send(([x for part in latencies for x in part], sum(errors), elapsed))
    out.close()


@dataclass
class Result:
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_us: float  # server CPU per request

    def row(self) -> dict[str, float]:
        return {"requests": self.requests, "rps": round(self.rps, 1),
                "p50_ms": round(self.p50_ms, 2), "p99_ms": round(self.p99_ms, 2),
                "errors": self.errors, "server_cpu_us_per_request": round(self.cpu_us, 1)}


def drive(server: Server, method: str, paths: list[str], bodies: list[bytes] | None,
          headers: dict[str, str], concurrency: int, duration: float) -> Result:
    per_process = concurrency // CLIENT_PROCESSES
    ctx = mp.get_context("fork")
    pipes, procs = [], []
    share = len(paths) // CLIENT_PROCESSES
    for n in range(CLIENT_PROCESSES):
        part = slice(n * share, (n + 1) * share) if bodies is not None else slice(None)
        load = Load(server.address, method, paths[part],
                    bodies[part] if bodies is not None else None, headers, per_process,
                    duration)
        receive, send = ctx.Pipe(duplex=False)
        proc = ctx.Process(target=_client_process, args=(load, send))
        proc.start()
        pipes.append(receive)
        procs.append(proc)
    cpu_before = server.cpu_seconds()
    results = [pipe.recv() for pipe in pipes]
    cpu_after = server.cpu_seconds()
    for proc in procs:
        proc.join()
    latencies = sorted(x for lat, _e, _t in results for x in lat)
    elapsed = max(t for _l, _e, t in results)
    count = len(latencies)
    if not count:
        log = server.log.read_text(errors="replace")[-2000:]
        raise RuntimeError(f"no request completed ({sum(e for _l, e, _t in results)} errors); "
                           f"server log ends:\n{log}")
    return Result(
        requests=count,
        rps=count / elapsed,
        p50_ms=latencies[count // 2] * 1000,
        p99_ms=latencies[min(count - 1, int(count * 0.99))] * 1000,
        errors=sum(e for _l, e, _t in results),
        cpu_us=(cpu_after - cpu_before) / count * 1e6,
    )


def sequential_p50(address: str, path: str, headers: dict[str, str], duration: float) -> float:
    """Median latency (ms) of back-to-back requests from one client: the lowest median of
    three windows of *duration* / 3 seconds (the least disturbed one on a shared machine)."""
    medians = []
    with httpx.Client(base_url=address, headers=headers, timeout=60) as client:
        for _ in range(20):  # warm-up
            client.get(path)
        for _window in range(3):
            samples = []
            stop = time.perf_counter() + duration / 3
            while time.perf_counter() < stop:
                began = time.perf_counter()
                response = client.get(path)
                samples.append(time.perf_counter() - began)
                assert response.status_code == 200, response.text[:200]
            medians.append(statistics.median(samples))
    return min(medians) * 1000


# --- bulk seeding for the read-growth measurement --------------------------------------


def bulk_posts(db: Database, group_id: bytes, start: int, count: int,
               envelope: bytes, now_ms: int) -> None:
    """Insert posts with cursors start..start+count-1 straight into the relay's table."""
    rows: Iterator[tuple[Any, ...]] = (
        (group_id, (cursor).to_bytes(16, "big"), cursor, 0, bytes(32), envelope, False, now_ms,
         None) for cursor in range(start, start + count))
    columns = ("group_id, post_id, cursor, epoch, uploader, envelope, deleted, created_at_ms, "
               "expires_at_ms")
    if db.name == "sqlite":
        path = db.url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, timeout=60)
        with conn:
            conn.executemany(f"INSERT INTO posts ({columns}) VALUES (?,?,?,?,?,?,?,?,?)", rows)
            conn.execute("UPDATE groups SET event_seq = ? WHERE group_id = ?",
                         (start + count, group_id))
        conn.close()
        return
    import psycopg

    url = db.url.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(url) as conn:
        with conn.cursor() as cur:
            with cur.copy(f"COPY posts ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("UPDATE groups SET event_seq = %s WHERE group_id = %s",
                        (start + count, group_id))
        conn.commit()
        conn.autocommit = True
        conn.execute("ANALYZE posts")


# --- one backend -----------------------------------------------------------------------


def run_backend(db: Database, tmp: Path, duration: float, rounds: int, scale: bool,
                table: list[str]) -> dict[str, Any]:
    print(f"\n== {db.name} ==", flush=True)
    seeded = seed(db.url)
    create_bare_table(db.url)
    needed = int(2000 * duration) + 1000  # envelopes per upload run (a run may end early)
    t0 = time.perf_counter()
    pool = envelopes(seeded, needed * rounds * len(CONCURRENCY), 1)
    print(f"sealed {len(pool)} envelopes in {time.perf_counter() - t0:.1f} s", flush=True)
    envelope_bytes = len(b64decode(json.loads(pool[0][1])["envelope"]))
    auth = {"Authorization": f"Bearer {seeded.token}", "Content-Type": "application/json"}
    relay_env = {"VAULT_DATABASE_URL": db.url, "VAULT_AUTO_MIGRATE": "0",
                 "VAULT_RATE_LIMIT": "0", "VAULT_RATE_LIMIT_EXPENSIVE": "0"}
    bare_env = {"BARE_DATABASE_URL": db.url}
    figures: dict[str, dict[str, Any]] = {"relay": {}, "bare": {}}
    bases = {"relay": f"/v1/groups/{seeded.gid}", "bare": ""}

    def report(kind: str, op: str, concurrency: int, run: str, r: dict[str, Any]) -> str:
        return (f"{db.name:<10} {kind:<5} {op:<6} {concurrency:>4} {run:>5} "
                f"{r['requests']:>8} {r['rps']:>9.1f} {r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} "
                f"{r['errors']:>6} {r['server_cpu_us_per_request']:>10.0f}")

    def record(kind: str, op: str, concurrency: int, round_: int, result: Result) -> None:
        print(report(kind, op, concurrency, str(round_ + 1), result.row()), flush=True)
        key = f"{op}_c{concurrency}"
        best = figures[kind].get(key)
        if best is None or result.rps > best["rps"]:
            figures[kind][key] = result.row()

    print(HEADER, flush=True)
    servers = {
        "relay": Server("vault.api:create_app()", relay_env, tmp / f"{db.name}-relay.log", ROOT),
        "bare": Server("bare_app:create_app()", bare_env, tmp / f"{db.name}-bare.log",
                       ROOT / "benchmarks"),
    }
    try:
        # Interleaved rounds (relay, floor, relay, floor...) and the best run of each kept:
        # both apps get the same share of a machine that other work may be using too.
        offset = 0
        for round_ in range(rounds):
            for concurrency in CONCURRENCY:
                batch = pool[offset:offset + needed]
                offset += needed
                warm = max(1, len(batch) // 20)
                for kind in ("relay", "bare"):
                    paths = [f"{bases[kind]}/posts/{pid}" for pid, _ in batch]
                    bodies = [body for _, body in batch]
                    drive(servers[kind], "PUT", paths[:warm], bodies[:warm], auth,
                          concurrency, 0.5)
                    result = drive(servers[kind], "PUT", paths[warm:], bodies[warm:], auth,
                                   concurrency, duration)
                    record(kind, "upload", concurrency, round_, result)
            for concurrency in CONCURRENCY:
                for kind in ("relay", "bare"):
                    path = [f"{bases[kind]}/posts?newest={PAGE}"]
                    drive(servers[kind], "GET", path, None, auth, concurrency, 0.5)
                    result = drive(servers[kind], "GET", path, None, auth, concurrency,
                                   duration)
                    record(kind, "read", concurrency, round_, result)
    finally:
        for server in servers.values():
            server.stop()

    for kind in ("relay", "bare"):
        for key, row in figures[kind].items():
            op, conc = key.split("_c")
            table.append(report(kind, op, int(conc), "best", row))
    ratios = {key: figures["relay"][key]["rps"] / figures["bare"][key]["rps"]
              for key in figures["relay"]}
    cpu_ratios = {key: figures["bare"][key]["server_cpu_us_per_request"]
                  / figures["relay"][key]["server_cpu_us_per_request"] for key in figures["relay"]}
    result: dict[str, Any] = {
        "throughput_ratio": round(min(ratios.values()), 3),
        "ratios": {k: round(v, 3) for k, v in ratios.items()},
        "cpu_ratios": {k: round(v, 3) for k, v in cpu_ratios.items()},
        "relay": figures["relay"],
        "bare": figures["bare"],
        "envelope_bytes": envelope_bytes,
    }
    for key, value in ratios.items():
        text = (f"{db.name:<10} ratio {key:<10} relay/bare req/s {value:.3f}   "
                f"bare/relay server CPU per request {cpu_ratios[key]:.3f}")
        table.append(text)
        print(text, flush=True)
    result.update(read_growth(db, tmp, pool[0][1], scale, table))
    return result


def read_growth(db: Database, tmp: Path, sample_body: bytes, scale: bool,
                table: list[str]) -> dict[str, Any]:
    """Newest-page latency with 10k and (with --scale) 1M stored posts in one group."""
    seeded = seed(db.url)  # a second group, only for this
    envelope = b64decode(json.loads(sample_body)["envelope"])
    now = int(time.time() * 1000)
    headers = {"Authorization": f"Bearer {seeded.token}"}
    path = f"/v1/groups/{seeded.gid}/posts?newest={PAGE}"
    relay_env = {"VAULT_DATABASE_URL": db.url, "VAULT_AUTO_MIGRATE": "0",
                 "VAULT_RATE_LIMIT": "0", "VAULT_RATE_LIMIT_EXPENSIVE": "0"}
    out: dict[str, Any] = {}
    stored = 0
    for target in (10_000, 1_000_000) if scale else (10_000,):
        t0 = time.perf_counter()
        bulk_posts(db, seeded.group_id, stored + 2, target - stored, envelope, now)
        stored = target
        print(f"{db.name}: {stored:,} posts stored in the read group "
              f"(bulk insert {time.perf_counter() - t0:.1f} s)", flush=True)
        server = Server("vault.api:create_app()", relay_env,
                        tmp / f"{db.name}-growth-{target}.log", ROOT)
        try:
            p50 = sequential_p50(server.address, path, headers, 3.0)
            conc = drive(server, "GET", [path], None, headers, 16, 3.0)
        finally:
            server.stop()
        label = f"{target // 1000}k" if target < 1_000_000 else "1m"
        out[f"read_{label}"] = {"sequential_p50_ms": round(p50, 3), "c16": conc.row()}
        text = (f"{db.name:<10} newest page with {target:>9,} posts: sequential p50 "
                f"{p50:.3f} ms; c16 {conc.rps:.1f} req/s, p50 {conc.p50_ms:.2f} ms, "
                f"p99 {conc.p99_ms:.2f} ms")
        table.append(text)
        print(text, flush=True)
    if scale:
        growth = out["read_1m"]["sequential_p50_ms"] / out["read_10k"]["sequential_p50_ms"]
        rps_growth = out["read_10k"]["c16"]["rps"] / out["read_1m"]["c16"]["rps"]
        out["read_growth_10k_to_1m"] = round(growth, 3)
        out["read_growth_c16_rps_10k_over_1m"] = round(rps_growth, 3)
        text = (f"{db.name:<10} read growth 10k -> 1M: p50 x{growth:.3f}; "
                f"c16 throughput 10k/1M x{rps_growth:.3f}")
        table.append(text)
        print(text, flush=True)
    else:
        out["read_growth_10k_to_1m"] = None
    return out


HEADER = (f"{'backend':<10} {'app':<5} {'op':<6} {'conc':>4} {'run':>5} {'requests':>8} "
          f"{'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'errors':>6} {'cpu us/req':>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=3.0,
                        help="seconds of load per operation and concurrency (default 3)")
    parser.add_argument("--rounds", type=int, default=2,
                        help="interleaved rounds; the best run of each app is kept (default 2)")
    parser.add_argument("--scale", action="store_true",
                        help="also time the newest page with 1,000,000 stored posts (slow)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "VAULT_BENCH_POSTGRES_URL", os.environ.get("VAULT_TEST_POSTGRES_URL")))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    print(f"relay benchmark: gunicorn gthread {WORKERS} workers x {THREADS} threads on "
          f"127.0.0.1; {CLIENT_PROCESSES} client processes (httpx, keep-alive); "
          f"{args.duration:g} s per run; Python {platform.python_version()}; "
          f"{os.cpu_count()} CPUs", flush=True)
    summary: dict[str, Any] = {"config": {
        "workers": WORKERS, "threads": THREADS, "concurrency": list(CONCURRENCY),
        "client_processes": CLIENT_PROCESSES, "duration_s": args.duration, "page": PAGE,
        "rounds": args.rounds,
        "scale": args.scale, "cpus": os.cpu_count()}}
    table: list[str] = [HEADER]
    each_database(args.only, args.postgres_url, "vault-bench-", summary,
                  lambda db, tmp: run_backend(db, tmp, args.duration, args.rounds,
                                              args.scale, table))
    growths = [summary[name]["read_growth_10k_to_1m"] for name in ("sqlite", "postgresql")
               if summary.get(name) and summary[name]["read_growth_10k_to_1m"] is not None]
    summary["read_growth_10k_to_1m"] = max(growths) if growths else None
    print("\n" + "\n".join(table))
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
