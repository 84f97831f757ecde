"""A real relay process on 127.0.0.1 for the SDK's end-to-end tests.

``relay`` starts ``vault relay serve --port 0`` (the installed command, see
``tests/relayproc.py``) once per module, on one backend: these tests are about the SDK, to
which a relay is a relay (the relay's own tests, tests/api, run on both backends). That is
PostgreSQL when VAULT_TEST_POSTGRES_URL is set (a private schema), else a SQLite file in a
temporary data directory. It can SIGKILL and restart the relay on the same port.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.conftest import ONE_BACKEND, fresh_database
from tests.relayproc import VAULT, RelayProcess

__all__ = ["PASSPHRASE", "VAULT", "RelayProcess", "relay"]

PASSPHRASE = "correct horse battery staple"


@pytest.fixture(scope="module", params=ONE_BACKEND)
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="module")
def relay(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    data_dir = tmp_path_factory.mktemp("relay") / "data"
    with fresh_database(backend, data_dir) as database:
        process = RelayProcess(data_dir, env={"VAULT_DATABASE_URL": database.url,
                                              "VAULT_AUTO_MIGRATE": "1"})
        try:
            yield process
        finally:
            process.stop()


@pytest.fixture
def relay_up(relay: RelayProcess) -> Iterator[RelayProcess]:
    """The relay, running (a test may stop it; it is started again after)."""
    if not relay.alive:
        relay.start()
    yield relay
    if not relay.alive:
        relay.start()
