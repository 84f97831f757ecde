"""Backup benchmark (issue 13, "Revoking and recovering"): making a backup of a member's
device in G groups (default 20) and restoring it onto a new device, against a real relay,
beside the floor each cannot go below.

Run: ``python benchmarks/backup.py [--groups G] [--posts P] [--repeats R]``.

It starts ``vault relay serve`` (SQLite in a temporary directory) on 127.0.0.1. A member
creates G groups and writes P posts in each (not timed). Timed, best and median of R:

* ``Client.backup()``: every group's export (checkpoint, post marks), its epoch keys, one
  Argon2id derivation and one XChaCha20-Poly1305 seal; beside the **sealing floor**: bare
  ``seal_keystore`` of the same contents (``backup_contents``), which is Argon2id at the
  keystore's cost plus the AEAD;
* ``Client.restore()`` on a fresh device: one Argon2id to open the file, then per group the
  log fetched and verified against the checkpoint, the identity stored, and one whole sync
  (its P posts fetched, opened, stored); beside the **restore floor**: bare ``open_keystore``
  of the same file (Argon2id + AEAD) plus, per group, what a fresh device's sync of it
  costs anyway (``Client.sync`` of the same group on a device that already holds its
  identity: an import, timed the same way).

Ratios are the timed figure / its floor. The last line is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vault_client import Client  # noqa: E402

from tests.relayproc import RelayProcess  # noqa: E402
from vault.crypto.backup import backup_contents, normal_phrase, open_backup  # noqa: E402
from vault.crypto.keystore import open_keystore, seal_keystore  # noqa: E402

PASSPHRASE = "benchmark passphrase for the backup"
TRANSFER = "a transfer passphrase for the benchmark"


def timed(run: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run()
    return time.perf_counter() - start, result


def bench(root: Path, relay: RelayProcess, groups: int, posts: int,
          repeats: int) -> dict[str, Any]:
    member = Client(PASSPHRASE, home=root / "member", relay_url=relay.url)
    ids = []
    for g in range(groups):
        gid = member.create_group(f"Group {g}", display_name="Member").group_id
        for p in range(posts):
            member.post(gid, f"post {p} of group {g}: a few words, as members write them")
        ids.append(gid)
    made_runs, seal_floor = [], []
    made = None
    for _ in range(repeats):
        seconds, made = timed(member.backup)
        made_runs.append(seconds)
        contents = backup_contents(open_backup(made.data, made.recovery_phrase))
        floor_s, _ = timed(lambda c=contents, m=made: seal_keystore(
            c, normal_phrase(m.recovery_phrase)))
        seal_floor.append(floor_s)
    assert made is not None
    exports = [member.export_identity(gid, TRANSFER) for gid in ids]
    member.close()
    restore_runs, open_floor, import_runs = [], [], []
    for r in range(repeats):
        fresh = Client(PASSPHRASE, home=root / f"restored-{r}", relay_url=relay.url)
        seconds, results = timed(lambda f=fresh: f.restore(made.data, made.recovery_phrase))
        assert [x.outcome for x in results] == ["restored"] * groups, results
        assert all(len(fresh.posts(gid)) == posts for gid in ids)
        restore_runs.append(seconds)
        fresh.close()
        floor_s, _ = timed(lambda: open_keystore(made.data, normal_phrase(made.recovery_phrase)))
        open_floor.append(floor_s)
        # What a fresh device pays for the same groups anyway, without the backup's own
        # Argon2id: each group taken by an import (whose own Argon2id is subtracted).
        other = Client(PASSPHRASE, home=root / f"imported-{r}", relay_url=relay.url)
        total = 0.0
        for data in exports:
            kdf_s, _ = timed(lambda d=data: open_keystore(d, TRANSFER))
            seconds, _ = timed(lambda d=data, o=other: o.import_identity(d, TRANSFER))
            total += seconds - kdf_s
        import_runs.append(total)
        other.close()
    best_made, best_restore = min(made_runs), min(restore_runs)
    floor_made = min(seal_floor)
    floor_restore = min(open_floor) + min(import_runs)
    return {
        "backup_groups": groups, "backup_posts_per_group": posts,
        "backup_bytes": len(made.data),
        "backup_ms": best_made * 1e3, "backup_median_ms": statistics.median(made_runs) * 1e3,
        "backup_floor_ms": floor_made * 1e3, "backup_ratio": best_made / floor_made,
        "restore_ms": best_restore * 1e3,
        "restore_median_ms": statistics.median(restore_runs) * 1e3,
        "restore_floor_ms": floor_restore * 1e3,
        "restore_floor_open_ms": min(open_floor) * 1e3,
        "restore_floor_groups_ms": min(import_runs) * 1e3,
        "restore_ratio": best_restore / floor_restore,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--posts", type=int, default=20, help="posts in each group")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="vault-backup-") as tmp:
        root = Path(tmp)
        relay = RelayProcess(root / "relay")
        try:
            f = bench(root, relay, args.groups, args.posts, args.repeats)
        finally:
            relay.stop()
    print(f"backup of {f['backup_groups']} groups ({f['backup_bytes']:,} bytes): "
          f"{f['backup_ms']:.0f} ms (median {f['backup_median_ms']:.0f}) beside the sealing "
          f"floor {f['backup_floor_ms']:.0f} ms (Argon2id + AEAD of the same contents): "
          f"{f['backup_ratio']:.2f}x")
    print(f"restore onto a new device: {f['restore_ms']:.0f} ms (median "
          f"{f['restore_median_ms']:.0f}) beside its floor {f['restore_floor_ms']:.0f} ms "
          f"(opening the file {f['restore_floor_open_ms']:.0f} ms + the same groups taken by "
          f"imports, their own Argon2id left out, {f['restore_floor_groups_ms']:.0f} ms): "
          f"{f['restore_ratio']:.2f}x")
    figures = {"python": platform.python_version(), "machine": platform.machine(),
               "cores": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity")
               else os.cpu_count(),
               **{k: round(v, 3) if isinstance(v, float) else v for k, v in f.items()}}
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
