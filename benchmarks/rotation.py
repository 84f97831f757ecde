"""Rotation benchmark (issue 14, "Must reach" 4): an admin starts a new epoch in a group of
N members (default 1,000 and 10,000), against a real relay, beside the sealing floor.

Run: ``python benchmarks/rotation.py [--members 1000,10000] [--repeats R] [--quick]``.

It starts ``vault relay serve`` (SQLite in a temporary directory, 2 workers) on 127.0.0.1
(``tests/relayproc.py``). An owner's ``vault_client.Client`` creates the group; N-1 fresh
identities are added by ADD entries the owner signs, appended over HTTP (the seeding, not
timed); the owner's client syncs the log. Timed: ``client.rotate(group)`` R times (best and
median): the ROTATE entry, every member's grant (built with ``build_grants`` on every core,
uploaded in two requests up to 10,000, the first sent while the second is sealed), and the
group's name and the owner's profile sealed into the new epoch (two more log entries, sent
while the last grants travel). Printed beside it, from the same rotations: the grants part
(``rotation.issue``: seal + upload, the two entries sent meanwhile included) and its
sealing (``build_grants``), and the HTTP requests the rotation made.

Floors, measured in the same run on the members' own box keys (best of several):

* **sealing floor, one core**: bare ``crypto_box_seal`` (what PyNaCl's ``SealedBox.encrypt``
  calls) of one 234-byte grant content (the same key) to each of the N members, in a loop;
* **sealing floor, all cores**: the same seals spread over a thread pool of one thread per
  core (libsodium releases the GIL);
* **grant floor, one core / all cores**: what a grant cannot avoid: one Ed25519 signature
  (the content names its recipient) + one sealed box, per member.

Ratios are rotation time / floor. The headline is ``rotation_<N>_ratio`` (beside the
one-core sealing floor, as issue 14 states it); the others are printed beside it.

Peak memory: Python heap (``tracemalloc``) over one extra, untimed rotation, and the
process's peak resident set (VmHWM, reset just before that rotation through
``/proc/self/clear_refs`` where Linux offers it) minus its resident set before it.

The last output line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402
import nacl.bindings as sodium  # noqa: E402
from vault_client import Client  # noqa: E402
from vault_client._internal import rotation as sdk_rotation  # noqa: E402
from vault_client._internal.transport import MemberAuth, Transport  # noqa: E402

from tests.relayproc import RelayProcess  # noqa: E402
from vault.crypto import labels  # noqa: E402
from vault.crypto.identity import Identity  # noqa: E402
from vault.crypto.log import LogEntry, sign_entry  # noqa: E402
from vault.crypto.log_entries import AddBody, Role  # noqa: E402
from vault.crypto.primitives import default_clock, frame  # noqa: E402

PASSPHRASE = "benchmark passphrase"
GRANT_CONTENT = 2 + 32 + 8 + 32 * 4  # the signed part of a grant's content
CORES = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()


# --- instruments -----------------------------------------------------------------------------


class Meter:
    """HTTP requests, and time spent in ``rotation.issue`` and ``build_grants``."""

    def __init__(self) -> None:
        self.requests = 0
        self.issue_s = 0.0
        self.build_s = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[Meter]:
        send = httpx.Client.send
        issue, build = sdk_rotation.issue, sdk_rotation.build_grants
        meter = self

        def counting_send(client: httpx.Client, *args: Any, **kwargs: Any) -> httpx.Response:
            with meter._lock:
                meter.requests += 1
            return send(client, *args, **kwargs)

        def timed_issue(*args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            try:
                issue(*args, **kwargs)
            finally:
                meter.issue_s += time.perf_counter() - start

        def timed_build(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return build(*args, **kwargs)
            finally:
                meter.build_s += time.perf_counter() - start

        httpx.Client.send = counting_send  # type: ignore[method-assign]
        sdk_rotation.issue = timed_issue  # type: ignore[assignment]
        sdk_rotation.build_grants = timed_build
        try:
            yield self
        finally:
            httpx.Client.send = send  # type: ignore[method-assign]
            sdk_rotation.issue = issue
            sdk_rotation.build_grants = build


def resident_kb() -> tuple[int, int]:
    """(VmRSS, VmHWM) of this process in KiB (0, 0 where /proc is not there)."""
    try:
        text = Path("/proc/self/status").read_text()
    except OSError:
        return 0, 0
    rss = re.search(r"VmRSS:\s+(\d+)", text)
    hwm = re.search(r"VmHWM:\s+(\d+)", text)
    return (int(rss.group(1)) if rss else 0, int(hwm.group(1)) if hwm else 0)


def reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def relay_env(tree: str | None) -> dict[str, str]:
    """The environment that runs the relay from *tree* (None: as installed)."""
    if tree is None:
        return {}
    return {"PYTHONPATH": os.pathsep.join([str(Path(tree).resolve()), os.environ.get(
        "PYTHONPATH", "")]).rstrip(os.pathsep)}


def best_of(repeats: int, run: Callable[[], Any]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


# --- the group -------------------------------------------------------------------------------


def build_group(root: Path, relay: RelayProcess, members: int) -> tuple[Client, str, float]:
    """The owner's client and a group of *members* (the owner and *members*-1 added)."""
    owner = Client(PASSPHRASE, home=root / f"owner-{members}", relay_url=relay.url)
    group = owner.create_group(f"Rotation benchmark {members}", display_name="Owner")
    gid = group.group_id
    view = owner._device.view(gid)  # benchmark-only peek: the owner's identity and log
    me: Identity = view.me
    last = LogEntry.decode(view.entries[-1])
    started = time.perf_counter()
    transport = Transport(relay.url, timeout=120)
    auth = MemberAuth(view.group_id, me)
    for _ in range(members - 1):
        joiner = Identity.generate()
        entry = sign_entry(me, AddBody(joiner.public, Role.MEMBER), group_id=view.group_id,
                           seq=last.seq + 1, prev_hash=last.hash,
                           timestamp_ms=max(default_clock(), last.timestamp_ms))
        transport.append(auth, view.group_id, entry.raw)
        last = entry
    transport.close()
    owner.sync(gid)
    assert len(owner.members(gid)) == members, len(owner.members(gid))
    return owner, gid, time.perf_counter() - started


# --- floors ----------------------------------------------------------------------------------


def floors(box_pks: list[bytes], sign_sk: bytes, repeats: int) -> dict[str, float]:
    content = bytes(GRANT_CONTENT)
    label = frame(labels.EPOCH_GRANT)
    seal = sodium.crypto_box_seal
    sign = sodium.crypto_sign
    signed_content = content + bytes(64)

    def seals(pks: list[bytes]) -> None:
        for pk in pks:
            seal(signed_content, pk)

    def grants(pks: list[bytes]) -> None:
        for pk in pks:
            seal(content + sign(label + content, sign_sk)[:64], pk)

    batches = [box_pks[i:i + 256] for i in range(0, len(box_pks), 256)]
    with ThreadPoolExecutor(CORES) as pool:
        def seals_all() -> None:
            list(pool.map(seals, batches))

        def grants_all() -> None:
            list(pool.map(grants, batches))

        out = {"seal_1": float("inf"), "seal_all": float("inf"),
               "grant_1": float("inf"), "grant_all": float("inf")}
        for _ in range(repeats):  # interleaved: each one's least disturbed run
            out["seal_1"] = min(out["seal_1"], best_of(1, lambda: seals(box_pks)))
            out["seal_all"] = min(out["seal_all"], best_of(1, seals_all))
            out["grant_1"] = min(out["grant_1"], best_of(1, lambda: grants(box_pks)))
            out["grant_all"] = min(out["grant_all"], best_of(1, grants_all))
    return out


# --- one size --------------------------------------------------------------------------------


def bench(root: Path, relay: RelayProcess, members: int, repeats: int) -> dict[str, Any]:
    owner, gid, seeded_s = build_group(root, relay, members)
    view = owner._device.view(gid)
    box_pks = [m.identity.box_pk for m in view.state.members.values()]
    assert len(box_pks) == members
    runs: list[dict[str, float]] = []
    for _ in range(repeats):
        with Meter().installed() as meter:
            start = time.perf_counter()
            epoch = owner.rotate(gid)
            elapsed = time.perf_counter() - start
        runs.append({"total": elapsed, "issue": meter.issue_s, "build": meter.build_s,
                     "requests": meter.requests})
        view = owner._device.view(gid)
        assert view.state.epoch == epoch
        assert all((epoch, pk) in view.issued for pk in view.state.members)
    floor = floors(box_pks, view.me.sign_sk, max(3, repeats))
    # Peak memory: one more rotation, untimed, traced.
    rss_before, _ = resident_kb()
    peak_reset = reset_peak()
    tracemalloc.start()
    owner.rotate(gid)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    _, hwm = resident_kb()
    owner.close()
    best = min(runs, key=lambda r: r["total"])
    n = members
    return {
        f"rotation_{n}_ms": best["total"] * 1e3,
        f"rotation_{n}_median_ms": statistics.median(r["total"] for r in runs) * 1e3,
        f"rotation_{n}_grants_ms": best["issue"] * 1e3,
        f"rotation_{n}_grants_sealing_ms": best["build"] * 1e3,
        f"rotation_{n}_http_requests": int(best["requests"]),
        f"rotation_{n}_sealing_floor_1core_ms": floor["seal_1"] * 1e3,
        f"rotation_{n}_sealing_floor_allcores_ms": floor["seal_all"] * 1e3,
        f"rotation_{n}_grant_floor_1core_ms": floor["grant_1"] * 1e3,
        f"rotation_{n}_grant_floor_allcores_ms": floor["grant_all"] * 1e3,
        f"rotation_{n}_ratio": best["total"] / floor["seal_1"],
        f"rotation_{n}_ratio_allcores": best["total"] / floor["seal_all"],
        f"rotation_{n}_grants_sealing_ratio_grant_floor_allcores":
            best["build"] / floor["grant_all"],
        f"rotation_{n}_peak_traced_mib": traced_peak / 2**20,
        f"rotation_{n}_peak_rss_growth_mib":
            (hwm - rss_before) / 1024 if peak_reset else float("nan"),
        f"rotation_{n}_seeding_s": seeded_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", default="1000,10000",
                        help="comma-separated group sizes (default 1000,10000)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rotations per size")
    parser.add_argument("--quick", action="store_true", help="200 members, 2 rotations")
    parser.add_argument("--relay-tree", metavar="DIR",
                        help="run the relay from this source tree (PYTHONPATH), e.g. a "
                             "worktree of another commit; default: the installed one")
    args = parser.parse_args()
    sizes = [int(s) for s in args.members.split(",")]
    if args.quick:
        sizes, args.repeats = [200], 2
    figures: dict[str, Any] = {
        "machine": f"{platform.machine()} CPython {platform.python_version()}",
        "cores": CORES,
    }
    with tempfile.TemporaryDirectory(prefix="vault-rotation-") as tmp:
        root = Path(tmp)
        relay = RelayProcess(root / "relay", workers=2, threads=8,
                             env=relay_env(args.relay_tree))
        try:
            for n in sizes:
                f = bench(root, relay, n, args.repeats)
                figures.update(f)
                print(f"rotation of {n:,} members: {f[f'rotation_{n}_ms']:.1f} ms (median "
                      f"{f[f'rotation_{n}_median_ms']:.1f} ms, "
                      f"{f[f'rotation_{n}_http_requests']} HTTP requests); grants "
                      f"{f[f'rotation_{n}_grants_ms']:.1f} ms of which sealing "
                      f"{f[f'rotation_{n}_grants_sealing_ms']:.1f} ms")
                print(f"  sealing floor (crypto_box_seal x {n:,}): one core "
                      f"{f[f'rotation_{n}_sealing_floor_1core_ms']:.1f} ms, {CORES} cores "
                      f"{f[f'rotation_{n}_sealing_floor_allcores_ms']:.1f} ms | grant floor "
                      f"(sign + seal): one core {f[f'rotation_{n}_grant_floor_1core_ms']:.1f}"
                      f" ms, {CORES} cores {f[f'rotation_{n}_grant_floor_allcores_ms']:.1f} ms")
                print(f"  ratio {f[f'rotation_{n}_ratio']:.2f}x the one-core sealing floor "
                      f"(target <= 1.5), {f[f'rotation_{n}_ratio_allcores']:.2f}x the "
                      f"all-cores one | peak memory: traced "
                      f"{f[f'rotation_{n}_peak_traced_mib']:.1f} MiB, resident growth "
                      f"{f[f'rotation_{n}_peak_rss_growth_mib']:.1f} MiB | seeding "
                      f"{f[f'rotation_{n}_seeding_s']:.0f} s (not timed)")
        finally:
            relay.stop()
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                      for k, v in figures.items()}, sort_keys=True))


if __name__ == "__main__":
    main()
