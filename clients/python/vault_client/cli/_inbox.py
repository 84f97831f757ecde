"""``vault report``, ``vault ask-mods`` and the moderators' inbox: ``vault inbox``, ``vault
answer`` and ``vault resolve`` (moderators and admins). Each item is sealed to the group's
moderators and admins and sent at once: nothing is kept to send later."""

from __future__ import annotations

import click

from vault_client import Client, GroupInfo, InboxThread
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._formatting import SHORT, group_label, note, when
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option, indent, session
from vault_client.cli._references import _pick, find_post, match

OUTCOMES = ("dismissed", "answered", "post_deleted", "member_removed")
_OUTCOME_TEXT = {"dismissed": "dismissed", "answered": "answered",
                 "post_deleted": "the post was deleted", "member_removed": "the member was removed"}


def find_thread(client: Client, info: GroupInfo, ref: str) -> InboxThread:
    threads = client.inbox(info.group_id)
    found = match(ref, threads, lambda t: t.thread_id, lambda t: ())
    return _pick(ref, found, "thread", lambda t: t.thread_id[:SHORT],
                 "see the numbers `vault inbox` shows")


@click.command("report", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@click.argument("reason")
@pass_state
def report_command(state: State, group_ref: str | None, post: str, reason: str) -> None:
    """Report POST (an id from `vault read`) to the group's moderators, saying why (REASON).
    Only the moderators and admins read it; the member who wrote the post never learns who
    reported it."""
    client, info = session(state, group_ref)
    target = find_post(client, info, post)
    state.writing = "report"
    thread = client.report(info.group_id, target.post_id, reason)
    click.echo(f"Reported to the moderators of {group_label(info)} (thread "
               f"{thread[:SHORT]}). Their answers appear in `vault inbox`.")


@click.command("ask-mods", cls=IdCommand)
@group_option
@click.argument("text")
@click.option("--thread", "thread_ref", metavar="THREAD",
              help="Write again in one of your threads (a number from `vault inbox`).")
@pass_state
def ask_mods_command(state: State, group_ref: str | None, text: str,
                     thread_ref: str | None) -> None:
    """Ask the group's moderators for support, privately: only they (and you) read TEXT."""
    client, info = session(state, group_ref)
    thread = None if thread_ref is None else find_thread(client, info, thread_ref)
    state.writing = "message to the moderators"
    sent = client.ask_moderators(info.group_id, text, thread=thread)
    click.echo(f"Sent to the moderators of {group_label(info)} (thread {sent[:SHORT]}).")


@click.command("inbox", cls=IdCommand)
@group_option
@click.option("--all", "show_all", is_flag=True, help="Show resolved threads too.")
@pass_state
def inbox_command(state: State, group_ref: str | None, show_all: bool) -> None:
    """The moderators' inbox: for moderators and admins, the reports and requests for
    support; for members, the ones you sent and the answers to them."""
    client, info = session(state, group_ref)
    threads = client.inbox(info.group_id)
    shown = [(n, t) for n, t in enumerate(threads, 1) if show_all or not t.resolved]
    if not shown:
        click.echo(f"Nothing in the inbox of {group_label(info)}"
                   + (" that is still open (`vault inbox --all` shows all)." if threads
                      else "."))
        return
    for number, thread in shown:
        click.echo(_thread_text(number, thread))
    hidden = len(threads) - len(shown)
    if hidden:
        note(f"{hidden} resolved thread(s) not shown: `vault inbox --all`.")


def _thread_text(number: int, thread: InboxThread) -> str:
    if thread.kind == "report":
        head = (f"{number}. [{thread.thread_id[:SHORT]}] Report by {thread.started_by_name} "
                f"about {thread.subject_name}'s post {(thread.post_id or '')[:SHORT]}")
    else:
        head = (f"{number}. [{thread.thread_id[:SHORT]}] {thread.started_by_name} asks for "
                "support")
    status = f"resolved: {_OUTCOME_TEXT[thread.outcome]}" if thread.resolved and \
        thread.outcome else "open"
    lines = [f"{head} ({status})"]
    for item in thread.items:
        label = {"report": "reason", "support": "wrote", "reply": "answered",
                 "resolution": "resolved"}[item.kind]
        outcome = f" ({_OUTCOME_TEXT[item.outcome]})" if item.outcome else ""
        lines.append(f"    {item.sender_name} {label}{outcome}, {when(item.created_at_ms)}:")
        if item.text:
            lines.append(indent(item.text, "      "))
    return "\n".join(lines)


@click.command("answer", cls=IdCommand)
@group_option
@click.argument("thread", metavar="THREAD")
@click.argument("text")
@pass_state
def answer_command(state: State, group_ref: str | None, thread: str, text: str) -> None:
    """Answer the member who began THREAD (a number from `vault inbox`), privately
    (moderators and admins): they and the moderators read it."""
    client, info = session(state, group_ref)
    found = find_thread(client, info, thread)
    state.writing = "answer"
    client.reply_in_inbox(info.group_id, found, text)
    click.echo(f"Answered {found.started_by_name}, privately.")


@click.command("resolve", cls=IdCommand)
@group_option
@click.argument("thread", metavar="THREAD")
@click.argument("outcome", type=click.Choice(OUTCOMES))
@click.option("--note", "note_text", default="", help="A note for the other moderators.")
@pass_state
def resolve_command(state: State, group_ref: str | None, thread: str, outcome: str,
                    note_text: str) -> None:
    """Resolve THREAD for the other moderators (moderators and admins): dismissed,
    answered, post_deleted (deletes the reported post first) or member_removed (removes the
    member it is about first)."""
    client, info = session(state, group_ref)
    found = find_thread(client, info, thread)
    if found.resolved and found.outcome == outcome:
        fail(f"that thread is already resolved: {_OUTCOME_TEXT[outcome]}")
    state.writing = "resolution"
    client.resolve(info.group_id, found, outcome, note=note_text)  # type: ignore[arg-type]
    click.echo(f"Resolved: {_OUTCOME_TEXT[outcome]}. The other moderators see it.")
