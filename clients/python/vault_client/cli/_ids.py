"""Ids that begin with ``-``: every command accepts any id ``vault`` printed.

Ids are base64url, so about one in 64 begins with ``-`` (and one in 4,096 with ``--``),
which a command-line parser takes for an option. :class:`IdCommand` reads the arguments
first: a word that is not one of the command's own options (nor a value given to one)
is an argument, wherever it stands and however it begins. The rules, in order, for a word
beginning with ``-`` (not ``-`` or ``--`` alone):

* ``--name`` or ``--name=value`` for one of the command's long options: that option;
* a short option (``-g``, ``-y``, ``-h``) alone: that option;
* a short option taking a value followed by digits only (``-g3``: group number 3): that
  option with its value;
* a run of short flags (``-yh``): those flags;
* anything else (``-q36DYln``, ``--x9Q...``): an argument.

Arguments keep their order and are passed after ``--``, so the parser takes them as such.
"""

from __future__ import annotations

from typing import Any

import click


def _option_table(command: click.Command) -> tuple[dict[str, bool], dict[str, bool]]:
    """(long options, short options) -> whether each takes a value."""
    longs: dict[str, bool] = {"--help": False}
    shorts: dict[str, bool] = {"-h": False}
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        takes_value = not (param.is_flag or param.count)
        for name in (*param.opts, *param.secondary_opts):
            if name.startswith("--"):
                longs[name] = takes_value
            elif len(name) == 2 and name.startswith("-"):
                shorts[name] = takes_value
    return longs, shorts


def split_arguments(command: click.Command, args: list[str]) -> list[str]:
    """*args* with every argument after a ``--`` (in order), options first."""
    longs, shorts = _option_table(command)
    flags = {name[1] for name, takes in shorts.items() if not takes}
    options: list[str] = []
    arguments: list[str] = []
    moved = False
    index = 0
    while index < len(args):
        word = args[index]
        index += 1
        if word == "--":
            arguments.extend(args[index:])
            break
        if not word.startswith("-") or word == "-":
            arguments.append(word)
            continue
        if word.startswith("--"):
            name = word.split("=", 1)[0]
            if name in longs:
                options.append(word)
                if longs[name] and "=" not in word and index < len(args):
                    options.append(args[index])
                    index += 1
                continue
        elif word in shorts:
            options.append(word)
            if shorts[word] and index < len(args):
                options.append(args[index])
                index += 1
            continue
        elif (shorts.get(word[:2]) and word[2:].isdigit()) or all(
                ch in flags for ch in word[1:]):
            options.append(word)
            continue
        arguments.append(word)  # an id that begins with "-"
        moved = True
    if not moved:
        return args
    return [*options, "--", *arguments]


class IdCommand(click.Command):
    """A command whose arguments may begin with ``-`` (see the module docstring)."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[Any]:
        return super().parse_args(ctx, split_arguments(self, args))
