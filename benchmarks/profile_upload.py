"""Profile the relay's post upload in process (not a test, not a benchmark of record).

Run: ``python benchmarks/profile_upload.py [--uploads N] [--out FILE] [--sort tottime]``.

A fresh SQLite relay (``vault.api.create_app``, production defaults, rate limiting on with a
limit no single run reaches, so its check runs in full) in a temporary directory; a group and
an owner session made through the relay's own API (``benchmarks/relay.py``'s ``seed``); *N*
real sealed envelopes (~0.7 KB) built beforehand. Each upload is one WSGI call of the app
(``app(environ, start_response)``) with a prepared environ: the request path from Flask's
routing to the JSON response, without a network server or the test client. After a warm-up,
cProfile records *N* uploads; the report (top functions by own time and by cumulative time,
and the mean wall time per upload without the profiler) goes to stdout and to ``--out``.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from relay import envelopes, seed  # noqa: E402
from werkzeug.test import EnvironBuilder  # noqa: E402


def prepared(app: Any, gid: str, token: str,
             bodies: list[tuple[str, bytes]]) -> list[Callable[[], dict[str, Any]]]:
    """One environ factory per upload (a fresh input stream each time)."""
    out = []
    for pid, body in bodies:
        builder = EnvironBuilder(
            path=f"/v1/groups/{gid}/posts/{pid}", method="PUT", data=body,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            environ_base={"REMOTE_ADDR": "127.0.0.1"})
        environ = builder.get_environ()
        builder.close()

        def make(environ: dict[str, Any] = environ, body: bytes = body) -> dict[str, Any]:
            return {**environ, "wsgi.input": io.BytesIO(body)}
        out.append(make)
    return out


def upload_all(app: Any, requests: list[Callable[[], dict[str, Any]]]) -> None:
    statuses: list[str] = []

    def start_response(status: str, _headers: Any, _exc: Any = None) -> Any:
        statuses.append(status)
        return None

    for make in requests:
        for _chunk in app(make(), start_response):
            pass
    bad = [s for s in statuses if not s.startswith("201")]
    if bad:
        raise RuntimeError(f"{len(bad)} uploads failed, e.g. {bad[0]}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=3000)
    parser.add_argument("--out", type=Path, default=None)
    parser.add_argument("--top", type=int, default=35)
    args = parser.parse_args()

    from vault.api import create_app

    tmp = Path(tempfile.mkdtemp(prefix="vault-profile-"))
    url = f"sqlite:///{tmp / 'relay.db'}"
    seeded = seed(url)
    config = {"VAULT_DATABASE_URL": url, "VAULT_RATE_LIMIT": 1e9, "VAULT_RATE_BURST": 1e9,
              "VAULT_RATE_LIMIT_EXPENSIVE": 1e9, "VAULT_RATE_BURST_EXPENSIVE": 1e9,
              "VAULT_LOG_LEVEL": "WARNING"}
    app = create_app(config)
    warm, timed, profiled = 300, args.uploads, args.uploads
    pool = envelopes(seeded, warm + timed + profiled, 1)
    requests = prepared(app, seeded.gid, seeded.token, pool)
    upload_all(app, requests[:warm])
    began = time.perf_counter()
    upload_all(app, requests[warm:warm + timed])
    per_upload_us = (time.perf_counter() - began) / timed * 1e6
    profiler = cProfile.Profile()
    profiler.enable()
    upload_all(app, requests[warm + timed:])
    profiler.disable()

    text = io.StringIO()
    text.write(f"relay post upload, in process on SQLite (WAL, synchronous=FULL): "
               f"{profiled} uploads profiled; {per_upload_us:.0f} us per upload without the "
               f"profiler ({timed} uploads)\n")
    for key in ("tottime", "cumulative"):
        text.write(f"\n--- top {args.top} by {key} ---\n")
        stats = pstats.Stats(profiler, stream=text)
        stats.strip_dirs().sort_stats(key).print_stats(args.top)
    report = text.getvalue()
    print(report)
    if args.out is not None:
        args.out.write_text(report)
    print(f'{{"per_upload_us": {per_upload_us:.1f}, "uploads": {timed}}}')


if __name__ == "__main__":
    main()
