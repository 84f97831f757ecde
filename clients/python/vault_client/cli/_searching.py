"""``vault search``: the posts on this device that hold some words."""

from __future__ import annotations

import click

from vault_client import Client, GroupInfo, PostView
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._formatting import SHORT, group_label, names_of, note
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option
from vault_client.cli._prompts import open_client
from vault_client.cli._reading import render_post
from vault_client.cli._references import find_group, sync_quietly
from vault_client.errors import InvalidArgumentError

SHOWN = 20
"""Results printed unless --last asks for more (newest first)."""


@click.command("search", cls=IdCommand)
@group_option
@click.argument("words", nargs=-1)
@click.option("--show-cw", is_flag=True, help="Show the results behind a content warning too.")
@click.option("--reveal", "reveal", metavar="POST", multiple=True,
              help="Show this one result behind its content warning (repeat for more).")
@click.option("--last", type=click.IntRange(1), default=SHOWN, show_default=True, metavar="N",
              help="Show at most the N newest results.")
@click.option("--no-sync", is_flag=True, help="Search this device's copy without syncing first.")
@click.option("--show-muted", is_flag=True,
              help="Show the results from members you muted (`vault mute`) too.")
@pass_state
def search_command(state: State, group_ref: str | None, words: tuple[str, ...], show_cw: bool,
                   reveal: tuple[str, ...], last: int, no_sync: bool, show_muted: bool) -> None:
    """Find the posts holding every one of WORDS, newest first: in every group, or in one
    with --group. Each word matches the start of a word ("walk" finds "walking"); put a
    phrase in quotes to find it as written; case, accents and punctuation do not matter.
    The search runs on this device only: nothing of it is sent or saved.

    Without WORDS, they are asked for (and then stay out of your shell's history)."""
    # A word with spaces in it came quoted from the shell: it is a phrase.
    query = " ".join(f'"{w.strip()}"' if len(w.split()) > 1 else w for w in words) if words \
        else click.prompt("Search for", err=True)
    client = open_client(state)
    groups = [find_group(client, group_ref)] if group_ref is not None else [
        g for g in client.groups() if g.status not in ("pending", "creating")]
    if not groups:
        fail("this device is in no group yet: create one with `vault group create NAME`, or "
             "join one with `vault join INVITE`")
    if not no_sync:
        _sync(client, groups)
    one = groups[0].group_id if group_ref is not None else None
    try:
        found = client.search(query, one, limit=last + 1)
    except InvalidArgumentError as error:
        fail(error.message)
    where = group_label(groups[0]) if group_ref is not None else "your groups"
    if not found:
        click.echo(f"No post in {where} holds all of: {query.strip()}")
        return
    infos = {g.group_id: g for g in groups}
    names = {gid: names_of(client, info) for gid, info in infos.items()}
    shown = frozenset(_revealed(found[:last], reveal))
    blocks = []
    for post in found[:last]:
        info = infos.get(post.group_id)
        heading = f"in {group_label(info)}" if group_ref is None and info else ""
        if post.reply_to is not None:
            heading += f"{', ' if heading else ''}a reply to [{post.reply_to[:SHORT]}]"
        text = render_post(post, names.get(post.group_id, {}), show_cw=show_cw, depth=0,
                           reveal=shown, command="vault search", show_muted=show_muted)
        blocks.append(f"{heading}\n{text}" if heading else text)
    click.echo("\n\n".join(blocks))
    if len(found) > last:
        note(f"\nShowing the {last} newest; --last N shows more.")
    hidden = sum(1 for p in found[:last] if p.hidden_by_default and p.post_id not in shown
                 and (show_muted or not p.muted))
    if hidden and not show_cw:
        note(f"{hidden} result(s) hidden behind content warnings: `--reveal ID` shows one, "
             "`--show-cw` all.")


def _revealed(found: list[PostView], reveal: tuple[str, ...]) -> list[str]:
    """The ids of the results to show behind their warnings: a mistyped id says so."""
    out = []
    for ref in (r.strip() for r in reveal if r.strip()):
        named = [p.post_id for p in found if p.post_id.startswith(ref)]
        if len(named) != 1:
            fail(f"{'no' if not named else 'more than one'} result shown has the id {ref}")
        out.extend(named)
    return out


def _sync(client: Client, groups: list[GroupInfo]) -> None:
    if len(groups) == 1:
        sync_quietly(client, groups[0])
        return
    reports = client.sync()  # (each group on its own: a failure is in its report)
    if any(r.error is not None for r in reports):
        note("(some groups could not be synced: searching what this device already has)")
