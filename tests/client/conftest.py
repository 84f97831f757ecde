"""A real relay process on 127.0.0.1 for the SDK's end-to-end tests.

``relay`` starts ``vault relay serve --port 0`` (the installed command, see
``tests/relayproc.py``) on a temporary data directory (SQLite), and again on a private
PostgreSQL schema when VAULT_TEST_POSTGRES_URL is set; it can SIGKILL and restart it on the
same port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import POSTGRES_URL
from tests.relayproc import VAULT, RelayProcess, postgres_schema

__all__ = ["PASSPHRASE", "VAULT", "RelayProcess", "relay"]

PASSPHRASE = "correct horse battery staple"

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=pytest.mark.skipif(not POSTGRES_URL, reason="VAULT_TEST_POSTGRES_URL is not set"),
    ),
]


@pytest.fixture(scope="module", params=BACKENDS)
def relay(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
          ) -> Iterator[RelayProcess]:
    data_dir = tmp_path_factory.mktemp("relay") / "data"
    if request.param == "postgresql":
        assert POSTGRES_URL
        with postgres_schema(POSTGRES_URL) as (url, _schema):
            process = RelayProcess(data_dir, env={"VAULT_DATABASE_URL": url,
                                                  "VAULT_AUTO_MIGRATE": "1"})
            yield process
            process.stop()
        return
    process = RelayProcess(data_dir)
    yield process
    process.stop()
