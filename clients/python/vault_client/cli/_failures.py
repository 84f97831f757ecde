"""How a ``vault`` command fails: one line for a person on stderr, and an exit status a
script can tell apart."""

from __future__ import annotations

from typing import Any, Final, NoReturn

import click

from vault_client import VaultError
from vault_client.errors import ForkError, KeystoreLockedError, NotAMemberError, RollbackError

DEBUG_ENV: Final = "VAULT_DEBUG"


class Failure(click.ClickException):
    """One line on stderr, ``vault: <message>``, and exit status 1."""

    exit_code = 1

    def __init__(self, message: str, *, alarm: bool = False) -> None:
        super().__init__(message)
        self.alarm = alarm

    def show(self, file: Any = None) -> None:
        click.secho(f"vault: {self.message}", err=True, fg="red", bold=self.alarm)


class TimedOut(Failure):
    """Nothing happened in time (``vault wait``): exit status 3, so scripts can tell."""

    exit_code = 3


class Interrupted(Failure):
    """Ctrl-C: a plain line, not an alarm, and exit status 130."""

    exit_code = 130

    def show(self, file: Any = None) -> None:
        click.echo(f"vault: {self.message}", err=True)


class Unavailable(Failure):
    """A part of Vault that is not installed (the relay): exit status 2."""

    exit_code = 2


def fail(message: str) -> NoReturn:
    raise Failure(message)


def from_error(error: BaseException) -> Failure:
    """A :class:`Failure` for an error the SDK (or the system) raised."""
    if isinstance(error, ForkError | RollbackError):
        return Failure(f"SECURITY WARNING: {error.message} Stop trusting this group until you "
                       "have compared safety numbers (vault verify) with other members.",
                       alarm=True)
    if isinstance(error, KeystoreLockedError):
        return Failure("wrong passphrase: it does not open this device's keystore (or the "
                       "keystore file was altered)")
    if isinstance(error, NotAMemberError):
        return Failure(f"this device is not, or no longer, a member of this group "
                       f"({error.message.rstrip('.')}). If an admin removed you, "
                       "`vault forget` deletes what this device kept of the group.")
    if isinstance(error, VaultError):
        return Failure(error.message)
    if isinstance(error, OSError):
        where = f" ({error.filename})" if error.filename else ""
        return Failure(f"{error.strerror or error}{where}")
    if isinstance(error, ValueError):
        return Failure(str(error))
    return Failure(f"something unexpected went wrong ({type(error).__name__}); run again with "
                   f"{DEBUG_ENV}=1 to see the details, and please report it")
