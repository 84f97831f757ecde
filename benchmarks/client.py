"""SDK benchmark: joining by QR and a cold sync of 10,000 posts, against a real relay.

Run: ``python benchmarks/client.py [--posts N] [--repeats R] [--quick]``.

It starts its own relay (``vault relay serve``, SQLite in a temporary directory) on
127.0.0.1 and drives it with ``vault_client.Client`` exactly as a member's device does.
Every figure is printed with its ratio to the *crypto floor*: the bare PyNaCl/libsodium
calls the same work cannot avoid, timed in the same run on the same bytes (as
``benchmarks/crypto.py`` does). The last output line is one JSON object with every figure.

(a) Join by QR, end to end on loopback, from decoding the PNG to reading the first post:
    the joiner's ``join_from_image`` (decode the image, read and verify the log, make a
    fresh identity, send the join request), the admin's ``pending_requests`` + ``approve``
    (history "current", so the welcome post written before the join is readable), then the
    joiner's ``sync`` and ``posts()[0]``. Argon2 is excluded: both clients are opened (their
    keystores unlocked) before the clock starts, and the one keystore *re-seal* inside the
    join (a new identity is written to the keystore, which derives the key with Argon2id
    again) is timed by wrapping the SDK's keystore writer and subtracted; the figure with it
    is printed too. Floor: for every log entry the joiner verifies, one Ed25519 verify + one
    BLAKE2b (the hash chain); opening its grant, one crypto_box_seal_open + one Ed25519
    verify + one BLAKE2b (the key commitment); opening the first post, one
    XChaCha20-Poly1305 decrypt + sodium_unpad + one Ed25519 verify. Not counted: the
    joiner's own key generation and signatures, the admin's work, HTTP (the request count is
    printed).

(b) Cold sync: a fresh member (approved with history "all") syncs a group holding N posts
    (default 10,000; 80% posts, 15% replies, 5% reactions; 4 authors; texts of 40-600
    characters). The posts are sealed with ``vault.crypto.posts.seal_post`` under the
    authors' real identities and keys and uploaded over HTTP in parallel (the seeding is
    not timed). Timed: the member's first ``client.sync(group)`` (approval check, log,
    grants, every page of posts, open, verify, order, seal each into the local store,
    commit) with its keystore already unlocked. Floor: N x (XChaCha20-Poly1305 decrypt +
    sodium_unpad + Ed25519 verify) on the same envelopes. The protocol core alone
    (``open_post`` over the same envelopes) is printed as well, to split the overhead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import select
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import nacl.bindings as sodium
from vault_client import Client
from vault_client._internal import keys as sdk_keys
from vault_client._internal.qr import decode_invite_image
from vault_client._internal.transport import MemberAuth, Transport

from vault.crypto import labels
from vault.crypto.encoding import b64decode
from vault.crypto.epochs import GrantContent, build_grants, post_key
from vault.crypto.log import LogEntry
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope, open_post, seal_post
from vault.crypto.primitives import frame

PASSPHRASE = "benchmark passphrase"
AUTHORS = 4
WORDS = ("today", "was", "hard", "but", "I", "went", "for", "a", "walk", "and", "called",
         "my", "sister", "thank", "you", "all", "for", "listening", "one", "day", "at",
         "time", "sleep", "better", "meeting", "tomorrow", "feeling", "grateful")


# --- the relay -------------------------------------------------------------------------------


class Relay:
    """``vault relay serve`` on 127.0.0.1 with SQLite in *data_dir*, in its own session."""

    def __init__(self, data_dir: str) -> None:
        env = {**os.environ, "VAULT_DATA_DIR": data_dir, "VAULT_LOG_LEVEL": "WARNING",
               "VAULT_RATE_LIMIT": "0", "VAULT_RATE_LIMIT_EXPENSIVE": "0"}
        env.pop("VAULT_DATABASE_URL", None)
        vault = str(Path(sys.executable).with_name("vault"))
        self.proc = subprocess.Popen(
            [vault, "relay", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "2",
             "--threads", "8"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env, text=True,
            start_new_session=True)
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                found = re.search(r"listening on (http://127\.0\.0\.1:\d+)", line)
                if found:
                    self.url = found.group(1)
                    return
                if not line and self.proc.poll() is not None:
                    break
        self.stop()
        raise RuntimeError("the relay did not start")

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# --- instruments -----------------------------------------------------------------------------


class Meter:
    """Counts HTTP requests and times keystore writes (Argon2id) while installed."""

    def __init__(self) -> None:
        self.requests = 0
        self.keystore_s = 0.0
        self._lock = threading.Lock()

    @contextmanager
    def installed(self) -> Iterator[Meter]:
        send, save = httpx.Client.send, sdk_keys.save_keystore
        meter = self

        def counting_send(client: httpx.Client, *args: Any, **kwargs: Any) -> httpx.Response:
            with meter._lock:
                meter.requests += 1
            return send(client, *args, **kwargs)

        def timed_save(*args: Any, **kwargs: Any) -> None:
            start = time.perf_counter()
            try:
                save(*args, **kwargs)
            finally:
                meter.keystore_s += time.perf_counter() - start

        httpx.Client.send = counting_send  # type: ignore[method-assign]
        sdk_keys.save_keystore = timed_save
        try:
            yield self
        finally:
            httpx.Client.send = send  # type: ignore[method-assign]
            sdk_keys.save_keystore = save


def best_of(repeats: int, run: Callable[[], None]) -> float:
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    return best


def view(client: Client, group_id: str) -> Any:
    """The client's in-memory view of a group (benchmark-only peek: floor inputs)."""
    return client._device.view(group_id)


def new_client(root: Path, name: str, relay: Relay) -> Client:
    return Client(PASSPHRASE, home=root / name, relay_url=relay.url)


# --- (a) join by QR ----------------------------------------------------------------------------


def join_floor(joiner: Client, admin: Client, group_id: str, first_post_id: str,
               repeats: int) -> tuple[float, dict[str, int]]:
    """Seconds for the bare crypto of one join (see the module docstring), and the counts."""
    me_view = view(joiner, group_id)
    entries = [LogEntry.decode(raw) for raw in me_view.entries]
    log_inputs = [(e.raw[:-64], e.signature, e.author, e.raw) for e in entries]
    me = me_view.me
    state = me_view.state
    epoch = state.epoch
    epoch_key = me_view.keys[epoch]
    (grant,) = build_grants(view(admin, group_id).me, state.group_id, epoch, epoch_key,
                            [me.public])
    opened = me_view.timeline.get(b64decode(first_post_id))
    envelope = opened.envelope
    key = post_key(epoch_key, envelope.group_id, envelope.epoch)
    author_pk = opened.body.author
    log_label, grant_label = frame(labels.LOG_ENTRY_SIGNATURE), frame(labels.EPOCH_GRANT)
    post_label, hash_label = frame(labels.POST_SIGNATURE), frame(labels.LOG_ENTRY_HASH)
    commit_label = frame(labels.EPOCH_COMMITMENT)
    blake = sodium.crypto_generichash_blake2b_salt_personal
    content = GrantContent.decode(sodium.crypto_box_seal_open(grant.sealed, me.public.box_pk,
                                                              me.box_sk))
    inner = 200

    def floor() -> None:
        for _ in range(inner):
            for signed, signature, author, raw in log_inputs:
                sodium.crypto_sign_open(signature + log_label + signed, author)
                blake(hash_label + raw, digest_size=32)
            plain = sodium.crypto_box_seal_open(grant.sealed, me.public.box_pk, me.box_sk)
            sodium.crypto_sign_open(content.signature + grant_label + content.signed_bytes,
                                    content.granter_sign_pk)
            blake(commit_label + plain[:72], digest_size=32)
            padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                envelope.ciphertext, envelope.header, envelope.nonce, key)
            body = sodium.sodium_unpad(padded, len(padded))
            sodium.crypto_sign_open(body[-64:] + post_label + body[:-64], author_pk)

    return best_of(repeats, floor) / inner, {"log_entries": len(entries), "grants": 1,
                                             "posts": 1}


def bench_join(root: Path, relay: Relay, repeats: int) -> dict[str, Any]:
    admin = new_client(root, "join-admin", relay)
    group = admin.create_group("Join benchmark", display_name="Admin")
    welcome = "Welcome. This is a quiet place; read the rules first."
    first = admin.post(group.group_id, welcome)
    joiners = [new_client(root, f"joiner-{i}", relay) for i in range(repeats)]  # Argon2 here
    pngs = []
    for i in range(repeats):
        invite = admin.create_invite(group, max_uses=1, expires_in=3600)
        path = root / f"invite-{i}.png"
        invite.save_qr(path)
        pngs.append(path)
    decode_s = best_of(5, lambda: decode_invite_image(pngs[0]) and None)

    runs: list[dict[str, float]] = []
    for joiner, png in zip(joiners, pngs, strict=True):
        with Meter().installed() as meter:
            start = time.perf_counter()
            result = joiner.join_from_image(png)
            joined = time.perf_counter()
            (request,) = [r for r in admin.pending_requests(group.group_id)
                          if r.joiner == result.member_id]
            admin.approve(group.group_id, request, share_history="current")
            approved = time.perf_counter()
            joiner.sync(result.group_id)
            post = joiner.posts(result.group_id)[0]
            done = time.perf_counter()
        assert post.text == welcome and post.post_id == first.post_id
        runs.append({"total": done - start, "keystore": meter.keystore_s,
                     "join": joined - start, "approve": approved - joined,
                     "sync_read": done - approved, "requests": meter.requests})
    floor_s, counted = join_floor(joiners[-1], admin, group.group_id, first.post_id, 9)
    best = min(runs, key=lambda r: r["total"] - r["keystore"])
    for client in (admin, *joiners):
        client.close()
    net = best["total"] - best["keystore"]
    return {
        "join_by_qr_ms": net * 1e3,
        "join_by_qr_median_ms": statistics.median(r["total"] - r["keystore"]
                                                  for r in runs) * 1e3,
        "join_by_qr_with_keystore_seal_ms": best["total"] * 1e3,
        "join_keystore_seal_ms": best["keystore"] * 1e3,
        "join_decode_png_ms": decode_s * 1e3,
        "join_request_ms": (best["join"] - best["keystore"]) * 1e3,
        "join_admin_approve_ms": best["approve"] * 1e3,
        "join_first_sync_and_read_ms": best["sync_read"] * 1e3,
        "join_http_requests": int(best["requests"]),
        "join_floor_us": floor_s * 1e6,
        "join_floor_log_entries": counted["log_entries"],
        "join_ratio": net / floor_s,
    }


# --- (b) cold sync ---------------------------------------------------------------------------


def seed_posts(root: Path, relay: Relay, admin: Client, group_id: str, count: int,
               rng: random.Random) -> tuple[list[bytes], float]:
    """*count* posts by AUTHORS members, sealed here and uploaded in parallel."""
    invite = admin.create_invite(group_id, max_uses=AUTHORS, expires_in=3600)
    authors = []
    for i in range(AUTHORS):
        author = new_client(root, f"author-{i}", relay)
        result = author.join(invite.uri)
        admin.approve(group_id, result.member_id, share_history="current")
        author.sync(group_id)
        authors.append(author)
    admin.sync(group_id)
    started = time.perf_counter()
    envelopes: list[tuple[int, bytes, bytes]] = []  # (author index, post id, envelope)
    seqs = [0] * AUTHORS
    earlier: list[bytes] = []
    now = int(time.time() * 1000)
    for n in range(count):
        index = n % AUTHORS
        v = view(authors[index], group_id)
        state = v.state
        seqs[index] += 1
        roll = rng.random()
        kind, refs = PostKind.POST, ()
        text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(8, 110)))[:600]
        if earlier and roll < 0.05:
            kind, refs, text = PostKind.REACTION, (rng.choice(earlier),), "💜"
        elif earlier and roll < 0.20:
            kind, refs = PostKind.REPLY, (rng.choice(earlier[-200:]),)
        post_id = os.urandom(16)
        body = PostBody(author=v.me.sign_pk, group_id=state.group_id, epoch=state.epoch,
                        post_id=post_id, author_seq=seqs[index], log_seq=state.seq,
                        log_head=state.head, timestamp_ms=now + n, kind=kind, refs=refs,
                        text=text)
        envelopes.append((index, post_id, seal_post(v.me, v.keys[state.epoch], body).encode()))
        if kind is PostKind.POST:
            earlier.append(post_id)
    auths = [MemberAuth(view(a, group_id).group_id, view(a, group_id).me) for a in authors]
    local = threading.local()

    def upload(item: tuple[int, bytes, bytes]) -> None:
        transport = getattr(local, "transport", None)
        if transport is None:
            transport = local.transport = Transport(relay.url)
        transport.put_post(auths[item[0]], item[1], item[2])

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(upload, envelopes, chunksize=50))
    seeded_s = time.perf_counter() - started
    for author in authors:
        author.close()
    return [e for _, _, e in envelopes], seeded_s


def sync_floor(envelopes: list[bytes], epoch_key: bytes, state: Any,
               repeats: int) -> tuple[float, float]:
    """(bare libsodium seconds, protocol core seconds) to open every envelope."""
    decoded = [PostEnvelope.decode(raw) for raw in envelopes]
    bodies = [PostBody.decode(open_post(e, epoch_key, state).body.encode()) for e in decoded]
    key = post_key(epoch_key, decoded[0].group_id, decoded[0].epoch)
    label = frame(labels.POST_SIGNATURE)
    inputs = [(e.ciphertext, e.header, e.nonce, b.author)
              for e, b in zip(decoded, bodies, strict=True)]

    def floor() -> None:
        for ciphertext, header, nonce, author in inputs:
            padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext, header, nonce, key)
            plain = sodium.sodium_unpad(padded, len(padded))
            sodium.crypto_sign_open(plain[-64:] + label + plain[:-64], author)

    def core() -> None:
        for raw in envelopes:
            open_post(PostEnvelope.decode(raw), epoch_key, state)

    floor_s, core_s = float("inf"), float("inf")
    for _ in range(repeats):  # interleaved, best of each: the least disturbed runs
        floor_s = min(floor_s, best_of(1, floor))
        core_s = min(core_s, best_of(1, core))
    return floor_s, core_s


def bench_cold_sync(root: Path, relay: Relay, count: int, repeats: int,
                    profile: str | None) -> dict[str, Any]:
    rng = random.Random(20240501)
    admin = new_client(root, "sync-admin", relay)
    group = admin.create_group("Sync benchmark", display_name="Admin")
    gid = group.group_id
    envelopes, seeded_s = seed_posts(root, relay, admin, gid, count, rng)
    members = [new_client(root, f"member-{i}", relay) for i in range(repeats)]  # Argon2 here
    invite = admin.create_invite(gid, max_uses=repeats, expires_in=3600)
    times: list[float] = []
    requests = 0
    for member in members:
        result = member.join(invite.uri)
        admin.approve(gid, result.member_id, share_history="all")
        profiler = _profiler(profile) if member is members[-1] else None
        with Meter().installed() as meter:
            start = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            (report,) = member.sync(gid)
            if profiler is not None:
                profiler.disable()
            times.append(time.perf_counter() - start)
        requests = meter.requests
        assert report.new_posts == count, (report.new_posts, report.warnings)
        assert not report.warnings, report.warnings
        if profiler is not None:
            _save_profile(profiler, profile)
    last = members[-1]
    start = time.perf_counter()
    threads = last.threads(gid)
    threads_s = time.perf_counter() - start
    assert threads
    v = view(last, gid)
    floor_s, core_s = sync_floor(envelopes, v.keys[0], v.state, 7)
    for client in (admin, *members):
        client.close()
    best = min(times)
    return {
        "cold_sync_posts": count,
        "cold_sync_s": best,
        "cold_sync_median_s": statistics.median(times),
        "cold_sync_per_post_us": best / count * 1e6,
        "cold_sync_http_requests": requests,
        "cold_sync_floor_ms": floor_s * 1e3,
        "cold_sync_core_open_ms": core_s * 1e3,
        "cold_sync_core_ratio": core_s / floor_s,
        "cold_sync_ratio": best / floor_s,
        "cold_sync_threads_view_ms": threads_s * 1e3,
        "seeding_s": seeded_s,
    }


def _profiler(kind: str | None) -> Any:
    if kind is None:
        return None
    import cProfile

    return cProfile.Profile()


def _save_profile(profiler: Any, path: str | None) -> None:
    import pstats

    assert path is not None
    profiler.dump_stats(path)
    stats = pstats.Stats(path, stream=sys.stderr)
    stats.sort_stats("cumulative").print_stats(30)


# --- main ------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3,
                        help="fresh joiners and fresh syncing members (best is reported)")
    parser.add_argument("--quick", action="store_true", help="2,000 posts, 2 repeats")
    parser.add_argument("--profile", metavar="FILE",
                        help="cProfile the last cold sync into FILE (stats on stderr)")
    args = parser.parse_args(argv)
    if args.quick:
        args.posts, args.repeats = 2_000, 2
    with tempfile.TemporaryDirectory(prefix="vault-bench-") as tmp:
        root = Path(tmp)
        relay = Relay(str(root / "relay"))
        try:
            join = bench_join(root, relay, args.repeats)
            print(f"join by QR (decode PNG -> first post read), Argon2 excluded: "
                  f"{join['join_by_qr_ms']:.1f} ms (median {join['join_by_qr_median_ms']:.1f}"
                  f" ms; with the keystore re-seal {join['join_by_qr_with_keystore_seal_ms']:.1f}"
                  f" ms)")
            print(f"  decode PNG {join['join_decode_png_ms']:.1f} ms | join request "
                  f"{join['join_request_ms']:.1f} ms | admin approves "
                  f"{join['join_admin_approve_ms']:.1f} ms | first sync + read "
                  f"{join['join_first_sync_and_read_ms']:.1f} ms | "
                  f"{join['join_http_requests']} HTTP requests")
            print(f"  crypto floor {join['join_floor_us']:.0f} us "
                  f"({join['join_floor_log_entries']} log entries + 1 grant + 1 post): "
                  f"ratio {join['join_ratio']:.0f}x")
            sync = bench_cold_sync(root, relay, args.posts, args.repeats, args.profile)
            print(f"cold sync of {sync['cold_sync_posts']:,} posts: {sync['cold_sync_s']:.2f} s "
                  f"(median {sync['cold_sync_median_s']:.2f} s, "
                  f"{sync['cold_sync_per_post_us']:.0f} us/post, "
                  f"{sync['cold_sync_http_requests']} HTTP requests)")
            print(f"  crypto floor {sync['cold_sync_floor_ms']:.0f} ms: ratio "
                  f"{sync['cold_sync_ratio']:.1f}x | protocol core alone "
                  f"{sync['cold_sync_core_open_ms']:.0f} ms ({sync['cold_sync_core_ratio']:.2f}x"
                  f" floor) | threads view {sync['cold_sync_threads_view_ms']:.0f} ms | "
                  f"seeding {sync['seeding_s']:.1f} s (not timed)")
        finally:
            relay.stop()
    figures = {"python": platform.python_version(), "machine": platform.machine(),
               **{k: round(v, 3) if isinstance(v, float) else v
                  for k, v in {**join, **sync}.items()}}
    print(json.dumps(figures, sort_keys=True))


if __name__ == "__main__":
    main()
