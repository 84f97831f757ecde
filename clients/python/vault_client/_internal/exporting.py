"""A member's own posts, as a file they keep: readable text, or JSON for other programs.

Only what the member wrote is in it: their posts and replies as they stand now (edits
applied; deleted and expired ones left out; posts not sent yet included and marked). A reply
names whose post it answered and when, never that post's words: the file carries nobody
else's writing. Attachments are listed by name and size, not included.

The file is not encrypted: saving it is the member's choice, and the text says so first.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Final, Literal

from vault_client._internal.saving import write_new_file
from vault_client.errors import InvalidArgumentError
from vault_client.types import PostView

ExportFormat = Literal["text", "json"]
FORMATS: Final[tuple[str, ...]] = ("text", "json")
JSON_FORMAT: Final = "vault-own-posts"
JSON_VERSION: Final = 1


@dataclass(frozen=True)
class GroupPosts:
    """One group's part of an export: its name as this device reads it (None: not yet
    readable), the member's own posts, oldest first, and how each reply's post is named."""

    group_id: str
    name: str | None
    posts: tuple[PostView, ...]
    answered: dict[str, tuple[str, int]]
    """Post id -> (its author's label, when it was written): the posts the replies answer."""


def own_posts(shown: Sequence[PostView]) -> tuple[tuple[PostView, ...], dict[str, tuple[str, int]]]:
    """The member's own posts and replies among *shown* (a group's drawing), oldest first,
    and who wrote each post they reply to (and when)."""
    mine = tuple(sorted((p for p in shown if p.is_mine and not p.deleted),
                        key=lambda p: (p.created_at_ms, p.post_id)))
    by_id = {p.post_id: p for p in shown if not p.deleted}  # (a deleted one: "a reply")
    answered = {}
    for post in mine:
        parent = by_id.get(post.reply_to or "")
        if parent is not None:
            answered[parent.post_id] = (parent.author_label or "a member", parent.created_at_ms)
    return mine, answered


def _when(ms: int, zone: tzinfo | None) -> str:
    try:
        moment = datetime.fromtimestamp(ms / 1000, UTC).astimezone(zone)
    except (OverflowError, ValueError, OSError):  # a date beyond the calendar: not shown
        return "(date unknown)"
    return moment.strftime("%Y-%m-%d %H:%M (UTC%z)")


def render_text(groups: Sequence[GroupPosts], now_ms: int, zone: tzinfo | None = None) -> str:
    """The export as text for people (*zone*: the time zone dates are written in; None:
    this computer's)."""
    lines = [f"Your posts in Vault ({count(groups)}), saved {_when(now_ms, zone)}.",
             "This file is not encrypted: anyone who can open it can read them.", ""]
    for group in groups:
        lines.append(f"== {group.name or 'A group whose name cannot be read yet'} ==")
        lines.append("")
        if not group.posts:
            lines.extend(["(none)", ""])
        for post in group.posts:
            head = _when(post.created_at_ms, zone)
            marks = []
            if post.edited_at_ms is not None:
                marks.append("edited")
            if post.unsent:
                marks.append("not sent yet")
            if post.expires_at_ms is not None:
                marks.append(f"disappears {_when(post.expires_at_ms, zone)}")
            if post.reply_to is not None:
                parent = group.answered.get(post.reply_to)
                marks.append(f"a reply to {parent[0]}'s post of {_when(parent[1], zone)}"
                             if parent is not None else "a reply")
            lines.append(head + (f" ({'; '.join(marks)})" if marks else ""))
            if post.content_warning is not None:
                lines.append(f"Content warning: {post.content_warning}")
            lines.append(post.text)
            if post.poll is not None:
                lines.append("Poll options: " + " / ".join(post.poll.options))
            if post.attachments:
                names = ", ".join(f"{a.file_name or 'unnamed file'} ({a.size:,} bytes)"
                                  for a in post.attachments)
                lines.append(f"Attachments, not in this file: {names}")
            lines.append("")
    return "\n".join(lines)


def render_json(groups: Sequence[GroupPosts], now_ms: int) -> str:
    """The export as one JSON document (its shape: ``clients/python/README.md``)."""
    document = {
        "format": JSON_FORMAT, "version": JSON_VERSION, "exported_at_ms": now_ms,
        "groups": [{
            "group_id": group.group_id, "name": group.name,
            "posts": [{
                "post_id": post.post_id, "kind": post.kind, "reply_to": post.reply_to,
                "created_at_ms": post.created_at_ms, "edited_at_ms": post.edited_at_ms,
                "expires_at_ms": post.expires_at_ms, "content_warning": post.content_warning,
                "text": post.text, "sent": not post.unsent,
                "attachments": [{"file_name": a.file_name, "media_type": a.media_type,
                                 "size": a.size} for a in post.attachments],
                **({} if post.poll is None else {"poll_options": list(post.poll.options)}),
            } for post in group.posts],
        } for group in groups],
    }
    return json.dumps(document, ensure_ascii=False, indent=2) + "\n"


def count(groups: Sequence[GroupPosts]) -> int:
    return sum(len(group.posts) for group in groups)


def render(groups: Sequence[GroupPosts], fmt: str, now_ms: int,
           zone: tzinfo | None = None) -> bytes:
    if fmt not in FORMATS:
        raise InvalidArgumentError(f"an export is {' or '.join(FORMATS)}, not {fmt!r}")
    text = render_text(groups, now_ms, zone) if fmt == "text" else render_json(groups, now_ms)
    return text.encode("utf-8")


def write_new(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write *data* to a new owner-only file at *path*: never over an existing file."""
    target = Path(path)
    try:
        write_new_file(target, data)
    except FileExistsError:
        raise InvalidArgumentError(f"{target} already exists: choose another file name "
                                   "(an export never writes over a file)") from None
    except OSError as error:
        raise InvalidArgumentError(f"cannot write {target} ({error.strerror or 'error'})"
                                   ) from None
    return target
