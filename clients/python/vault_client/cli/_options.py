"""What the ``vault`` member commands share: the common options (-g/--group, -y/--yes),
parsing roles, history policies and durations, opening a command's group, and tables."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from vault_client import Client, GroupInfo, HistoryPolicy, Role
from vault_client.cli._config import State
from vault_client.cli._formatting import duration_option
from vault_client.cli._prompts import open_client
from vault_client.cli._references import find_group

F = TypeVar("F", bound=Callable[..., Any])

ROLES = ("member", "moderator", "admin", "owner")


def group_option(func: F) -> F:
    return click.option(
        "-g", "--group", "group_ref", envvar="VAULT_GROUP", metavar="GROUP",
        help="Which group: its number or name from `vault group list`, or its id. Not "
             "needed when this device is in one group only. [env: VAULT_GROUP]",
    )(func)


def yes_option(func: F) -> F:
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(func)


def duration_callback(ctx: click.Context, param: click.Parameter,
                      value: str | None) -> float | None:
    """A click callback: a duration option (30m, 12h, 7d...) in seconds."""
    try:
        return duration_option(value)
    except click.BadParameter as error:
        error.ctx, error.param = ctx, param
        raise


def parse_role(name: str) -> Role:
    return Role[name.upper()]


def parse_history(text: str | None) -> HistoryPolicy | None:
    if text is None:
        return None
    value = text.strip().lower()
    if value in ("none", "current", "all"):
        return value  # type: ignore[return-value]
    if value.isdigit():
        return int(value)
    raise click.BadParameter("history is 'none', 'current', 'all' or an epoch number")


HISTORY_HELP = ("What newly admitted members may read: 'none' (only what is written after "
                "they join), 'current' (since the last key change), 'all', or an epoch number.")


def session(state: State, group_ref: str | None) -> tuple[Client, GroupInfo]:
    """The client, and the group the command acts on."""
    client = open_client(state)
    return client, find_group(client, group_ref)


def indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.splitlines())


def table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                        strict=True)).rstrip())
