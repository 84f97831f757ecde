"""A real relay process on 127.0.0.1 for the SDK's end-to-end tests.

``relay`` starts ``vault relay serve --port 0`` (the installed command) on a temporary
data directory (SQLite), or on a private PostgreSQL schema when VAULT_TEST_POSTGRES_URL is
set, and can SIGKILL and restart it on the same port.
"""

from __future__ import annotations

import os
import re
import select
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import POSTGRES_URL

VAULT = str(Path(sys.executable).with_name("vault"))
PASSPHRASE = "correct horse battery staple"
_ADDRESS = re.compile(r"listening on (http://127\.0\.0\.1:(\d+))")

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="VAULT_TEST_POSTGRES_URL is not set"),
    ),
]


class RelayProcess:
    """One relay (gunicorn master + worker) in its own process group."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = env
        self.port = 0
        self.url = ""
        self.proc: subprocess.Popen[str] | None = None
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [VAULT, "relay", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1", "--threads", "8"],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=self.env, text=True,
            start_new_session=True,
        )
        assert self.proc.stdout is not None
        deadline = time.monotonic() + 60
        line = ""
        while time.monotonic() < deadline:
            ready, _, _ = select.select([self.proc.stdout], [], [], 1.0)
            if ready:
                line = self.proc.stdout.readline()
                match = _ADDRESS.search(line)
                if match:
                    self.url, self.port = match.group(1), int(match.group(2))
                    return
                if not line and self.proc.poll() is not None:
                    break
        self.kill()
        raise RuntimeError(f"the relay did not start: {line!r}")

    def kill(self) -> None:
        """SIGKILL the whole process group (master and worker): no graceful anything."""
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


def _with_schema(url: str, schema: str) -> str:
    option = quote(f"-csearch_path={schema}")
    return f"{url}{'&' if '?' in url else '?'}options={option}"


@pytest.fixture(scope="module", params=BACKENDS)
def relay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[RelayProcess]:
    env = {**os.environ, "VAULT_DATA_DIR": str(tmp_path_factory.mktemp("relay")),
           "VAULT_LOG_LEVEL": "WARNING", "VAULT_RATE_LIMIT_EXPENSIVE": "0",
           "VAULT_RATE_LIMIT": "0", "VAULT_EVENTS_POLL_MS": "100"}
    env.pop("VAULT_DATABASE_URL", None)
    schema = None
    admin = None
    if request.param == "postgresql":
        import sqlalchemy as sa

        assert POSTGRES_URL
        schema = f"vault_client_tests_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        admin = sa.create_engine(POSTGRES_URL.replace("postgresql://", "postgresql+psycopg://", 1))
        with admin.begin() as conn:
            conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        env["VAULT_DATABASE_URL"] = _with_schema(POSTGRES_URL, schema)
        env["VAULT_AUTO_MIGRATE"] = "1"
    process = RelayProcess(env)
    yield process
    process.stop()
    if admin is not None:
        import sqlalchemy as sa

        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
