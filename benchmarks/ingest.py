"""Ingest benchmark (not a test): the relay's post upload against two framework floors.

Run: ``python benchmarks/ingest.py [--quick] [--duration S] [--rounds N] [--concurrency C]
[--only sqlite|postgresql] [--postgres-url URL]``. About 2 minutes with the defaults on 2
CPUs (both backends); ``--quick`` about 40 s.

For SQLite, then PostgreSQL (``--postgres-url``, default ``$VAULT_BENCH_POSTGRES_URL`` else
``$VAULT_TEST_POSTGRES_URL``; a schema ``vault_bench_<pid>`` made and dropped; skipped when
neither is set):

1. A fresh database with the relay's migrations; a group and its owner's session made through
   the relay's API; real sealed envelopes (~0.7 KB, the 512-byte bucket) built beforehand
   (``benchmarks/relay.py``'s ``seed`` and ``envelopes``).
2. Three servers side by side on 127.0.0.1, served the same way:
   * ``relay``: the default deployment, ``vault relay serve`` (tests/relayproc.py) with its
     default workers and threads and default log level, every check it makes today: session
     lookup and membership, schema validation, envelope parsing, epoch and log checks,
     idempotency. Rate limiting stays ON with a limit no run reaches (one load-generating
     address would otherwise be throttled), so its per-request check runs in full.
   * ``core``: the true floor, ``benchmarks/core_floor.py``: Flask + SQLAlchemy Core, parse
     JSON, decode, ONE INSERT in autocommit mode, answer JSON;
   * ``orm``: today's floor, ``benchmarks/bare_app.py``: Flask-SQLAlchemy ORM, an explicit
     transaction.
   The floors run under gunicorn with the relay's default serving model, read from
   ``vault.cli`` and ``vault.api.serve`` (worker class, workers, threads or connections),
   so they follow it when it changes (gthread before issue 14's change, gevent after).
3. Load: closed-loop uploads (PUT of a new post) from 2 client processes with ``--concurrency``
   keep-alive connections in all (``benchmarks/relay.py``'s ``drive``), ``--duration`` seconds
   after a short warm-up; rounds interleaved (relay, core, orm, relay, ...) and each figure's
   best round kept, so the apps share a machine that other work may be using alike.
4. Figures, each beside the floors measured in the same run:
   * **server CPU per upload** (the primary figure: utime + stime of the gunicorn master and
     its workers from /proc/<pid>/stat before and after, divided by requests; the load
     generator shares the cores, so this does not depend on its share);
   * throughput, p50 and p99 latency, and p99 / p50 (two server processes: the default 2
     workers; on SQLite they share one database file);
   * resident memory: RSS of master + workers (sum; shared pages counted in each process, as
     ``ps`` shows them) sampled every 0.2 s during the upload load: peak, and after the load;
     and beside it their PSS (each shared page counted once in all: what the deployment
     costs the machine), peak under load and idle.
     Matrix Synapse's 138 MB (issue 14, measured on the same machine type earlier, not here)
     is printed as a reference, not measured by this script.

Ratios: ``cpu_vs_<floor>`` = floor CPU per upload / relay CPU per upload, and
``rps_vs_<floor>`` = relay req/s / floor req/s (both: >= 1.0 means at or beyond the floor).
The last output line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import relay as bench  # noqa: E402  (benchmarks/relay.py: seeding, envelopes, load, servers)
from relay import (  # noqa: E402
    CLIENT_PROCESSES,
    NO_CONTROL_SOCKET,
    Database,
    Result,
    Server,
    create_bare_table,
    drive,
    each_database,
    envelopes,
    seed,
)

from tests.relayproc import RelayProcess  # noqa: E402

CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
SYNAPSE_RSS_MB = 138.0  # issue 14's reference (2 workers' load), not measured here
UNREACHABLE_RATE = "1000000000"  # rate limiting on, never reached


def cli_defaults() -> tuple[int, int]:
    """``vault relay serve``'s default --workers and --threads (threads: 16 where the option
    is gone or ignored, as under gevent workers)."""
    from vault.cli import serve

    defaults = {p.name: p.default for p in serve.params}
    return int(defaults["workers"]), int(defaults.get("threads") or 16)  # type: ignore[arg-type]


def serving_model() -> dict[str, Any]:
    """How ``vault relay serve`` runs gunicorn by default, so the floors run the same way:
    worker class, workers, and threads (gthread) or connections per worker (gevent)."""
    from vault.api import serve as serve_module
    from vault.cli import serve

    defaults = {p.name: p.default for p in serve.params}
    klass = getattr(serve_module, "WORKER_CLASS", "gthread")
    model: dict[str, Any] = {"worker_class": klass, "workers": int(defaults["workers"])}
    if klass == "gthread":
        model["threads"] = int(defaults.get("threads") or 16)
    else:
        model["worker_connections"] = int(defaults.get("connections") or 1000)
    return model


def gunicorn_args(model: dict[str, Any]) -> list[str]:
    args = ["--worker-class", model["worker_class"], "--workers", str(model["workers"])]
    if "threads" in model:
        args += ["--threads", str(model["threads"])]
    if "worker_connections" in model:
        args += ["--worker-connections", str(model["worker_connections"])]
    return args


def describe(model: dict[str, Any]) -> str:
    extra = (f"{model['threads']} threads" if "threads" in model
             else f"{model['worker_connections']} connections")
    return f"{model['worker_class']}, {model['workers']} workers x {extra}"


# --- process trees: CPU and memory ------------------------------------------------------


def tree(root: int) -> list[int]:
    """*root* and its descendants (gunicorn: the master and its workers)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, IndexError):
                fields = Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()
                children.setdefault(int(fields[1]), []).append(int(entry))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def cpu_seconds(root: int) -> float:
    total = 0
    for pid in tree(root):
        with contextlib.suppress(OSError, IndexError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


def rss_mb(root: int) -> float:
    total = 0
    for pid in tree(root):
        with contextlib.suppress(OSError, IndexError):
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return total * PAGE_SIZE / 2**20


def pss_mb(root: int) -> float:
    """Proportional set size of a process tree: each page shared by n of its processes
    counted 1/n in each (Linux's smaps_rollup), so the sum is the memory the tree costs;
    0.0 where the kernel does not offer it."""
    total = 0
    for pid in tree(root):
        with contextlib.suppress(OSError, IndexError, ValueError):
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total += int(line.split()[1])
    return total / 1024


class MemorySampler:
    """Peak RSS and PSS of a process tree, sampled every *interval* seconds while running."""

    def __init__(self, root: int, interval: float = 0.2) -> None:
        self.root, self.interval = root, interval
        self.peak = 0.0
        self.peak_pss = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        self.peak = max(self.peak, rss_mb(self.root))
        self.peak_pss = max(self.peak_pss, pss_mb(self.root))

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> MemorySampler:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


# --- the three servers --------------------------------------------------------------------


class DefaultRelay(RelayProcess):
    """``vault relay serve`` as deployed by default: tests/relayproc.py's process, without the
    test settings it adds (fast event polling, rate limiting off)."""

    TEST_ONLY = ("VAULT_EVENTS_POLL_MS",)

    def start(self) -> None:
        for key in self.TEST_ONLY:
            self.env.pop(key, None)
        # The sources of this tree, also when the editable install's links lag behind it.
        self.env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(ROOT), self.env.get("PYTHONPATH")) if p)
        super().start()


class RelayServer:
    """The relay under ``drive`` (which wants ``address``, ``cpu_seconds`` and ``log``)."""

    def __init__(self, db: Database, tmp: Path, workers: int, threads: int,
                 log_level: str) -> None:
        data = tmp / f"{db.name}-relay-data"
        data.mkdir(exist_ok=True)
        self.proc = DefaultRelay(data, workers=workers, threads=threads, log_level=log_level,
                                 env={"VAULT_DATABASE_URL": db.url, "VAULT_AUTO_MIGRATE": "0",
                                      "VAULT_RATE_LIMIT": UNREACHABLE_RATE,
                                      "VAULT_RATE_BURST": UNREACHABLE_RATE})
        self.address = self.proc.url
        self.log = self.proc.logs / f"stderr.{self.proc.starts}"
        assert self.proc.proc is not None
        self.pid = self.proc.proc.pid

    def cpu_seconds(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        self.proc.stop()


class FloorServer(Server):
    """A floor app under gunicorn with the relay's default serving model (``serving_model``)."""

    def __init__(self, app: str, env: dict[str, str], log: Path,
                 model: dict[str, Any]) -> None:
        bench.WORKERS = model["workers"]  # Server._wait_address waits for as many workers
        self.log = log
        self.handle = log.open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", *gunicorn_args(model), "--bind", "127.0.0.1:0",
             "--timeout", "60", "--log-level", "info", *NO_CONTROL_SOCKET, app],
            cwd=ROOT / "benchmarks", env={**os.environ, **env}, stdout=self.handle,
            stderr=subprocess.STDOUT)
        self.address = self._wait_address()
        self.pid = self.proc.pid


# --- one backend --------------------------------------------------------------------------

APPS = ("relay", "core", "orm")
HEADER = (f"{'backend':<10} {'app':<5} {'round':>5} {'requests':>8} {'req/s':>8} "
          f"{'p50 ms':>8} {'p99 ms':>8} {'p99/p50':>7} {'errors':>6} {'cpu us/req':>10} "
          f"{'rss MB':>7}")


def row(backend: str, app: str, round_: str, r: dict[str, Any]) -> str:
    return (f"{backend:<10} {app:<5} {round_:>5} {r['requests']:>8} {r['rps']:>8.1f} "
            f"{r['p50_ms']:>8.2f} {r['p99_ms']:>8.2f} {r['p99_over_p50']:>7.2f} "
            f"{r['errors']:>6} {r['server_cpu_us_per_request']:>10.0f} "
            f"{r['rss_peak_mb']:>7.1f}")


def run_backend(db: Database, tmp: Path, args: argparse.Namespace, model: dict[str, Any],
                table: list[str]) -> dict[str, Any]:
    workers, threads = model["workers"], model.get("threads", 16)
    print(f"\n== {db.name} ==", flush=True)
    seeded = seed(db.url)
    create_bare_table(db.url)
    import core_floor

    core_floor.create_table(db.url)
    per_run = int(2500 * args.duration) + 500  # envelopes one run may use at most
    warm = 200
    t0 = time.perf_counter()
    pool = envelopes(seeded, (per_run + warm) * args.rounds, 1)
    print(f"sealed {len(pool)} envelopes in {time.perf_counter() - t0:.1f} s", flush=True)
    auth = {"Authorization": f"Bearer {seeded.token}", "Content-Type": "application/json"}
    bases = {"relay": f"/v1/groups/{seeded.gid}", "core": "", "orm": ""}

    servers: dict[str, Any] = {}
    try:
        servers["relay"] = RelayServer(db, tmp, workers, threads, args.log_level)
        servers["core"] = FloorServer("core_floor:create_app()", {"CORE_DATABASE_URL": db.url},
                                      tmp / f"{db.name}-core.log", model)
        servers["orm"] = FloorServer("bare_app:create_app()", {"BARE_DATABASE_URL": db.url},
                                     tmp / f"{db.name}-orm.log", model)
        idle = {app: round(rss_mb(servers[app].pid), 1) for app in APPS}
        idle_pss = {app: round(pss_mb(servers[app].pid), 1) for app in APPS}
        rounds: dict[str, list[dict[str, Any]]] = {app: [] for app in APPS}
        print(HEADER, flush=True)
        offset = 0
        for round_ in range(args.rounds):
            batch = pool[offset:offset + per_run + warm]
            offset += per_run + warm
            for app in APPS:  # every app stores the same envelopes (each in its own table)
                server = servers[app]
                paths = [f"{bases[app]}/posts/{pid}" for pid, _ in batch]
                bodies = [body for _, body in batch]
                drive(server, "PUT", paths[:warm], bodies[:warm], auth, args.concurrency, 0.5)
                with MemorySampler(server.pid) as memory:
                    result: Result = drive(server, "PUT", paths[warm:], bodies[warm:], auth,
                                           args.concurrency, args.duration)
                figures = {**result.row(),
                           "p99_over_p50": round(result.p99_ms / result.p50_ms, 2),
                           "rss_peak_mb": round(memory.peak, 1),
                           "pss_peak_mb": round(memory.peak_pss, 1),
                           "rss_after_mb": round(rss_mb(server.pid), 1)}
                rounds[app].append(figures)
                print(row(db.name, app, str(round_ + 1), figures), flush=True)
    finally:
        for server in servers.values():
            server.stop()

    best = {app: best_of(rounds[app]) for app in APPS}
    for app in APPS:
        best[app]["rss_idle_mb"] = idle[app]
        best[app]["pss_idle_mb"] = idle_pss[app]
        table.append(row(db.name, app, "best", best[app]))
    relay, out = best["relay"], {"apps": best, "rounds": rounds}
    ratios: dict[str, float] = {}
    for floor in ("core", "orm"):
        ratios[f"cpu_vs_{floor}"] = round(best[floor]["server_cpu_us_per_request"]
                                          / relay["server_cpu_us_per_request"], 3)
        ratios[f"rps_vs_{floor}"] = round(relay["rps"] / best[floor]["rps"], 3)
    out["ratios"] = ratios
    lines = [
        f"{db.name:<10} server CPU per upload: relay {relay['server_cpu_us_per_request']:.0f} us"
        f" | true floor (core) {best['core']['server_cpu_us_per_request']:.0f} us -> "
        f"floor/relay {ratios['cpu_vs_core']:.3f} | today's floor (orm) "
        f"{best['orm']['server_cpu_us_per_request']:.0f} us -> {ratios['cpu_vs_orm']:.3f}",
        f"{db.name:<10} uploads/s: relay {relay['rps']:.1f} | core {best['core']['rps']:.1f} -> "
        f"relay/floor {ratios['rps_vs_core']:.3f} | orm {best['orm']['rps']:.1f} -> "
        f"{ratios['rps_vs_orm']:.3f}",
        f"{db.name:<10} latency p50/p99 ms ({workers} server processes, c{args.concurrency}): "
        f"relay {relay['p50_ms']:.2f}/{relay['p99_ms']:.2f} (p99/p50 "
        f"{relay['p99_over_p50']:.2f}) | core {best['core']['p50_ms']:.2f}/"
        f"{best['core']['p99_ms']:.2f} ({best['core']['p99_over_p50']:.2f}) | orm "
        f"{best['orm']['p50_ms']:.2f}/{best['orm']['p99_ms']:.2f} "
        f"({best['orm']['p99_over_p50']:.2f})",
        f"{db.name:<10} RSS master+workers MB (peak under load / idle): relay "
        f"{relay['rss_peak_mb']:.1f}/{relay['rss_idle_mb']:.1f} | core "
        f"{best['core']['rss_peak_mb']:.1f}/{best['core']['rss_idle_mb']:.1f} | orm "
        f"{best['orm']['rss_peak_mb']:.1f}/{best['orm']['rss_idle_mb']:.1f} | Synapse "
        f"{SYNAPSE_RSS_MB:.0f} (issue 14 reference, not measured here)",
        f"{db.name:<10} PSS master+workers MB (shared pages counted once; peak / idle): relay "
        f"{relay['pss_peak_mb']:.1f}/{relay['pss_idle_mb']:.1f} | core "
        f"{best['core']['pss_peak_mb']:.1f}/{best['core']['pss_idle_mb']:.1f} | orm "
        f"{best['orm']['pss_peak_mb']:.1f}/{best['orm']['pss_idle_mb']:.1f}",
    ]
    for line in lines:
        print(line, flush=True)
    table.extend(lines)
    return out


def best_of(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Each figure's best round (lowest CPU, latency and memory; highest throughput)."""
    def low(key: str) -> Any:
        return min(r[key] for r in runs)

    fastest = max(runs, key=lambda r: r["rps"])
    return {
        "requests": fastest["requests"], "rps": fastest["rps"], "errors": sum(
            r["errors"] for r in runs),
        "p50_ms": low("p50_ms"), "p99_ms": low("p99_ms"),
        "p99_over_p50": low("p99_over_p50"),
        "server_cpu_us_per_request": low("server_cpu_us_per_request"),
        "rss_peak_mb": low("rss_peak_mb"), "rss_after_mb": low("rss_after_mb"),
        "pss_peak_mb": low("pss_peak_mb"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true",
                        help="one round of 1.5 s per app (about 40 s in all)")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds of load per app and round (default 5; --quick 1.5)")
    parser.add_argument("--rounds", type=int, default=None,
                        help="interleaved rounds, each figure's best kept (default 3; "
                             "--quick 1)")
    parser.add_argument("--concurrency", type=int, default=16,
                        help=f"connections in all, over {CLIENT_PROCESSES} client processes")
    parser.add_argument("--log-level", default="INFO",
                        help="the relay's VAULT_LOG_LEVEL (default INFO, the relay's default: "
                             "one access line per request)")
    parser.add_argument("--postgres-url", default=os.environ.get(
        "VAULT_BENCH_POSTGRES_URL", os.environ.get("VAULT_TEST_POSTGRES_URL")))
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    if args.duration is None:
        args.duration = 1.5 if args.quick else 5.0
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    model = serving_model()
    print(f"ingest benchmark: relay = `vault relay serve` defaults ({describe(model)}); the "
          f"floors under gunicorn the same way; "
          f"c{args.concurrency} from {CLIENT_PROCESSES} client processes (httpx keep-alive); "
          f"{args.duration:g} s x {args.rounds} rounds; Python {platform.python_version()}; "
          f"{os.cpu_count()} CPUs", flush=True)
    summary: dict[str, Any] = {"benchmark": "ingest", "config": {
        **model, "concurrency": args.concurrency,
        "client_processes": CLIENT_PROCESSES, "duration_s": args.duration,
        "rounds": args.rounds, "relay_log_level": args.log_level, "cpus": os.cpu_count(),
        "synapse_rss_mb_reference": SYNAPSE_RSS_MB}}
    table: list[str] = [HEADER]
    each_database(args.only, args.postgres_url, "vault-ingest-", summary,
                  lambda db, tmp: run_backend(db, tmp, args, model, table))
    print("\n" + "\n".join(table))
    print(json.dumps(summary, separators=(",", ":")))


if __name__ == "__main__":
    main()
