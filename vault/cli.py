"""The ``vault`` command's entry point, and its ``relay serve|purge|migrate`` group.

The member's commands live in the SDK (:mod:`vault_client.cli`, which attaches the
``relay`` group from here). :func:`entry_point` runs that full command when the SDK's
dependencies are installed (``vault[client]``), and the relay group alone on an installation
with only ``vault[relay]``, so a relay host needs neither httpx nor the QR-reading libraries.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any

try:
    import click
except ModuleNotFoundError:  # `pip install vault`: the protocol core alone has no command
    sys.stderr.write("vault: the command needs the client or the relay: "
                     "pip install 'vault[client]' (or 'vault[relay]')\n")
    raise SystemExit(2) from None


class StartupError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"vault: {self.message}", err=True)


def _relay(step: Callable[[ModuleType], Any]) -> Any:
    """Run *step* on :mod:`vault.api` (build the app, or upgrade the schema), turning a
    missing relay extra or a configuration problem into one clear line."""
    try:
        import vault.api as api
        from vault.api.errors import RelayConfigError
    except ImportError as error:  # installed without the relay extra
        raise StartupError(
            f"the relay needs its extra dependencies ({error.name} is missing): "
            "pip install 'vault[relay]'"
        ) from None
    try:
        return step(api)
    except RelayConfigError as error:
        raise StartupError(error.message) from None


def _build_app(*, forks: bool = False) -> Any:
    """The relay app, on a schema upgraded first if the settings say so (the start path:
    by default on the embedded SQLite only). A process that *forks* the workers upgrades in
    a child process of its own (see ``upgrade_if_configured_in_child``)."""
    if forks:
        _relay(lambda api: api.upgrade_if_configured_in_child())
    else:
        _relay(lambda api: api.upgrade_if_configured())
    return _relay(lambda api: api.create_app())


@click.group()
@click.version_option(package_name="vault")
def main() -> None:
    """Vault: end-to-end encrypted spaces for small support groups."""


@main.group()
def relay() -> None:
    """Run and maintain a relay (configured by VAULT_* environment variables: see the
    configuration table in README.md)."""


@relay.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64),
              help="Processes (gevent workers).")
@click.option("--connections", default=10_000, show_default=True,
              type=click.IntRange(16, 100_000),
              help="Connections each worker holds at once, waiting members included.")
@click.option("--threads", default=None, type=click.IntRange(1, 256), hidden=True,
              help="Ignored (the gthread workers' setting; gevent workers need no threads).")
def serve(host: str, port: int, workers: int, connections: int, threads: int | None) -> None:
    """Serve the relay with gunicorn (gevent workers) and print its address."""
    app = _build_app(forks=True)  # checks the configuration; upgrades the schema if configured
    from vault.api.db import db

    with app.app_context():
        db.engine.dispose()
    from vault.api.serve import run_gunicorn

    def ready(address: str) -> None:
        click.echo(f"Vault relay listening on {address}", err=False)
        sys.stdout.flush()

    def factory() -> Any:  # a worker: the schema is current by now
        return _relay(lambda api: api.create_app())

    run_gunicorn(factory, host, port, workers=workers, connections=connections, on_ready=ready)


@relay.command()
def purge() -> None:
    """Delete expired posts and their attachments, orphan attachments, auth challenges and
    sessions now."""
    app = _build_app()
    from vault.api.purge import purge_expired

    with app.app_context():
        counts = purge_expired()
    click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))


@relay.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version (run once per deploy)."""
    _relay(lambda api: api.upgrade_database())
    click.echo("schema is up to date")


RELAY_ONLY_ARGS = {"relay", "--help", "-h", "--version"}


def entry_point(argv: list[str] | None = None) -> Any:
    """The ``vault`` console script: the SDK's full command if it can be imported, else the
    relay's commands (with a one-line hint for anything else)."""
    args = sys.argv[1:] if argv is None else argv
    try:  # imported by name: the SDK is no part of the relay (nor of its type checks)
        client_main = importlib.import_module("vault_client.cli").main
    except ImportError as error:
        missing = (error.name or "").split(".")[0]
        if missing in ("vault", "vault_client"):  # a broken installation: say so
            raise
        if args and args[0] not in RELAY_ONLY_ARGS:
            click.echo(f"vault: `{args[0]}` needs the client's dependencies ({missing} is "
                       "missing): pip install 'vault[client]'", err=True)
            sys.exit(2)
        return main.main(args=args, prog_name="vault")
    return client_main(args)


if __name__ == "__main__":
    main()
