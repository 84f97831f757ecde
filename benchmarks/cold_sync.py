"""Cold sync benchmark (issue 14, "Must reach" 4): a new member's first sync of a group
holding N posts (default 10,000), against a real relay, beside the crypto floor, with the
peak memory of the sync.

Run: ``python benchmarks/cold_sync.py [--posts N] [--repeats R] [--quick] [--profile FILE]``.

It starts ``vault relay serve`` (SQLite in a temporary directory, 2 workers) on 127.0.0.1
(``tests/relayproc.py``) and seeds the group as ``benchmarks/client.py`` does (4 authors,
80% posts / 15% replies / 5% reactions, texts of 40-600 characters, sealed with
``seal_post`` and uploaded in parallel; not timed). Each of R fresh members joins and is
approved with history "all"; then **each member's first sync runs in a child process of its
own**: the child opens the member's client (its keystore unlocked: Argon2id is not timed),
resets its peak resident set (``/proc/self/clear_refs``), and times ``client.sync(group)``
(approval check, log, grants, every page of posts, open, verify, order, store, commit).

Printed: the best and median sync, the HTTP requests, and beside them:

* **crypto floor** (same run, same envelopes, one core): N x (XChaCha20-Poly1305 decrypt +
  sodium_unpad + Ed25519 verify), bare PyNaCl; the protocol core alone (``open_post`` over
  the same envelopes) too, to split the overhead;
* **peak memory of the sync**, two ways: the child's peak resident set during the sync
  (VmHWM after a reset, Linux) minus its resident set before it, in the best run's child;
  and, in one more child (untimed), the Python heap's peak under ``tracemalloc``;
* **then a warm sync** (one more child, on the first member's device, which now holds every
  post): the admin posts one post, the member syncs, nine rounds; the median beside the
  same member's sync when nothing is new (its requests alone, the floor of a sync). A sync
  that brings one post must not cost in proportion to the posts the device already holds.
  In the same child, what a UI pays to show the group (``Client.threads``, as the member
  app's feed and groups list call it): drawn afresh (the kept drawing dropped first), beside
  drawn again with nothing changed (the kept drawing), each the median of nine; and the
  first ``Client.threads`` right after each timed cold sync (what the member sees next).

The ratio is sync time / crypto floor (target <= 1.6). The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from client import PASSPHRASE, Meter, seed_posts, sync_floor, view  # noqa: E402
from vault_client import Client  # noqa: E402

from tests.relayproc import RelayProcess  # noqa: E402


def resident_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB (0, 0 where /proc is not there)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0, 0
    rss = re.search(r"VmRSS:\s+(\d+)", text)
    hwm = re.search(r"VmHWM:\s+(\d+)", text)
    return (int(rss.group(1)) if rss else 0, int(hwm.group(1)) if hwm else 0)


def group_cpu_s(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of process group
    *pgid* (the relay's master and workers); 0.0 where /proc is not there."""
    tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[2]) == pgid:  # (fields after the name: state, ppid, pgrp, ...)
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def relay_pid(relay: RelayProcess) -> int:
    assert relay.proc is not None
    return relay.proc.pid


def relay_env(tree: str | None) -> dict[str, str]:
    """The environment that runs the relay from *tree* (None: as installed)."""
    if tree is None:
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(Path(tree).resolve()), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep)}


# --- the child: one member's first sync ------------------------------------------------------


def child(home: str, relay_url: str, group_id: str, posts: int, traced: bool,
          profile: str | None) -> None:
    client = Client(PASSPHRASE, home=home, relay_url=relay_url)  # Argon2id here, untimed
    rss_before, _ = resident_kb()
    try:
        Path("/proc/self/clear_refs").write_text("5")
        reset = True
    except OSError:
        reset = False
    if traced:
        import tracemalloc

        tracemalloc.start()
    profiler = None
    if profile:
        import cProfile

        profiler = cProfile.Profile()
    with Meter().installed() as meter:
        start, cpu_start = time.perf_counter(), time.process_time()
        if profiler is not None:
            profiler.enable()
        (report,) = client.sync(group_id)
        if profiler is not None:
            profiler.disable()
        elapsed, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    peak_traced = 0
    if traced:
        import tracemalloc

        peak_traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    rss_after, hwm = resident_kb()
    assert report.new_posts == posts, (report.new_posts, report.warnings)
    assert not report.warnings, report.warnings
    stored = len(client._device.view(group_id).timeline)
    assert stored == posts, stored
    start = time.perf_counter()
    shown = client.threads(group_id)  # what the member sees next: the group drawn
    first_threads = time.perf_counter() - start
    assert shown
    client.close()
    if profiler is not None and profile:
        import pstats

        profiler.dump_stats(profile)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(35)
        pstats.Stats(profile, stream=sys.stderr).sort_stats("tottime").print_stats(25)
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "requests": meter.requests,
                      "rss_before_kb": rss_before, "rss_after_kb": rss_after,
                      "peak_growth_kb": (hwm - rss_before) if reset else None,
                      "traced_peak_bytes": peak_traced,
                      "first_threads_ms": first_threads * 1e3}))


def run_child(home: Path, relay_url: str, group_id: str, posts: int, *, traced: bool = False,
              profile: str | None = None) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, __file__, "--child", str(home), relay_url, group_id, str(posts),
         "1" if traced else "0", profile or ""],
        capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the syncing child failed:\n{done.stderr[-4000:]}")
    if profile:
        sys.stderr.write(done.stderr)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# --- the parent ------------------------------------------------------------------------------


def bench(root: Path, relay: RelayProcess, count: int, repeats: int,
          profile: str | None) -> dict[str, Any]:
    rng = random.Random(20240501)
    admin = Client(PASSPHRASE, home=root / "sync-admin", relay_url=relay.url)
    group = admin.create_group("Cold sync benchmark", display_name="Admin")
    gid = group.group_id
    envelopes, seeded_s = seed_posts(root, relay, admin, gid, count, rng)  # type: ignore[arg-type]
    invite = admin.create_invite(gid, max_uses=repeats + 1, expires_in=3600)
    homes = []
    for i in range(repeats + 1):
        home = root / f"member-{i}"
        member = Client(PASSPHRASE, home=home, relay_url=relay.url)
        result = member.join(invite.uri)
        admin.approve(gid, result.member_id, share_history="all")
        member.close()
        homes.append(home)
    runs = []
    for i, home in enumerate(homes[:repeats]):
        relay_cpu = group_cpu_s(relay_pid(relay))
        run = run_child(home, relay.url, gid, count,
                        profile=profile if i == repeats - 1 else None)
        run["relay_cpu_seconds"] = group_cpu_s(relay_pid(relay)) - relay_cpu
        runs.append(run)
    traced = run_child(homes[-1], relay.url, gid, count, traced=True)
    v = view(admin, gid)
    floor_s, core_s = sync_floor(envelopes, v.keys[0], v.state, 7)
    admin.close()
    done = subprocess.run(
        [sys.executable, __file__, "--warm-child", str(homes[0]), str(root / "sync-admin"),
         relay.url, gid, "9"], capture_output=True, text=True, check=False, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"the warm child failed:\n{done.stderr[-4000:]}")
    warm = json.loads(done.stdout.strip().splitlines()[-1])
    best = min(runs, key=lambda r: float(r["seconds"]))
    seconds = float(best["seconds"])
    growth = best["peak_growth_kb"]
    return {
        "cold_sync_posts": count,
        "cold_sync_s": seconds,
        "cold_sync_median_s": statistics.median(float(r["seconds"]) for r in runs),
        "cold_sync_per_post_us": seconds / count * 1e6,
        "cold_sync_http_requests": best["requests"],
        "cold_sync_client_cpu_s": best["cpu_seconds"],
        "cold_sync_relay_cpu_s": best["relay_cpu_seconds"],
        "cold_sync_floor_ms": floor_s * 1e3,
        "cold_sync_core_open_ms": core_s * 1e3,
        "cold_sync_core_ratio": core_s / floor_s,
        "cold_sync_ratio": seconds / floor_s,
        "cold_sync_peak_rss_growth_mib": None if growth is None else growth / 1024,
        "cold_sync_rss_growth_after_mib":
            (best["rss_after_kb"] - best["rss_before_kb"]) / 1024,
        "cold_sync_peak_traced_mib": traced["traced_peak_bytes"] / 2**20,
        "cold_sync_peak_rss_growth_per_post_kb": None if growth is None else growth / count,
        "seeding_s": seeded_s,
        "warm_sync_one_new_ms": warm["one_new_ms"],
        "warm_sync_nothing_new_ms": warm["nothing_new_ms"],
        "threads_afresh_ms": warm["threads_afresh_ms"],
        "threads_kept_ms": warm["threads_kept_ms"],
        "first_threads_after_sync_ms": statistics.median(
            float(r["first_threads_ms"]) for r in runs),
    }


def warm_child(home: str, admin_home: str, relay_url: str, group_id: str, rounds: int) -> None:
    """A member whose device already holds the whole group: each round, the admin posts one
    post and the member's next sync is timed (what a member with the app open pays for each
    new post); beside it, the same member's sync when nothing is new (its requests alone)."""
    member = Client(PASSPHRASE, home=home, relay_url=relay_url)
    admin = Client(PASSPHRASE, home=admin_home, relay_url=relay_url)
    member.sync(group_id)  # (loads the stored posts: not what is timed)
    one, idle = [], []
    for i in range(rounds):
        admin.post(group_id, f"one more post, round {i}")
        start = time.perf_counter()
        (report,) = member.sync(group_id)
        one.append(time.perf_counter() - start)
        assert report.new_posts == 1, report
        start = time.perf_counter()
        (report,) = member.sync(group_id)
        idle.append(time.perf_counter() - start)
        assert report.new_posts == 0, report
    afresh, kept = [], []
    view = member._device.view(group_id)
    for _ in range(rounds):
        view.drawn = None
        start = time.perf_counter()
        member.threads(group_id)
        afresh.append(time.perf_counter() - start)
        start = time.perf_counter()
        member.threads(group_id)
        kept.append(time.perf_counter() - start)
    admin.close()
    member.close()
    print(json.dumps({"one_new_ms": statistics.median(one) * 1e3,
                      "nothing_new_ms": statistics.median(idle) * 1e3,
                      "threads_afresh_ms": statistics.median(afresh) * 1e3,
                      "threads_kept_ms": statistics.median(kept) * 1e3}))


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--warm-child":
        home, admin_home, url, gid, rounds = sys.argv[2:7]
        warm_child(home, admin_home, url, gid, int(rounds))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        home, url, gid, posts, traced, profile = sys.argv[2:8]
        child(home, url, gid, int(posts), traced == "1", profile or None)
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="fresh syncing members")
    parser.add_argument("--quick", action="store_true", help="2,000 posts, 2 repeats")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the last timed sync into FILE (stats on stderr)")
    parser.add_argument("--relay-tree", metavar="DIR",
                        help="run the relay from this source tree (PYTHONPATH), e.g. a "
                             "worktree of another commit; default: the installed one")
    args = parser.parse_args()
    if args.quick:
        args.posts, args.repeats = 2_000, 2
    with tempfile.TemporaryDirectory(prefix="vault-coldsync-") as tmp:
        root = Path(tmp)
        relay = RelayProcess(root / "relay", workers=2, threads=8,
                             env=relay_env(args.relay_tree))
        try:
            f = bench(root, relay, args.posts, args.repeats, args.profile)
        finally:
            relay.stop()
    growth = f["cold_sync_peak_rss_growth_mib"]
    print(f"cold sync of {f['cold_sync_posts']:,} posts: {f['cold_sync_s']:.2f} s (median "
          f"{f['cold_sync_median_s']:.2f} s, {f['cold_sync_per_post_us']:.0f} us/post, "
          f"{f['cold_sync_http_requests']} HTTP requests); CPU: client "
          f"{f['cold_sync_client_cpu_s']:.2f} s, relay {f['cold_sync_relay_cpu_s']:.2f} s")
    print(f"  crypto floor {f['cold_sync_floor_ms']:.0f} ms (one core): ratio "
          f"{f['cold_sync_ratio']:.2f}x (target <= 1.6) | protocol core alone "
          f"{f['cold_sync_core_open_ms']:.0f} ms ({f['cold_sync_core_ratio']:.2f}x floor)")
    print(f"  peak memory of the sync: resident +"
          f"{'n/a' if growth is None else f'{growth:.1f}'} MiB (child's VmHWM over its "
          f"resident set before; +{f['cold_sync_rss_growth_after_mib']:.1f} MiB kept after), "
          f"Python heap peak {f['cold_sync_peak_traced_mib']:.1f} MiB (tracemalloc) | "
          f"seeding {f['seeding_s']:.1f} s (not timed)")
    print(f"then, on a device holding all {f['cold_sync_posts']:,} posts: a sync bringing one "
          f"new post {f['warm_sync_one_new_ms']:.1f} ms (median of 9), beside the same sync "
          f"with nothing new {f['warm_sync_nothing_new_ms']:.1f} ms (its requests alone)")
    print(f"  showing the group (Client.threads): drawn afresh {f['threads_afresh_ms']:.1f} ms, "
          f"drawn again with nothing changed {f['threads_kept_ms']:.1f} ms (medians of 9); "
          f"right after the cold sync {f['first_threads_after_sync_ms']:.1f} ms (median of "
          "the timed children)")
    figures = {"python": platform.python_version(), "machine": platform.machine(),
               "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count(),
               **{k: round(v, 3) if isinstance(v, float) else v for k, v in f.items()}}
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
