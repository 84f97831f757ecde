"""A real relay process (``vault relay serve``: gunicorn) on 127.0.0.1 for the end-to-end,
fault, canary and slow-client tests: stdout and stderr captured to files (the canary scan
reads them), a fixed port and data directory across restarts; ``with_schema`` points a
PostgreSQL URL at one schema (tests/conftest.py makes a fresh one per relay).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import httpx

VAULT = str(Path(sys.executable).with_name("vault"))
_ADDRESS = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")


class RelayProcess:
    """One relay (gunicorn master and workers) in its own process group.

    ``kill()`` is SIGKILL of the whole group: no graceful shutdown, no flush; ``start()``
    again comes back on the same port and data directory (or database).
    """

    def __init__(self, data_dir: Path, *, env: dict[str, str] | None = None,
                 workers: int = 1, threads: int = 8, log_level: str = "WARNING") -> None:
        self.data_dir = data_dir
        self.logs = data_dir.parent / f"{data_dir.name}-logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        self.workers = workers
        self.threads = threads
        self.env = {**os.environ, "VAULT_DATA_DIR": str(data_dir), "VAULT_LOG_LEVEL": log_level,
                    "VAULT_RATE_LIMIT": "0", "VAULT_RATE_LIMIT_EXPENSIVE": "0",
                    "VAULT_EVENTS_POLL_MS": "100"}
        self.env.pop("VAULT_DATABASE_URL", None)
        self.env.update(env or {})
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0
        self.start()

    def start(self) -> None:
        self.starts += 1
        out = open(self.logs / f"stdout.{self.starts}", "wb")  # noqa: SIM115 - the child's
        err = open(self.logs / f"stderr.{self.starts}", "wb")  # noqa: SIM115
        try:
            self.proc = subprocess.Popen(
                [VAULT, "relay", "serve", "--host", "127.0.0.1", "--port", str(self.port),
                 "--workers", str(self.workers), "--threads", str(self.threads)],
                stdout=out, stderr=err, env=self.env, start_new_session=True)
        finally:
            out.close()
            err.close()
        deadline = time.monotonic() + 60
        stdout = self.logs / f"stdout.{self.starts}"
        while time.monotonic() < deadline:
            match = _ADDRESS.search(stdout.read_text(errors="replace"))
            if match:
                self.url, self.port = match.group(1), int(match.group(2))
                self._wait_healthy(deadline)
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("the relay did not start: "
                           + (self.logs / f"stderr.{self.starts}").read_text(errors="replace"))

    def _wait_healthy(self, deadline: float) -> None:
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/v1/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        raise RuntimeError("the relay never answered its health check")

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL the whole process group (master and workers)."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=20)
        self.proc = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()
        self.proc = None

    def output(self) -> bytes:
        """Everything the relay wrote to stdout and stderr, over every start."""
        return b"".join(path.read_bytes() for path in sorted(self.logs.iterdir()))


def with_schema(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}")
    return f"{url}{'&' if '?' in url else '?'}options={option}"
