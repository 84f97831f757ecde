"""A real member app process (``vault app --no-browser --port 0``) on 127.0.0.1, for tests
that drive it over HTTP or in a browser.

    app = AppProcess(home, relay_url)
    open_url = app.start()        # "http://127.0.0.1:PORT/PREFIX/open?key=..." as printed
    ...                           # app.base_url is "http://127.0.0.1:PORT/PREFIX" (pages are
                                  # under it), app.origin "http://127.0.0.1:PORT" (for Origin:)
    app.stop()

stdout and stderr go to files beside *home* (``app.output()`` reads them). The launch secret
is read from the app's stdout, never passed on its command line.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

from tests.relayproc import VAULT

OPEN_LINE = re.compile(
    r"^Vault is open at ((http://127\.0\.0\.1:(\d+))/([\w-]+))/open\?key=([\w-]+)$",
    re.MULTILINE)
"""Groups: 1 the base address (with the path prefix), 2 the origin, 3 the port, 4 the
prefix, 5 the launch secret."""


class AppProcess:
    """One ``vault app`` process, in its own process group."""

    def __init__(self, home: str | os.PathLike[str], relay_url: str | None = None, *,
                 idle_lock_minutes: float = 15, env: dict[str, str] | None = None) -> None:
        self.home = Path(home)
        self.relay_url = relay_url
        self.idle_lock_minutes = idle_lock_minutes
        self.logs = self.home.parent / f"{self.home.name}-app-logs"
        self.env = {**os.environ, **(env or {})}
        for name in ("VAULT_PASSPHRASE", "VAULT_HOME", "VAULT_RELAY"):
            self.env.pop(name, None)
        self.proc: subprocess.Popen[bytes] | None = None
        self.base_url = ""
        self.origin = ""
        self.prefix = ""
        self.open_url = ""
        self.port = 0
        self.starts = 0

    def start(self, timeout: float = 30) -> str:
        """Start the app; return the address it printed (with its launch secret)."""
        self.starts += 1
        self.logs.mkdir(parents=True, exist_ok=True)
        stdout = self.logs / f"stdout.{self.starts}"
        stderr = self.logs / f"stderr.{self.starts}"
        args = [VAULT, "app", "--no-browser", "--port", "0", "--home", str(self.home),
                "--idle-lock", str(self.idle_lock_minutes)]
        if self.relay_url:
            args += ["--relay", self.relay_url]
        with open(stdout, "wb") as out, open(stderr, "wb") as err:
            self.proc = subprocess.Popen(args, stdout=out, stderr=err, env=self.env,
                                         start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = OPEN_LINE.search(stdout.read_text(errors="replace"))
            if match:
                self.base_url, self.origin = match.group(1), match.group(2)
                self.port, self.prefix = int(match.group(3)), match.group(4)
                self.open_url = match.group(0).removeprefix("Vault is open at ")
                return self.open_url
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("the app did not start: " + stderr.read_text(errors="replace"))

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self) -> None:
        """SIGTERM (the app locks its keystore and exits), SIGKILL if it lingers."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=15)
        self.proc = None

    def output(self) -> str:
        """Everything the app wrote to stdout and stderr, over every start."""
        if not self.logs.exists():
            return ""
        return "".join(p.read_text(errors="replace") for p in sorted(self.logs.iterdir()))

    def __enter__(self) -> AppProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
