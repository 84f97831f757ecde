"""Talking with the person at the terminal: passphrases (asked at a hidden prompt, or read
from the environment), opening the client with them, confirmations, standard input, and
what Ctrl-C leaves behind."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from typing import Final

import click

from vault_client import Client, RetryNotice, VaultError, has_keystore, passphrase_strength
from vault_client.cli._config import PASSPHRASE_ENV, TRANSFER_PASSPHRASE_ENV, State, retry_seconds
from vault_client.cli._failures import Failure, Interrupted, fail
from vault_client.cli._formatting import note, show_warnings
from vault_client.errors import KeystoreLockedError

PROMPT_ATTEMPTS: Final = 3


def env_passphrase(name: str) -> str | None:
    state = click.get_current_context().find_object(State)
    value = state.secrets.get(name) if state is not None else os.environ.get(name)
    if value is None:
        return None
    if not value:
        fail(f"{name} is set but empty; set it to the passphrase, or unset it to be asked")
    return value


def ask_new_passphrase(prompt: str) -> str:
    """A new passphrase, typed twice; one too easy to guess is refused with what to do."""
    while True:
        value: str = click.prompt(prompt, hide_input=True, err=True)
        if not value.strip():
            click.echo("The passphrase cannot be empty.", err=True)
            continue
        strength = passphrase_strength(value)
        if not strength.acceptable:
            reason = f" {strength.warning}" if strength.warning else ""
            click.echo(f"That passphrase is too easy to guess: someone who copied this "
                       f"device's files could find it in {strength.crack_time}.{reason} "
                       f"{' '.join(strength.suggestions)} Four or more uncommon words work "
                       "well. Try again.", err=True)
            continue
        click.echo(f"Strength: good (it would take about {strength.crack_time} to guess).",
                   err=True)
        again: str = click.prompt("Repeat for confirmation", hide_input=True, err=True)
        if again == value:
            return value
        click.echo("The two entries differ. Try again.", err=True)


def open_client(state: State, *, create: bool = False) -> Client:
    """The client for this invocation: unlocks the keystore (asking for the passphrase, or
    reading it from $VAULT_PASSPHRASE) the first time a command needs it. Only a command
    that brings the device into a group (*create*) makes a keystore where there is none."""
    if state.client is not None:
        return state.client
    home = state.home_dir
    first = not has_keystore(home)
    if first and not create:
        fail("this device has no Vault keystore yet: create a group (`vault group create "
             "NAME`) or join one (`vault join INVITE`) first")
    from_env = env_passphrase(PASSPHRASE_ENV)
    if first and from_env is None:
        click.echo(f"This device has no Vault keystore yet (in {home}).\n"
                   "Choose a passphrase. It protects your keys and everything Vault keeps "
                   "here; nobody can recover it for you.", err=True)
    attempts = 1 if from_env is not None or first else PROMPT_ATTEMPTS
    for attempt in range(1, attempts + 1):
        source: str | Callable[[], str]
        if from_env is not None:
            source = from_env
        elif first:
            source = _ask_new
        else:
            source = _ask
        try:
            client = Client(source, home=home, retry_for=retry_seconds(),
                            on_retry=lambda n: _say_retrying(state, n))
        except KeystoreLockedError:
            if attempt == attempts:
                raise
            click.echo("That passphrase does not open this device's keystore. Try again.",
                       err=True)
            continue
        state.client = client
        state.unsent_at_start = unsent_total(client)
        click.get_current_context().find_root().call_on_close(lambda: _close(state))
        return client
    raise AssertionError("unreachable")  # pragma: no cover


def _say_retrying(state: State, notice: RetryNotice) -> None:
    if notice.relay_url in state.retrying:
        return
    state.retrying.add(notice.relay_url)
    note(f"The relay at {notice.relay_url} cannot be reached; trying again for up to "
         f"{max(1, round(notice.seconds_left))} seconds (Ctrl-C stops; nothing you wrote is "
         "lost).")


def unsent_total(client: Client) -> int:
    """Posts waiting on this device, in every group."""
    try:
        return sum(g.unsent_posts for g in client.groups())
    except VaultError:
        return -1


def interrupted(state: State | None) -> Interrupted:
    """Ctrl-C: stop, and say whether what was being written is kept."""
    client = None if state is None else state.client
    if client is not None and state is not None and state.unsent_at_start >= 0:
        with contextlib.suppress(Exception):
            if unsent_total(client) > state.unsent_at_start:
                return Interrupted("stopped. What you wrote is saved on this device and will "
                                   "be sent with your next `vault sync`.")
    if state is not None and state.writing is not None:
        return Interrupted(f"stopped before your {state.writing} was saved: nothing was kept "
                           "or sent. Run the command again to write it.")
    return Interrupted("stopped.")


def _close(state: State) -> None:
    """At the end of a command: the warnings not printed yet, then close the client."""
    client = state.client
    if client is None:
        return
    try:
        show_warnings(client, state)
    finally:
        client.close()


def _ask_new() -> str:
    with _no_answer():
        return ask_new_passphrase("New passphrase")


def _ask() -> str:
    with _no_answer():
        answer: str = click.prompt("Passphrase", hide_input=True, err=True)
    return answer


@contextlib.contextmanager
def _no_answer() -> Iterator[None]:
    try:
        yield
    except click.exceptions.Abort:
        raise Failure(f"no passphrase was given; type it at the prompt, or set {PASSPHRASE_ENV} "
                      "for scripts") from None


def new_transfer_passphrase() -> str:
    value = env_passphrase(TRANSFER_PASSPHRASE_ENV)
    if value is not None:
        return value
    click.echo("Choose a passphrase for this export file (you will need it on the other "
               "device; it should differ from your keystore passphrase).", err=True)
    return ask_new_passphrase("Export passphrase")


def transfer_passphrase() -> str:
    value = env_passphrase(TRANSFER_PASSPHRASE_ENV)
    if value is not None:
        return value
    answer: str = click.prompt("Passphrase of the export file", hide_input=True, err=True)
    return answer


def confirm(question: str, yes: bool) -> None:
    if yes:
        return
    if not click.confirm(question, default=False, err=True):
        fail("cancelled; nothing was changed")


def stdin_is_terminal() -> bool:
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # pragma: no cover - closed or replaced stdin
        return False


def read_stdin() -> str:
    return "" if sys.stdin is None else sys.stdin.read()
