"""``make run``: Vault on this computer in one command, for someone trying it out. Starts a
relay on the embedded SQLite (``vault relay serve``, in ``./var/relay``), then the member
app connected to it (its home in ``./var/member``), and prints the app's address. Ctrl-C
stops both. Operators run ``vault relay serve`` on its own; members run ``vault app``.

    python -m vault_app.local [--no-browser]
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

from vault_app.serve import serve
from vault_app.settings import AppSettings

_RELAY_ADDRESS = re.compile(r"listening on (http://127\.0\.0\.1:\d+)")


def start_relay(data_dir: Path, log_path: Path) -> tuple[subprocess.Popen[bytes], str]:
    """``vault relay serve --port 0`` on the embedded SQLite; returns it and its address."""
    vault = str(Path(sys.executable).with_name("vault"))
    env = {**os.environ, "VAULT_DATA_DIR": str(data_dir)}
    env.pop("VAULT_DATABASE_URL", None)  # the embedded SQLite, whatever the shell says
    with open(log_path, "wb") as log:
        relay = subprocess.Popen(  # noqa: S603 - our own installed command, fixed arguments
            [vault, "relay", "serve", "--host", "127.0.0.1", "--port", "0", "--workers", "1"],
            stdout=subprocess.PIPE, stderr=log, env=env, start_new_session=True)
    assert relay.stdout is not None
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = relay.stdout.readline().decode(errors="replace")
        found = _RELAY_ADDRESS.search(line)
        if found:
            return relay, found.group(1)
        if not line and relay.poll() is not None:
            break
    relay.kill()
    raise SystemExit(f"the relay did not start; see {log_path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--no-browser", action="store_true")
    parser.add_argument("--var", default="var", help="where the relay and the member keep "
                                                     "their files (default ./var)")
    args = parser.parse_args(argv)
    var = Path(args.var).resolve()
    (var / "relay").mkdir(parents=True, exist_ok=True)
    relay, relay_url = start_relay(var / "relay", var / "relay.log")
    print(f"Relay (embedded SQLite in {var / 'relay'}) at {relay_url}; its log: "
          f"{var / 'relay.log'}", flush=True)
    try:
        serve(AppSettings(home=str(var / "member"), relay_url=relay_url),
              open_browser=not args.no_browser)
    finally:
        os.killpg(relay.pid, signal.SIGTERM)
        try:
            relay.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(relay.pid, signal.SIGKILL)


if __name__ == "__main__":
    main()
