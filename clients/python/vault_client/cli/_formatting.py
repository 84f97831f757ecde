"""Printing for people: labels for groups and members, times, durations and sizes,
safety numbers, warnings and notes, and what a sync found, in words."""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import datetime
from typing import Final

import click

from vault_client import Client, DeletedGroupInfo, GroupInfo, MemberInfo, SyncReport
from vault_client import events as ev
from vault_client.cli._config import State

SHORT: Final = 8
"""How many characters of an id are shown (and usually enough to type)."""
_UNITS: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def group_label(info: GroupInfo) -> str:
    return f"'{info.name}'" if info.name else f"group {info.group_id[:SHORT]}"


def member_label(member: MemberInfo) -> str:
    return member.label or member.display_name or member.member_id[:SHORT]


def parse_duration(text: str) -> float:
    """``90``, ``90s``, ``30m``, ``12h``, ``7d`` or ``2w``: seconds."""
    found = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text.lower())
    if found is None or float(found[1]) <= 0:
        raise click.BadParameter(f"'{text}' is not a duration; write for example 90s, 30m, "
                                 "12h, 7d or 2w")
    return float(found[1]) * _UNITS[found[2] or "s"]


def duration_option(value: str | None) -> float | None:
    """For ``click.option(callback=...)``: a duration typed on the command line."""
    return None if value is None else parse_duration(value)


def when(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000).astimezone().strftime("%Y-%m-%d %H:%M")


def size_text(size: int) -> str:
    value = float(size)
    for unit in ("bytes", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{int(value)} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover


def safety_block(number: str, indent: str = "    ") -> str:
    """A 60-digit safety number as three rows of four groups: easy to read aloud."""
    groups = number.split()
    rows = [" ".join(groups[i:i + 4]) for i in range(0, len(groups), 4)]
    return "\n".join(indent + row for row in rows)


def digits(text: str) -> str:
    return "".join(ch for ch in text if ch.isdigit())


def warn(message: str) -> None:
    click.secho(f"WARNING: {message}", err=True, fg="yellow", bold=True)


def note(message: str) -> None:
    click.echo(message, err=True)


def show_warnings(client: Client, state: State | None = None) -> None:
    """Print every warning the client reported that was not printed yet (sync warnings
    from any operation: withheld posts, unknown log heads, refused posts or grants...)."""
    if state is None:
        state = click.get_current_context().find_object(State)
    found = client.warnings()
    start = state.warned if state is not None else 0
    for warning in found[start:]:
        warn(warning.message)
    if state is not None:
        state.warned = len(found)


def names_of(client: Client, group: GroupInfo) -> dict[str, str]:
    return {m.member_id: member_label(m) for m in client.members(group.group_id)}


def deletion_text(deleted: ev.GroupDeleted | DeletedGroupInfo) -> str:
    """What a person is told of a group an owner deleted."""
    name = f"'{deleted.name}'" if deleted.name else "A group"
    who = "you" if deleted.by_me else f"its owner {deleted.deleted_by}"
    text = (f"{name} was deleted by {who} on {when(deleted.deleted_at_ms)}: this device no "
            "longer keeps anything of it")
    if deleted.unsent_posts:
        count = deleted.unsent_posts
        text += f"; {count} of your posts {'was' if count == 1 else 'were'} never sent"
    return text + "."


def group_deletion(report: SyncReport) -> ev.GroupDeleted | None:
    """The deletion a sync learnt of, if it did."""
    return next((e for e in report.events if isinstance(e, ev.GroupDeleted)), None)


def describe_events(report: SyncReport, names: dict[str, str],
                    muted: Collection[str] = ()) -> list[str]:
    """What a sync found, in words (events only; warnings are printed separately). What
    members muted on this device wrote is not counted as news."""
    def who(member_id: str) -> str:
        return names.get(member_id, member_id[:SHORT])

    lines: list[str] = []
    kinds: dict[str, int] = {}
    for event in report.events:
        if isinstance(event, ev.NewPost):
            if event.author not in muted:
                kinds[event.kind] = kinds.get(event.kind, 0) + 1
        elif isinstance(event, ev.MemberJoined):
            how = " (by invite)" if event.self_joined else ""
            lines.append(f"{who(event.member_id)} joined{how}")
        elif isinstance(event, ev.MemberLeft):
            lines.append(f"{who(event.member_id)} was removed" if event.removed
                         else f"{who(event.member_id)} left")
        elif isinstance(event, ev.RoleChanged):
            lines.append(f"{who(event.member_id)} is now {event.role.name.lower()}")
        elif isinstance(event, ev.EpochStarted):
            lines.append(f"a new group key was started (epoch {event.epoch})")
        elif isinstance(event, ev.GroupUpdated):
            lines.append("the group's name, description or rules changed")
        elif isinstance(event, ev.JoinApproved):
            lines.append("your join request was approved: you are a member now")
        elif isinstance(event, ev.RemovedFromGroup):
            lines.append("you were removed from this group" if event.removed
                         else "you left this group")
    words = {"post": "post", "reply": "reply", "reaction": "reaction", "edit": "edit",
             "delete": "deletion", "poll": "poll", "vote": "vote", "pin": "pin"}
    counted = []
    for kind, count in kinds.items():
        noun = words.get(kind, kind)
        plural = "replies" if noun == "reply" else noun + "s"
        counted.append(f"{count} new {noun if count == 1 else plural}")
    return counted + lines
