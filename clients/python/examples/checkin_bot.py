"""A check-in bot: once a day it posts a prompt to a group and gathers the replies.

A small custom client on the public SDK only. The bot is an ordinary member (an admin
invites it like anyone else), so everything it reads and writes is end-to-end encrypted.

    export VAULT_PASSPHRASE=...            # the bot's keystore passphrase
    python checkin_bot.py join 'https://relay.example/join#v1....' --home ./bot
    python checkin_bot.py run GROUP_ID --home ./bot            # post today's prompt, loop
    python checkin_bot.py run GROUP_ID --home ./bot --once     # post (if due) and report

Each run posts today's prompt unless the bot already did (it finds its own post of the
day), then prints how many members answered it. ``--loop`` keeps going: it waits for new
posts with the relay's long-poll and posts again when the day changes.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from vault_client import Client, Handlers, PostView, SyncWarning, VaultError
from vault_client.errors import ClientError

NAME = "Check-in bot"
PROMPT = "Daily check-in ({day}): how are you doing today? Reply here, one line is enough."


def today(now: Callable[[], float] = time.time) -> str:
    return datetime.fromtimestamp(now(), UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True)
class CheckIn:
    day: str
    prompt_id: str
    posted_now: bool
    replies: tuple[PostView, ...]

    def summary(self) -> str:
        names = sorted({r.author_name or r.author[:8] for r in self.replies})
        who = ", ".join(names) if names else "nobody yet"
        return f"{self.day}: {len(self.replies)} repl{'y' if len(self.replies) == 1 else 'ies'} " \
               f"({who})"


def find_prompt(posts: Sequence[PostView], day: str) -> PostView | None:
    """The bot's own prompt for *day*, if it posted one already."""
    marker = PROMPT.format(day=day).split(":")[0]
    for post in posts:
        if post.is_mine and post.kind == "post" and post.text.startswith(marker):
            return post
    return None


def check_in(client: Client, group: str, *, day: str | None = None,
             synced: bool = False) -> CheckIn:
    """Sync (unless *synced*), post today's prompt unless it is already there, and collect
    its replies."""
    day = day or today()
    if not synced:
        client.sync(group)
    if client.me(group).display_name is None:
        client.set_display_name(group, NAME)
    posts = client.posts(group)
    prompt = find_prompt(posts, day)
    posted_now = prompt is None
    prompt_id = prompt.post_id if prompt is not None else \
        client.post(group, PROMPT.format(day=day), expires_in=7 * 86_400).post_id
    replies = tuple(p for p in client.posts(group)
                    if p.reply_to == prompt_id and not p.deleted and not p.is_mine)
    return CheckIn(day, prompt_id, posted_now, replies)


def run(client: Client, group: str, *, once: bool, out: Callable[[str], None] = print) -> None:
    """The bot's loop, on the SDK's event handlers: each round (after a sync) it posts the
    day's prompt if it is due and reports the replies; warnings are printed as they come."""
    handlers = Handlers(client, group)

    @handlers.on_tick
    def check() -> None:
        result = check_in(client, group, synced=True)
        out(("posted today's prompt; " if result.posted_now else "") + result.summary())

    @handlers.on_warning
    def warn(warning: SyncWarning) -> None:
        out(f"warning: {warning.message}")

    handlers.run(rounds=1 if once else None)


def only_group(client: Client) -> str:
    groups = [g for g in client.groups() if g.status == "member"]
    if len(groups) != 1:
        raise ClientError(f"the bot is in {len(groups)} groups: say which one to run in")
    return groups[0].group_id


RUN_OPTIONS = ("--once", "-h", "--help")


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", default=None, help="the bot's data directory")
    commands = parser.add_subparsers(dest="command", required=True)
    join = commands.add_parser("join", help="join a group with an invite URI")
    join.add_argument("uri")
    runner = commands.add_parser("run", help="post the daily prompt and read the replies")
    runner.add_argument("group", nargs="?",
                        help="the group's id (default: the only group the bot is in)")
    runner.add_argument("--once", action="store_true")
    return parser.parse_args(ids_after_dashes(argv))


def ids_after_dashes(argv: Sequence[str]) -> list[str]:
    """*argv* with a group id that begins with "-" (ids are base64url, so one in 64 does)
    moved after "--", where argparse reads it as the id and not as an option ("-hq3..."
    would otherwise be "-h" with a value)."""
    words = list(argv)
    for at, word in enumerate(words):
        if word == "run" and (at == 0 or words[at - 1] != "--home"):
            tail = words[at + 1:]
            if "--" in tail:
                return words
            ids = [w for w in tail if w.startswith("-") and w not in RUN_OPTIONS]
            rest = [w for w in tail if w not in ids]
            return words[:at + 1] + rest + (["--", *ids] if ids else [])
    return words


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    passphrase = os.environ.get("VAULT_PASSPHRASE")
    if not passphrase:
        print("checkin_bot: set VAULT_PASSPHRASE", file=sys.stderr)
        return 2
    try:
        with Client(passphrase, home=args.home) as client:
            if args.command == "join":
                result = client.join(args.uri)
                print(f"{result.status}: group {result.group_id}")
                print(f"safety number with the inviter: {result.safety_number}")
                if result.status == "pending":
                    print("waiting for an admin to approve...")
                    client.wait_for_approval(result.group_id)
            else:
                run(client, args.group or only_group(client), once=args.once)
    except VaultError as error:
        print(f"checkin_bot: {error.message}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
