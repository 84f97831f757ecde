"""``vault export-posts``: your own posts, saved to a file you name."""

from __future__ import annotations

import os

import click

from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._formatting import group_label
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option
from vault_client.cli._prompts import open_client
from vault_client.cli._references import find_group
from vault_client.errors import InvalidArgumentError


@click.command("export-posts", cls=IdCommand)
@group_option
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--format", "file_format", type=click.Choice(["text", "json"]),
              help="text (to read) or json (for other programs). [default: json when PATH "
                   "ends in .json, else text]")
@pass_state
def export_posts_command(state: State, group_ref: str | None, path: str,
                         file_format: str | None) -> None:
    """Save your own posts and replies (every group, or one with --group) to a new file at
    PATH, oldest first: as they stand now, with their content warnings; replies say whose
    post they answered, never its words. The file is not encrypted."""
    fmt = file_format or ("json" if path.lower().endswith(".json") else "text")
    if os.path.lexists(path):  # (said before the passphrase is asked for; checked again)
        fail(f"{path} already exists: choose another file name (an export never writes over "
             "a file)")
    client = open_client(state)
    info = find_group(client, group_ref) if group_ref is not None else None
    try:
        saved = client.save_own_posts(path, info.group_id if info else None,
                                      file_format="json" if fmt == "json" else "text")
    except InvalidArgumentError as error:
        fail(error.message)
    where = group_label(info) if info else f"{saved.groups} group(s)"
    click.echo(f"Saved your {saved.posts} post(s) in {where} to {saved.path}.")
    click.echo("This file is not encrypted: anyone who can open it can read your posts. Keep "
               "it somewhere safe, or delete it when you are done with it.")
