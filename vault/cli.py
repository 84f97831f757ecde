"""The ``vault`` command. For now: ``vault relay serve|purge|migrate``."""

from __future__ import annotations

import os
import sys
from typing import Any

import click


class StartupError(click.ClickException):
    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"vault: {self.message}", err=True)


def _build_app(**overrides: Any) -> Any:
    """Create the relay app, turning configuration problems into one clear line."""
    try:
        from vault.api import create_app
    except ImportError as error:  # installed without the relay extra
        raise StartupError(
            f"the relay needs its extra dependencies ({error.name} is missing): "
            "pip install 'vault[relay]'"
        ) from None
    from vault.crypto.errors import RelayConfigError

    try:
        return create_app(overrides or None)
    except RelayConfigError as error:
        raise StartupError(error.message) from None


@click.group()
@click.version_option(package_name="vault")
def main() -> None:
    """Vault: end-to-end encrypted spaces for small support groups."""


@main.group()
def relay() -> None:
    """Run and maintain a relay (configured by VAULT_DATABASE_URL and VAULT_DATA_DIR)."""


@relay.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64))
@click.option("--threads", default=16, show_default=True, type=click.IntRange(1, 256))
def serve(host: str, port: int, workers: int, threads: int) -> None:
    """Serve the relay with gunicorn and print its address."""
    app = _build_app()  # validates the configuration and upgrades the schema once
    from vault.api.db import db

    with app.app_context():
        db.engine.dispose()
    from vault.api.serve import run_gunicorn

    os.environ["VAULT_AUTO_MIGRATE"] = "0"  # workers: the schema is already current

    def ready(address: str) -> None:
        click.echo(f"Vault relay listening on {address}", err=False)
        sys.stdout.flush()

    def factory() -> Any:
        return _build_app()

    run_gunicorn(factory, host, port, workers=workers, threads=threads, on_ready=ready)


@relay.command()
def purge() -> None:
    """Delete expired posts, auth challenges and sessions now."""
    app = _build_app()
    from vault.api.purge import purge_expired

    with app.app_context():
        counts = purge_expired()
    click.echo(" ".join(f"{key}={value}" for key, value in counts.items()))


@relay.command()
def migrate() -> None:
    """Upgrade the database schema to the latest version (run once per deploy)."""
    _build_app(VAULT_AUTO_MIGRATE="1")
    click.echo("schema is up to date")


if __name__ == "__main__":
    main()
