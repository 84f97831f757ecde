"""Restart benchmark (not a test): how long a relay is away when its operator restarts it,
and what its waiting members see, beside a bare gunicorn app's start and stop.

Run: ``python benchmarks/restart.py [--waiters N] [--repeats R]``. About half a minute.

1. **Start.** ``vault relay serve`` (``tests/relayproc.py``: SQLite in a temporary data
   directory, 2 workers), from spawning the command to the first ``200`` of ``/v1/health``:
   the first start (which makes the schema), then R restarts on the database it made (the
   common case: a restart, a deploy without a schema change). Floor, in the same run:
   gunicorn with the same worker class and count serving ``benchmarks/bare_app.py`` (a bare
   Flask + SQLAlchemy app), from spawning to its first HTTP answer.
2. **Stop with members waiting.** A group is made in-process on the relay's database; N
   members long-poll its events (``timeout=30``, one connection each, as the SDK waits);
   then SIGTERM to the relay's master: the seconds until it exits, and how many waiters were
   answered (``200``) or cut off. Floor: the bare app's stop (SIGTERM, nothing under way).

The last output line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.api.conftest import make_app  # noqa: E402
from tests.api.helpers import Api, FakeClock, RelayGroup  # noqa: E402
from tests.relayproc import RelayProcess  # noqa: E402
from vault.api.db import db  # noqa: E402
from vault.api.services import services_of  # noqa: E402

WORKERS = 2
GUNICORN = str(Path(sys.executable).with_name("gunicorn"))


def wait_for_answer(url: str) -> None:
    """Until *url* answers, whatever its status."""
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            time.sleep(0.05)  # (as tests/relayproc.py polls the relay)


def relay_start(process: RelayProcess) -> float:
    """Seconds from spawning the relay (after a stop) to its first healthy answer (which
    ``RelayProcess.start`` waits for)."""
    started = time.monotonic()
    process.start()
    return time.monotonic() - started


class BareApp:
    """The floor: gunicorn, the relay's worker class and count, a bare Flask app."""

    def __init__(self, directory: Path) -> None:
        self.env = {**os.environ, "BARE_DATABASE_URL": f"sqlite:///{directory / 'bare.db'}",
                    "PYTHONPATH": str(ROOT / "benchmarks")}
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        started = time.monotonic()
        self.proc = subprocess.Popen(
            [GUNICORN, "--worker-class", "gevent", "--workers", str(WORKERS), "--bind",
             "127.0.0.1:0", "--log-level", "info", "bare_app:create_app()"],
            stderr=subprocess.PIPE, env=self.env, start_new_session=True)
        assert self.proc.stderr is not None
        for line in iter(self.proc.stderr.readline, b""):
            found = re.search(rb"Listening at: (http://127\.0\.0\.1:\d+)", line)
            if found:
                wait_for_answer(found.group(1).decode() + "/posts?newest=1")
                return time.monotonic() - started
        raise RuntimeError("the bare app did not start")

    def stop(self) -> float:
        assert self.proc is not None
        started = time.monotonic()
        os.killpg(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=60)
        return time.monotonic() - started


def stop_with_waiters(process: RelayProcess, waiters: int) -> dict[str, Any]:
    """N long-polls waiting, then SIGTERM: the seconds to exit, and what the waiters got."""
    database = f"sqlite:///{process.data_dir / 'relay.db'}"
    app = make_app(database, FakeClock(int(time.time() * 1000)))
    try:
        group = RelayGroup(Api(app))
        headers = {"Authorization": f"Bearer {group.token(group.owner)}"}
        url = f"{process.url}{group.base}/events"
        cursor = httpx.get(url, params={"timeout": 0}, headers=headers).json()["cursor"]
    finally:
        services_of(app).wakeup.close()
        with app.app_context():
            db.engine.dispose()
    outcomes: list[str] = []
    lock = threading.Lock()

    def long_poll() -> None:
        try:
            status = str(httpx.get(url, params={"after": cursor, "timeout": 30},
                                   headers=headers, timeout=60).status_code)
        except httpx.HTTPError as error:
            status = type(error).__name__
        with lock:
            outcomes.append(status)

    threads = [threading.Thread(target=long_poll) for _ in range(waiters)]
    for thread in threads:
        thread.start()
    time.sleep(2.0)  # every long-poll sent and waiting
    assert process.proc is not None
    started = time.monotonic()
    os.killpg(process.proc.pid, signal.SIGTERM)
    process.proc.wait(timeout=120)
    exited = time.monotonic() - started
    process.proc = None
    for thread in threads:
        thread.join(60)
    return {"stop_s": exited, "answered": outcomes.count("200"),
            "cut": len(outcomes) - outcomes.count("200")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--waiters", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5, help="restarts (and floor starts)")
    args = parser.parse_args()
    figures: dict[str, Any] = {"machine": platform.machine(), "cores": os.cpu_count(),
                               "workers": WORKERS, "waiters": args.waiters}
    with tempfile.TemporaryDirectory(prefix="vault-restart-") as tmp:
        root = Path(tmp)
        started = time.monotonic()
        # (starts, makes the schema, and waits for the first healthy answer)
        relay = RelayProcess(root / "data", workers=WORKERS)
        figures["first_start_s"] = time.monotonic() - started
        bare = BareApp(root)
        restarts, floor_starts, floor_stops = [], [], []
        try:
            for _ in range(args.repeats):
                relay.stop()
                restarts.append(relay_start(relay))
                floor_starts.append(bare.start())
                floor_stops.append(bare.stop())
            figures.update(stop_with_waiters(relay, args.waiters))
        finally:
            relay.stop()
            if bare.proc is not None and bare.proc.poll() is None:
                bare.stop()
    figures["restart_s"] = statistics.median(restarts)
    figures["floor_start_s"] = statistics.median(floor_starts)
    figures["floor_stop_s"] = statistics.median(floor_stops)
    figures["restart_ratio"] = figures["restart_s"] / figures["floor_start_s"]
    figures["stop_ratio"] = figures["stop_s"] / figures["floor_stop_s"]
    print(f"first start (schema made): {figures['first_start_s']:.2f} s")
    print(f"restart on a current database: {figures['restart_s']:.2f} s (median of "
          f"{args.repeats}) | floor, a bare gunicorn app's start: "
          f"{figures['floor_start_s']:.2f} s | ratio {figures['restart_ratio']:.2f}")
    print(f"stop with {args.waiters} members waiting: {figures['stop_s']:.2f} s, "
          f"{figures['answered']} answered, {figures['cut']} cut off | floor, the bare app's "
          f"stop with nothing under way: {figures['floor_stop_s']:.2f} s | ratio "
          f"{figures['stop_ratio']:.2f}")
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v
                      for k, v in sorted(figures.items())}))


if __name__ == "__main__":
    main()
