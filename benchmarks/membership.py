"""Membership at scale (issue 14, "Must reach" 3): one add or remove in a big group, and
verifying that group's whole log on a new device, each beside its floor.

Run: ``python benchmarks/membership.py [--sizes 1000,10000] [--pairs K] [--quick]
[--no-relay]``. ``--quick`` is ``--sizes 300 --pairs 15`` (seconds); the default takes
a couple of minutes on 2 CPUs (most of it building the 10,000-member log on the relay).

For each size N it builds a group of N members: the genesis entry, then N-1 ADD entries
signed by the owner (fresh identities, no invite), and then measures:

* **device, from scratch**: ``verify_log`` of the whole log (best of a few runs), beside
  its floor: the bare PyNaCl calls the log cannot avoid, on the same bytes (one Ed25519
  ``crypto_sign_open`` per entry signature and per identity binding an ADD carries, and
  one BLAKE2b per entry hash and for the group id).
* **device, one entry**: from the verified N-member state, K pairs of entries (ADD a new
  member, then REMOVE them, which starts a new epoch) are applied in a chain, each timed as
  ``extend_log(state, [raw])`` (how a device takes a served entry) and as
  ``apply_entry(state, entry)`` (how it takes its own): the median per kind, beside the
  floor of that entry (two signature checks and a hash for an ADD, one and a hash for a
  REMOVE; median over the same entries). Beside them, what the SDK adds when a device
  takes the entry: ``log_events`` (what changed, as events) from the state before and
  after, printed as ``extend_log`` + that against the same floor.
* **relay, one entry** (``--no-relay`` skips it): the relay in process (``create_app``),
  on a fresh SQLite file with its migrations, driven through the Flask test client with an
  owner session: the N-1 ADDs are appended through ``POST /v1/groups/<gid>/log`` (their
  total is printed as the relay's build time), then K add/remove pairs the same way, each
  request timed (median per kind). Its floor, measured in the same run: a bare Flask app on
  a SQLite file of its own (same pragmas: WAL, synchronous FULL) that parses the same
  JSON, decodes the entry and INSERTs it with SQLAlchemy Core in one autocommitted
  statement, through the same test client, plus the entry's crypto floor above.

Ratios are project time / floor time. The last line is one JSON object with every figure
(seconds for the whole-log figures, milliseconds for per-entry ones, as the key says).
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import nacl.bindings as sodium
from vault_client._internal import sync as sync_engine
from vault_client._internal.group_view import GroupView

from vault.crypto import labels
from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.epochs import new_epoch_key
from vault.crypto.identity import Identity
from vault.crypto.log import LogEntry, create_group, group_id_of, sign_entry
from vault.crypto.log_entries import AddBody, EntryBody, RemoveBody, Role
from vault.crypto.log_verify import apply_entry, extend_log, verify_log
from vault.crypto.primitives import SIGNATURE_SIZE, default_clock, frame

Checks = list[tuple[bytes, bytes]]
"""(signature || framed message, public key) for each signature an entry needs checked."""


def ms(seconds: float) -> float:
    return seconds * 1000.0


b64 = b64encode


# --- the log and its floor ---------------------------------------------------------------


class Chain:
    """The owner's side of a growing log: signs each next entry on the current head."""

    def __init__(self) -> None:
        self.owner = Identity.generate()
        self.epoch = 0
        genesis = create_group(self.owner, new_epoch_key(), now_ms=default_clock())
        self.group_id = group_id_of(genesis)
        self.entries: list[LogEntry] = [genesis]

    def next(self, body: EntryBody) -> LogEntry:
        last = self.entries[-1]
        entry = sign_entry(self.owner, body, group_id=self.group_id, seq=last.seq + 1,
                           prev_hash=last.hash,
                           timestamp_ms=max(default_clock(), last.timestamp_ms))
        self.entries.append(entry)
        return entry

    def add(self, member: Identity) -> LogEntry:
        return self.next(AddBody(member.public, Role.MEMBER))

    def remove(self, member: Identity) -> LogEntry:
        self.epoch += 1
        commitment = epoch_commitment(commitment_group_id(self.group_id, self.epoch),
                                      self.epoch, new_epoch_key())
        return self.next(RemoveBody(member.sign_pk, self.epoch, commitment))

    @property
    def raw(self) -> list[bytes]:
        return [entry.raw for entry in self.entries]


def signature_checks(entry: LogEntry) -> Checks:
    """What ``crypto_sign_open`` must check for *entry*: its own signature and, for a body
    that carries an identity (an ADD, the genesis), that identity's binding."""
    out = [(entry.signature + frame(labels.LOG_ENTRY_SIGNATURE) + entry.raw[:-SIGNATURE_SIZE],
            entry.author)]
    body = entry.body
    identity = body.member if isinstance(body, AddBody) else getattr(body, "creator", None)
    if identity is not None:
        out.append((identity.binding_sig + frame(labels.IDENTITY_BINDING) + identity.sign_pk
                    + identity.box_pk, identity.sign_pk))
    return out


def crypto_floor(entries: list[LogEntry], *, group_id: bool = False) -> Callable[[], None]:
    """A run of the bare calls: every signature check and every entry hash of *entries*."""
    checks = [check for entry in entries for check in signature_checks(entry)]
    hash_inputs = [frame(labels.LOG_ENTRY_HASH) + entry.raw for entry in entries]
    if group_id:
        hash_inputs.append(frame(labels.GROUP_ID) + entries[0].raw)
    open_ = sodium.crypto_sign_open
    blake = sodium.crypto_generichash_blake2b_salt_personal

    def run() -> None:
        for message, pk in checks:
            open_(message, pk)
        for data in hash_inputs:
            blake(data, digest_size=32)

    return run


def timed(run: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = run(*args)
    return time.perf_counter() - start, result


def best(repeats: int, run: Callable[[], Any]) -> float:
    return min(timed(run)[0] for _ in range(repeats))


def median_ms(values: list[float]) -> float:
    return ms(statistics.median(values))


# --- the relay and its floor -------------------------------------------------------------


class Relay:
    """The relay in process on a fresh SQLite file, through the Flask test client."""

    def __init__(self, directory: Path) -> None:
        from vault.api import create_app, upgrade_database

        config = {
            "VAULT_DATABASE_URL": f"sqlite:///{directory / 'relay.db'}",
            "VAULT_RATE_LIMIT": 0,
            "VAULT_RATE_LIMIT_EXPENSIVE": 0,
            "VAULT_LOG_LEVEL": "WARNING",
        }
        upgrade_database(config)
        self.app = create_app(config)
        self.client = self.app.test_client()
        self.token = ""
        self.base = ""

    def create(self, chain: Chain) -> None:
        from vault.crypto.auth import sign_member_challenge

        response = self.client.post("/v1/groups", json={"genesis": b64(chain.entries[0].raw)})
        assert response.status_code == 201, response.get_json()
        self.base = f"/v1/groups/{b64(chain.group_id)}"
        member = b64(chain.owner.sign_pk)
        response = self.client.post(f"{self.base}/auth/challenge", json={"member": member})
        assert response.status_code == 201, response.get_json()
        challenge = b64decode(response.get_json()["challenge"])
        signature = sign_member_challenge(chain.owner, chain.group_id, challenge)
        response = self.client.post(f"{self.base}/auth/session", json={
            "member": member, "challenge": b64(challenge), "signature": b64(signature)})
        assert response.status_code == 201, response.get_json()
        self.token = response.get_json()["token"]

    def append(self, entry: LogEntry) -> float:
        body = {"entry": b64(entry.raw)}
        headers = {"Authorization": f"Bearer {self.token}"}
        start = time.perf_counter()
        response = self.client.post(f"{self.base}/log", json=body, headers=headers)
        elapsed = time.perf_counter() - start
        assert response.status_code == 201, response.get_json()
        return elapsed


def bare_app(directory: Path) -> Any:
    """The relay's floor: parse the same JSON, decode the entry, one INSERT, autocommit."""
    import sqlalchemy as sa
    from flask import Flask, request

    engine = sa.create_engine(f"sqlite:///{directory / 'bare.db'}",
                              isolation_level="AUTOCOMMIT")

    @sa.event.listens_for(engine, "connect")
    def _pragmas(conn: Any, _record: Any) -> None:
        cursor = conn.cursor()
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.close()

    meta = sa.MetaData()
    table = sa.Table("entries", meta, sa.Column("seq", sa.Integer, primary_key=True),
                     sa.Column("raw", sa.LargeBinary, nullable=False))
    meta.create_all(engine)
    insert = table.insert()
    app = Flask("bare")

    @app.post("/log")
    def append() -> Any:
        raw = b64decode(request.get_json()["entry"])
        with engine.connect() as conn:
            conn.execute(insert, {"raw": raw})
        return {"ok": True}, 201

    return app.test_client()


# --- one size ------------------------------------------------------------------------------


def measure(members: int, pairs: int, repeats: int, relay_too: bool) -> dict[str, float]:
    out: dict[str, float] = {"members": members}
    chain = Chain()
    joiners = [Identity.generate() for _ in range(members - 1)]
    with tempfile.TemporaryDirectory(prefix="vault-membership-") as tmp:
        relay = Relay(Path(tmp)) if relay_too else None
        bare = bare_app(Path(tmp)) if relay_too else None
        if relay is not None:
            relay.create(chain)
        build = 0.0
        for joiner in joiners:  # signed just in time: the relay bounds an entry's age
            entry = chain.add(joiner)
            if relay is not None:
                build += relay.append(entry)
        raws = chain.raw
        print(f"\n== {members:,} members: a log of {len(raws):,} entries "
              f"({sum(map(len, raws)) / 1e6:.1f} MB)")

        # Device: the whole log from scratch, beside the bare signature checks and hashes.
        floor_run = crypto_floor(chain.entries, group_id=True)
        verify_s = floor_s = float("inf")
        state = None
        for _ in range(repeats):
            elapsed, state = timed(verify_log, chain.group_id, raws)
            verify_s = min(verify_s, elapsed)
            floor_s = min(floor_s, timed(floor_run)[0])
        assert state is not None and len(state.members) == members
        out.update(verify_s=verify_s, verify_floor_s=floor_s, verify_ratio=verify_s / floor_s)
        checks = sum(len(signature_checks(e)) for e in chain.entries)
        print(f"  device verify_log, whole log   {verify_s:8.3f} s   floor {floor_s:8.3f} s "
              f"({checks:,} crypto_sign_open + {len(raws) + 1:,} BLAKE2b)   "
              f"ratio {verify_s / floor_s:5.2f}")

        # Device: one entry at a time on the N-member state (a chain of add/remove pairs).
        times: dict[str, list[float]] = {k: [] for k in (
            "add_extend", "add_apply", "add_floor", "remove_extend", "remove_apply",
            "remove_floor", "add_events", "remove_events", "relay_add", "relay_remove",
            "bare_insert")}
        # The SDK's side of taking an entry: the events it lists from the two states.
        view = GroupView(chain.group_id, "http://127.0.0.1", "member", Identity.generate(),
                         state, list(raws), "none")
        for _ in range(pairs):
            newcomer = Identity.generate()
            for kind, entry in (("add", chain.add(newcomer)), ("remove", None)):
                if entry is None:
                    entry = chain.remove(newcomer)
                before = state
                times[f"{kind}_apply"].append(timed(apply_entry, before, entry)[0])
                elapsed, state = timed(extend_log, before, [entry.raw])
                times[f"{kind}_extend"].append(elapsed)
                view.entries.append(entry.raw)
                view.state = state
                times[f"{kind}_events"].append(timed(sync_engine.log_events, view, before,
                                                     state)[0])
                times[f"{kind}_floor"].append(timed(crypto_floor([entry]))[0])
                if relay is not None and bare is not None:
                    times[f"relay_{kind}"].append(relay.append(entry))
                    body = {"entry": b64(entry.raw)}
                    start = time.perf_counter()
                    response = bare.post("/log", json=body)
                    times["bare_insert"].append(time.perf_counter() - start)
                    assert response.status_code == 201
        assert state is not None and len(state.members) == members
        for kind in ("add", "remove"):
            floor_ms = median_ms(times[f"{kind}_floor"])
            out[f"device_{kind}_floor_ms"] = floor_ms
            for how in ("extend", "apply"):
                value = median_ms(times[f"{kind}_{how}"])
                out[f"device_{kind}_{how}_ms"] = value
                out[f"device_{kind}_{how}_ratio"] = value / floor_ms
                call = "extend_log" if how == "extend" else "apply_entry"
                print(f"  device {kind:6} ({call:11})    {value:8.3f} ms  floor {floor_ms:8.3f} ms "
                      f"(its signature checks + hash)   ratio {value / floor_ms:5.2f}")
            events = median_ms(times[f"{kind}_events"])
            whole = out[f"device_{kind}_extend_ms"] + events
            out[f"device_{kind}_events_ms"] = events
            out[f"device_{kind}_with_events_ms"] = whole
            out[f"device_{kind}_with_events_ratio"] = whole / floor_ms
            print(f"  device {kind:6} (+ SDK events) {whole:8.3f} ms  floor {floor_ms:8.3f} ms "
                  f"(extend_log + log_events {events:.3f} ms)   ratio {whole / floor_ms:5.2f}")
        if relay is not None:
            bare_ms = median_ms(times["bare_insert"])
            out["relay_build_s"] = build
            out["relay_bare_insert_ms"] = bare_ms
            for kind in ("add", "remove"):
                value = median_ms(times[f"relay_{kind}"])
                floor_ms = bare_ms + out[f"device_{kind}_floor_ms"]
                out[f"relay_{kind}_ms"] = value
                out[f"relay_{kind}_floor_ms"] = floor_ms
                out[f"relay_{kind}_ratio"] = value / floor_ms
                print(f"  relay  {kind:6} (POST, SQLite)   {value:8.3f} ms  floor "
                      f"{floor_ms:8.3f} ms (bare Flask insert {bare_ms:.3f} + crypto)   "
                      f"ratio {value / floor_ms:5.2f}")
            print(f"  relay  build: {members - 1:,} appends  {build:8.2f} s "
                  f"({ms(build) / (members - 1):.3f} ms each on average)")
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="1000,10000",
                        help="comma-separated member counts (default 1000,10000)")
    parser.add_argument("--pairs", type=int, default=41,
                        help="add/remove pairs timed one entry at a time (default 41)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="runs of the whole-log verification; the best is kept")
    parser.add_argument("--quick", action="store_true", help="--sizes 300 --pairs 15")
    parser.add_argument("--no-relay", action="store_true", help="the device figures only")
    args = parser.parse_args()
    sizes = [300] if args.quick else [int(s) for s in args.sizes.split(",") if s]
    pairs = 15 if args.quick else args.pairs
    print(f"membership benchmark: python {platform.python_version()} on "
          f"{platform.machine()}, sizes {sizes}, {pairs} add/remove pairs, "
          f"relay {'off' if args.no_relay else 'in process on SQLite (Flask test client)'}")
    results = {str(n): measure(n, pairs, args.repeats, not args.no_relay) for n in sizes}
    print(json.dumps({"benchmark": "membership", "pairs": pairs,
                      "sizes": {k: {name: round(v, 4) for name, v in r.items()}
                                for k, r in results.items()}}))


if __name__ == "__main__":
    main()
