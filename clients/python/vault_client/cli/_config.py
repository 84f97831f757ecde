"""A ``vault`` command's settings: the settings file (``vault config``), the environment,
the command line's global options, and what one invocation keeps (:class:`State`)."""

from __future__ import annotations

import contextlib
import os
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Final

import click
import platformdirs

from vault_client import Client, default_home
from vault_client.cli._failures import fail

PASSPHRASE_ENV: Final = "VAULT_PASSPHRASE"  # noqa: S105 - a variable name
TRANSFER_PASSPHRASE_ENV: Final = "VAULT_TRANSFER_PASSPHRASE"  # noqa: S105
RECOVERY_PHRASE_ENV: Final = "VAULT_RECOVERY_PHRASE"
CONFIG_ENV: Final = "VAULT_CONFIG"
RETRY_ENV: Final = "VAULT_RETRY_SECONDS"


def config_path() -> str:
    return os.environ.get(CONFIG_ENV) or os.path.join(
        platformdirs.user_config_dir("vault", appauthor=False), "config.toml")


def read_config(path: str | None = None) -> dict[str, Any]:
    path = path or config_path()
    try:
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        return {}
    except tomllib.TOMLDecodeError as error:
        fail(f"the settings file {path} is not valid TOML ({error}); fix or delete it")
    except OSError as error:
        fail(f"the settings file {path} cannot be read ({error.strerror})")
    return data


def write_config(values: dict[str, str], path: str | None = None) -> str:
    path = path or config_path()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    lines = ["# Vault command line settings (`vault config`)."]
    for key, value in sorted(values.items()):
        escaped = value.replace("\\", "\\\\").replace('"', '\\"')
        lines.append(f'{key} = "{escaped}"')
    with open(path, "w", encoding="utf-8") as handle:
        handle.write("\n".join(lines) + "\n")
    return path


@dataclass
class State:
    """Per-invocation settings and the (lazily opened) client."""

    home: str | None = None
    relay: str | None = None
    client: Client | None = None
    secrets: dict[str, str] = field(default_factory=dict, repr=False)
    warned: int = 0
    """How many of the client's warnings were printed already."""
    retrying: set[str] = field(default_factory=set)
    """Relays already said to be unreachable during this command (said once each)."""
    unsent_at_start: int = -1
    """Posts waiting on this device when the client opened (-1: not known)."""
    writing: str | None = None
    """What the command is about to write ("post", "edit", ...), for what Ctrl-C says."""
    _config: dict[str, Any] | None = field(default=None, repr=False)

    @property
    def home_dir(self) -> str:
        return os.path.abspath(self.home or default_home())

    @property
    def config(self) -> dict[str, Any]:
        if self._config is None:
            self._config = read_config()
        return self._config

    def relay_url(self) -> str | None:
        """``--relay``, else ``$VAULT_RELAY``, else ``relay`` in the settings file."""
        if self.relay:
            return self.relay
        value = self.config.get("relay")
        if value is not None and not isinstance(value, str):
            fail(f"'relay' in {config_path()} must be text, like relay = \"https://...\"")
        return value


pass_state = click.make_pass_decorator(State, ensure=True)


def take_secrets() -> dict[str, str]:
    """The passphrases given in the environment, taken out of it: no program this command
    starts (an editor for a post) inherits them."""
    return {name: os.environ.pop(name) for name in (PASSPHRASE_ENV, TRANSFER_PASSPHRASE_ENV,
                                                    RECOVERY_PHRASE_ENV)
            if name in os.environ}


def retry_seconds() -> float:
    """How long to keep trying an unreachable relay: $VAULT_RETRY_SECONDS, else 20."""
    text = os.environ.get(RETRY_ENV, "").strip()
    if not text:
        return 20.0
    try:
        value = float(text)
    except ValueError:
        fail(f"{RETRY_ENV} is a number of seconds, like 20")
    if not 0 <= value <= 3600:
        fail(f"{RETRY_ENV} is between 0 and 3600 seconds")
    return value


@contextlib.contextmanager
def private_file(path: str, *, overwrite: bool) -> Iterator[Any]:
    """Open *path* for writing, readable by its owner only (invites and exports are
    secrets)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_TRUNC | (0 if overwrite else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError:
        fail(f"{path} already exists; choose another name or add --force")
    with os.fdopen(fd, "wb") as handle:
        yield handle
