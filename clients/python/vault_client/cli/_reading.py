"""``vault read`` and ``attachments``; ``sync`` and ``wait`` (which prints new posts as they
come)."""

from __future__ import annotations

import os
import time

import click

from vault_client import Client, GroupInfo, PostView, SyncReport, Thread
from vault_client import events as ev
from vault_client.cli._channels import channel_names, find_channel
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import Failure, TimedOut, fail, from_error
from vault_client.cli._formatting import (
    SHORT,
    deletion_text,
    describe_events,
    group_deletion,
    group_label,
    names_of,
    note,
    show_warnings,
    size_text,
    when,
)
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import duration_callback, group_option, indent, session
from vault_client.cli._prompts import open_client
from vault_client.cli._references import find_group, find_post, sync_quietly
from vault_client.errors import JoinPendingError, RelayUnreachableError, VaultError


def render_post(post: PostView, names: dict[str, str], *, show_cw: bool, depth: int,
                reveal: frozenset[str] = frozenset(), command: str = "vault read",
                show_muted: bool = False) -> str:
    """One post for the terminal; *command* is what its reveal hint names (`vault search
    --reveal ID` asks for the words again, which keeps them out of the shell's history)."""
    pad = "    " * depth
    body = pad + "    "
    who = post.author_label or names.get(post.author, post.author[:SHORT])
    flags = []
    if post.pinned_by is not None:
        flags.append("pinned")
    if post.is_mine:
        flags.append("you")
    if post.unsent:
        flags.append("not sent yet")
    if post.edited_at_ms is not None:
        flags.append("edited")
    if post.expires_at_ms is not None:
        flags.append(f"disappears {when(post.expires_at_ms)}")
    extra = f" ({', '.join(flags)})" if flags else ""
    lines = [f"{pad}[{post.post_id[:SHORT]}] {who}, {when(post.created_at_ms)}{extra}"]
    if post.deleted:
        lines.append(body + "(deleted)")
        return "\n".join(lines)
    if post.muted and not show_muted:
        lines.append(f"{body}(from someone you muted on this device; {command} --show-muted "
                     "shows it)")
        return "\n".join(lines)
    show_cw = show_cw or any(post.post_id.startswith(r) for r in reveal)
    hidden = post.hidden_by_default and not show_cw
    if post.content_warning is not None:
        if hidden:
            lines.append(f"{body}Content warning: {post.content_warning}. Hidden; to read it: "
                         f"{command} --reveal {post.post_id[:SHORT]}")
        else:
            lines.append(f"{body}Content warning: {post.content_warning}")
    if not hidden:
        lines.append(indent(post.text, body))
        if post.poll is not None:
            lines.extend(_poll_lines(post, body))
        for item in post.attachments:
            called = f"{item.file_name} " if item.file_name else ""
            lines.append(f"{body}attachment: {called}({item.media_type}, "
                         f"{size_text(item.size)}; save it: vault attachments "
                         f"{post.post_id[:SHORT]})")
    if post.reactions:
        lines.append(body + "reactions: " + ", ".join(
            f"{text} {len(who_)}" for text, who_ in post.reactions))
    for warning, text, who_ in post.reactions_behind_warning:
        shown = f"{text} {len(who_)}" if show_cw else "hidden; vault read --show-cw"
        lines.append(f"{body}reaction behind a content warning ({warning}): {shown}")
    if post.notice is not None:
        lines.append(f"{body}note: {post.notice}")
    return "\n".join(lines)


def _glimpse(post: PostView, show_cw: bool) -> str:
    """A pinned post in a line: its first words, or its content warning, or that it is
    from someone muted."""
    if post.muted:
        return "(from someone you muted on this device)"
    if post.hidden_by_default and not show_cw:
        return f"(content warning: {post.content_warning})"
    first = (post.text.strip().splitlines() or [""])[0]
    return first if len(first) <= 70 else first[:69] + "…"


def _poll_lines(post: PostView, body: str) -> list[str]:
    """A poll's options, numbered as `vault vote` takes them, with their counts."""
    poll = post.poll
    assert poll is not None
    lines = []
    for number, (option, count) in enumerate(zip(poll.options, poll.counts, strict=True), 1):
        mine = " (your vote" + (", not sent yet)" if poll.my_vote_unsent else ")") \
            if poll.my_choice == number - 1 else ""
        lines.append(f"{body}  {number}. {option}: {count} vote{'' if count == 1 else 's'}"
                     f"{mine}")
    if poll.closed:
        lines.append(f"{body}poll closed {when(poll.closes_at_ms or 0)}")
    else:
        closes = "" if poll.closes_at_ms is None else f" until {when(poll.closes_at_ms)}"
        lines.append(f"{body}vote{closes}: vault vote {post.post_id[:SHORT]} NUMBER")
    return lines


def render_thread(thread: Thread, names: dict[str, str], *, show_cw: bool,
                  reveal: frozenset[str] = frozenset(), show_muted: bool = False) -> str:
    depth = {thread.root.post_id: 0}
    parts = [render_post(thread.root, names, show_cw=show_cw, depth=0, reveal=reveal,
                         show_muted=show_muted)]
    for reply in thread.replies:
        level = min(depth.get(reply.reply_to or "", 0) + 1, 4)
        depth[reply.post_id] = level
        parts.append(render_post(reply, names, show_cw=show_cw, depth=level, reveal=reveal,
                                 show_muted=show_muted))
    return "\n".join(parts)


def _in_channel(thread: Thread, names: dict[str, str]) -> str:
    """The line naming a thread's channel when it is not the main one."""
    name = names.get(thread.root.channel_id)
    return "" if name is None else f"# {name}\n"


@click.command("read", cls=IdCommand)
@group_option
@click.option("--show-cw", is_flag=True, help="Show every post behind a content warning too.")
@click.option("--reveal", "reveal", metavar="POST", multiple=True,
              help="Show this one post behind its content warning (repeat for more).")
@click.option("--thread", "thread_ref", metavar="POST", help="Only the thread of this post.")
@click.option("--last", type=click.IntRange(1), metavar="N", help="Only the last N threads.")
@click.option("--no-sync", is_flag=True, help="Show this device's copy without asking the relay.")
@click.option("--show-muted", is_flag=True,
              help="Show the posts of members you muted (`vault mute`) too.")
@click.option("--channel", "channel_ref", metavar="CHANNEL",
              help="Only this channel's threads: its name or number from `vault channels`.")
@pass_state
def read_command(state: State, group_ref: str | None, show_cw: bool, reveal: tuple[str, ...],
                 thread_ref: str | None, last: int | None, no_sync: bool,
                 show_muted: bool, channel_ref: str | None) -> None:
    """Read the group's posts, as threads (each marked with its channel, unless it is in
    the main one). Posts with a content warning stay hidden unless you add --show-cw."""
    client, info = session(state, group_ref)
    if not no_sync:
        info = sync_quietly(client, info)
    if info.status == "pending":
        click.echo(f"Your request to join {group_label(info)} is still waiting for an admin.")
        return
    channel = None if channel_ref is None else find_channel(client, info, channel_ref)
    threads = client.threads(info.group_id,
                             channel=None if channel is None else channel.channel_id)
    in_channels = channel_names(client, info) if channel is None else {}
    # Each post to reveal must be one this device has: a mistyped id says so, not nothing.
    shown = frozenset(find_post(client, info, r).post_id for r in reveal if r.strip())
    if thread_ref is not None:
        target = find_post(client, info, thread_ref)
        threads = [t for t in threads if target.post_id in
                   {t.root.post_id, *(r.post_id for r in t.replies)}]
    if last is not None:
        threads = threads[-last:]
    if not threads:
        where = "" if channel is None or channel.is_main else f" in {channel.name}"
        click.echo(f"No posts{where} in {group_label(info)} yet. Write one with `vault post`.")
        return
    names = names_of(client, info)
    click.echo(f"{group_label(info)}\n")
    if thread_ref is None:
        for pinned in client.pinned(info.group_id):
            click.echo(f"Pinned: [{pinned.post_id[:SHORT]}] {_glimpse(pinned, show_cw)}")
    if channel is not None and not channel.is_main:
        click.echo(f"Channel: {channel.name}\n")
    click.echo("\n\n".join(_in_channel(t, in_channels) + render_thread(
        t, names, show_cw=show_cw, reveal=shown, show_muted=show_muted) for t in threads))
    hidden = sum(1 for t in threads for p in (t.root, *t.replies)
                 if p.hidden_by_default and not p.deleted and p.post_id not in shown
                 and (show_muted or not p.muted))
    if hidden and not show_cw:
        note(f"\n{hidden} post(s) hidden behind content warnings: `--reveal ID` shows one, "
             "`--show-cw` all.")


@click.command("attachments", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@click.option("--to", "directory", type=click.Path(file_okay=False), default=".",
              show_default=True, help="The folder to save them in.")
@pass_state
def attachments_command(state: State, group_ref: str | None, post: str, directory: str) -> None:
    """Download, decrypt and save the attachments of a post."""
    client, info = session(state, group_ref)
    target = find_post(client, info, post)
    if not target.attachments:
        fail(f"post {target.post_id[:SHORT]} has no attachments")
    os.makedirs(directory, exist_ok=True)
    for item in target.attachments:
        path = client.save_attachment(info.group_id, item, directory)
        click.echo(f"saved {path} ({item.media_type}, {size_text(item.size)})")


# --- syncing and waiting -----------------------------------------------------------------------


def _report_line(client: Client, report: SyncReport) -> str:
    deleted = group_deletion(report)
    if deleted is not None:
        return deletion_text(deleted)
    info = client.group(report.group_id)
    if report.error is not None:
        failure = from_error(report.error)
        return f"{group_label(info)}: could not sync: {failure.message}"
    if info.status == "pending":
        return f"{group_label(info)}: still waiting for an admin to approve you"
    if info.status == "creating":
        return f"{group_label(info)}: not created on the relay yet (it could not be reached)"
    names = names_of(client, info) if info.status == "member" else {}
    words = describe_events(report, names,
                            client.muted(info.group_id) if info.status == "member" else ())
    if report.unsent_posts:
        words.append(f"{report.unsent_posts} of your posts still waiting to be sent")
    if report.unreadable_history:
        words.append(f"{report.unreadable_history} older post(s) from before you joined "
                     "are not shared with you")
    if info.status == "removed" and not words:
        words.append("you were removed from this group")
    if info.status == "member" and info.rules_to_accept:
        words.append("the group has rules you have not accepted: read them with `vault rules`")
    return f"{group_label(info)}: {', '.join(words) if words else 'nothing new'}"


@click.command("sync", cls=IdCommand)
@group_option
@pass_state
def sync_command(state: State, group_ref: str | None) -> None:
    """Fetch and check what is new (every group, or one with --group); send waiting posts.
    Each group is synced on its own: one that fails is named, and the others still sync."""
    client = open_client(state)
    if group_ref is not None:
        reports = client.sync(find_group(client, group_ref).group_id)
    else:
        reports = client.sync()
    show_warnings(client)
    if not reports:
        click.echo("This device is in no group yet.")
    failed = [r for r in reports if r.error is not None]
    for report in reports:
        line = _report_line(client, report)
        if report.error is not None:
            click.secho(line, err=True, fg="red",
                        bold=from_error(report.error).alarm)
        else:
            click.echo(line)
    if failed:
        raise Failure(f"{len(failed)} of {len(reports)} groups could not be synced (see above)")


@click.command("wait", cls=IdCommand)
@group_option
@click.option("--timeout", default="60s", show_default=True, callback=duration_callback,
              metavar="DURATION",
              help="Give up after this long (exit status 3).")
@click.option("--follow", is_flag=True, help="Keep waiting and print new posts as they come.")
@click.option("--show-cw", is_flag=True, help="Print posts behind content warnings too.")
@pass_state
def wait_command(state: State, group_ref: str | None, timeout: float, follow: bool,
                 show_cw: bool) -> None:
    """Wait for something to happen in a group: an admin approving your join, or new posts
    and members. For scripts: exit status 0 when something happened, 3 on timeout."""
    client, info = session(state, group_ref)
    if info.status == "pending":
        try:
            info = client.wait_for_approval(info.group_id, timeout=timeout)
        except JoinPendingError:
            raise TimedOut(f"nobody approved the request within {int(timeout)} seconds; it is "
                           "still waiting") from None
        click.echo(f"Approved: you are a member of {group_label(info)}.")
        return
    if info.status != "member":
        fail(f"this device is no longer a member of {group_label(info)}")
    deadline = time.monotonic() + timeout
    happened = False
    disconnected = False
    try:
        while follow or time.monotonic() < deadline:
            remaining = 30.0 if follow else max(1.0, deadline - time.monotonic())
            try:
                report = client.wait(info.group_id, timeout=min(30.0, remaining))
            except RelayUnreachableError:
                if not follow:
                    raise
                if not disconnected:
                    note("Disconnected from the relay; trying again...")
                    disconnected = True
                time.sleep(5)
                continue
            if disconnected:
                note("Reconnected.")
                disconnected = False
            show_warnings(client)
            if not report.events:
                if not follow and time.monotonic() >= deadline:
                    break
                continue
            happened = True
            _print_news(client, info, report, show_cw)
            if not follow:
                return
    except KeyboardInterrupt:
        if not follow:
            raise
        note("Stopped following.")
        return
    if not happened:
        raise TimedOut(f"nothing new within {int(timeout)} seconds")


def _print_news(client: Client, info: GroupInfo, report: SyncReport, show_cw: bool) -> None:
    deleted = group_deletion(report)
    if deleted is not None:
        click.echo(deletion_text(deleted))
        return
    names = names_of(client, info)
    for line in describe_events(report, {**names}, client.muted(info.group_id)):
        click.echo(f"{group_label(info)}: {line}")
    for event in report.events:
        if isinstance(event, ev.NewPost) and event.kind in ("post", "reply", "poll"):
            try:
                post = client.get_post(info.group_id, event.post_id)
            except VaultError:  # deleted or expired meanwhile
                continue
            click.echo(render_post(post, names, show_cw=show_cw, depth=0))
