"""``vault app``: the member app, in the browser. The app (:mod:`vault_app`) is a separate
package with its own extra (``pip install '.[app]'`` in Vault's folder: Flask, waitress),
imported only here, when the command runs, so the SDK and the other commands never need
Flask."""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

import click

from vault_client import normalize_relay_url
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import Unavailable, fail
from vault_client.errors import InviteUriError


def _load(name: str) -> Any:
    try:
        return importlib.import_module(name)
    except ImportError as error:
        raise Unavailable(
            f"the member app needs its extra dependencies ({error.name} is missing): "
            "pip install '.[app]' in Vault's folder") from None


@click.command("app")
@click.option("--home", "app_home", metavar="DIR", type=click.Path(file_okay=False),
              help="Where this device's keys and local store live. [default: the global "
                   "--home, else VAULT_HOME, else the user data folder]")
@click.option("--relay", "app_relay", metavar="URL",
              help="The relay new groups are created on. [default: the global --relay, "
                   "else VAULT_RELAY, else `vault config --relay`]")
@click.option("--host", default="127.0.0.1", show_default=True,
              type=click.Choice(["127.0.0.1"]),
              help="Address to listen on: this computer only.")
@click.option("--port", default=0, show_default=True, type=click.IntRange(0, 65535),
              help="Port (0 picks a free one).")
@click.option("--no-browser", is_flag=True, help="Print the address; do not open a browser.")
@click.option("--idle-lock", "idle_lock", default=15.0, show_default=True,
              type=click.FloatRange(0, 24 * 60), metavar="MINUTES",
              help="Lock after this many minutes without use (0: never).")
@pass_state
def app_command(state: State, app_home: str | None, app_relay: str | None, host: str,
                port: int, no_browser: bool, idle_lock: float) -> None:
    """Open Vault in your web browser (the member app).

    Prints the address to open (with a secret that only works for this launch) and opens
    the browser. Everything stays on this computer: the app listens on 127.0.0.1 only."""
    if app_home is not None:
        state.home = app_home
    relay = app_relay or state.relay_url()
    if relay:
        try:
            relay = normalize_relay_url(relay)
        except InviteUriError:
            fail(f"'{relay}' is not a relay address: write it like https://relay.example.org "
                 "(plain http only for this computer, such as http://127.0.0.1:8080)")
    settings_module = _load("vault_app.settings")
    serve_module = _load("vault_app.serve")
    settings = settings_module.AppSettings(home=state.home_dir, relay_url=relay, port=port,
                                           idle_lock_minutes=idle_lock)
    serve_module.serve(settings, open_browser=not no_browser)
