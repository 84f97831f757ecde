"""Protocol-core benchmark: what Vault adds over the bare libsodium calls it is made of.

Run: ``make bench`` (or ``python benchmarks/crypto.py [--quick]``).

For each operation it times the project's call and, in the same run, the *floor*: the
bare PyNaCl/libsodium calls that the operation cannot avoid, on inputs of the same sizes.

* seal a 1 KiB post   = Ed25519 sign + sodium_pad + XChaCha20-Poly1305 encrypt + 24 random
  bytes (the project's figure also includes encoding the body)
* open 10,000 posts   = XChaCha20-Poly1305 decrypt + sodium_unpad + Ed25519 verify, each
* grants for N members = Ed25519 sign + crypto_box_seal, per member

Each figure is the best of several interleaved repetitions (the least disturbed run on a
shared machine). Ratios are project time ÷ floor time; the target is ≤ 1.3. The last line
is one JSON object with every figure; ratio keys end in ``_ratio``.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections.abc import Callable

import nacl.bindings as sodium
import nacl.utils

from vault.crypto import labels
from vault.crypto.epochs import build_grants, new_epoch_key, post_key
from vault.crypto.identity import Identity, PublicIdentity
from vault.crypto.log import create_group, group_id_of
from vault.crypto.log_verify import genesis_state
from vault.crypto.padding import bucket_size
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import PostEnvelope, open_post, seal_post
from vault.crypto.primitives import frame

T0 = 1_800_000_000_000


def best_of(
    repeats: int, *runs: Callable[[], None], setup: Callable[[], None] | None = None
) -> list[float]:
    """Interleave the runs *repeats* times; return each one's best wall time in seconds.

    *setup* (untimed) runs before every timed run.
    """
    best = [float("inf")] * len(runs)
    for _ in range(repeats):
        for index, run in enumerate(runs):
            if setup is not None:
                setup()
            start = time.perf_counter()
            run()
            best[index] = min(best[index], time.perf_counter() - start)
    return best


def make_group() -> tuple[Identity, bytes, object, bytes]:
    author = Identity.generate()
    epoch_key = new_epoch_key()
    genesis = create_group(author, epoch_key, now_ms=T0)
    state = genesis_state(genesis, group_id_of(genesis))
    return author, epoch_key, state, group_id_of(genesis)


def body_for(author: Identity, group_id: bytes, state: object, seq: int, text: str) -> PostBody:
    return PostBody(
        author=author.sign_pk, group_id=group_id, epoch=0, post_id=nacl.utils.random(16),
        author_seq=seq, log_seq=0, log_head=state.head,  # type: ignore[attr-defined]
        timestamp_ms=T0 + seq, kind=PostKind.POST, text=text,
    )


def bench_seal(repeats: int, count: int) -> dict[str, float]:
    author, epoch_key, state, group_id = make_group()
    text = "x" * 1024
    bodies = [body_for(author, group_id, state, i + 1, text) for i in range(count)]
    key = post_key(epoch_key, group_id, 0)
    raw_bodies = [body.encode() for body in bodies]
    sk = author.sign_sk
    label = frame(labels.POST_SIGNATURE)
    aad = bytes(100)
    size = bucket_size(len(raw_bodies[0]) + 64)

    def forget_encodings() -> None:  # so every timed seal encodes its body afresh
        for body in bodies:
            body.__dict__.pop("_encoded", None)

    def project() -> None:
        for body in bodies:
            seal_post(author, epoch_key, body)

    def floor() -> None:
        for raw in raw_bodies:
            signature = sodium.crypto_sign(label + raw, sk)[:64]
            padded = sodium.sodium_pad(raw + signature, size)
            sodium.crypto_aead_xchacha20poly1305_ietf_encrypt(
                padded, aad, nacl.utils.random(24), key)

    project_s, floor_s = best_of(repeats, project, floor, setup=forget_encodings)
    return {
        "seal_1kib_post_us": project_s / count * 1e6,
        "seal_1kib_post_floor_us": floor_s / count * 1e6,
        "seal_1kib_post_ratio": project_s / floor_s,
    }


def bench_open(repeats: int, count: int) -> dict[str, float]:
    author, epoch_key, state, group_id = make_group()
    text = "y" * 1024
    envelopes = [
        seal_post(author, epoch_key, body_for(author, group_id, state, i + 1, text)).encode()
        for i in range(count)
    ]
    key = post_key(epoch_key, group_id, 0)
    pk = author.sign_pk
    label = frame(labels.POST_SIGNATURE)
    decoded = [PostEnvelope.decode(data) for data in envelopes]
    floor_inputs = [(e.ciphertext, e.header, e.nonce) for e in decoded]

    def project() -> None:
        for data in envelopes:  # from the bytes the relay served
            open_post(PostEnvelope.decode(data), epoch_key, state)  # type: ignore[arg-type]

    def floor() -> None:
        for ciphertext, header, nonce in floor_inputs:
            padded = sodium.crypto_aead_xchacha20poly1305_ietf_decrypt(
                ciphertext, header, nonce, key)
            plain = sodium.sodium_unpad(padded, len(padded))
            sodium.crypto_sign_open(plain[-64:] + label + plain[:-64], pk)

    project_s, floor_s = best_of(repeats, project, floor)
    return {
        f"open_{count}_posts_ms": project_s * 1e3,
        f"open_{count}_posts_floor_ms": floor_s * 1e3,
        f"open_{count}_posts_ratio": project_s / floor_s,
    }


def bench_grants(repeats: int, members: int) -> dict[str, float]:
    granter = Identity.generate()
    recipients: list[PublicIdentity] = [Identity.generate().public for _ in range(members)]
    group_id = nacl.utils.random(32)
    epoch_key = new_epoch_key()
    sk = granter.sign_sk
    content = bytes(2 + 32 + 8 + 32 * 5)  # the signed grant content's size
    label = frame(labels.EPOCH_GRANT)
    box_keys = [r.box_pk for r in recipients]

    def project() -> None:
        build_grants(granter, group_id, 1, epoch_key, recipients)

    def floor() -> None:
        for box_pk in box_keys:
            signature = sodium.crypto_sign(label + content, sk)[:64]
            sodium.crypto_box_seal(content + signature, box_pk)

    project_s, floor_s = best_of(repeats, project, floor)
    return {
        f"grants_{members}_ms": project_s * 1e3,
        f"grants_{members}_floor_ms": floor_s * 1e3,
        f"grants_{members}_ratio": project_s / floor_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    args = parser.parse_args()
    repeats = 2 if args.quick else 7
    figures: dict[str, float | str] = {
        "machine": f"{platform.machine()} {platform.python_implementation()} "
                   f"{platform.python_version()}",
    }
    figures.update(bench_seal(repeats, 2_000))
    figures.update(bench_open(max(2, repeats // 2), 10_000))
    for members in (100, 1_000, 10_000):
        figures.update(bench_grants(repeats if members < 10_000 else max(2, repeats // 3),
                                    members))
    print(f"{'figure':<32} {'value':>12}")
    for name, value in figures.items():
        shown = f"{value:12.3f}" if isinstance(value, float) else value
        print(f"{name:<32} {shown}")
    worst = max(v for k, v in figures.items() if k.endswith("_ratio") and isinstance(v, float))
    print(f"worst ratio {worst:.3f} (target ≤ 1.3)")
    print(json.dumps({k: round(v, 4) if isinstance(v, float) else v
                      for k, v in figures.items()}))


if __name__ == "__main__":
    main()
