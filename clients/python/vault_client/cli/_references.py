"""Finding groups, members, join requests and posts from what a person typed: a number
from a listing, a name or the start of one, an id or the start of one."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Final, TypeVar

from vault_client import Client, GroupInfo, JoinRequestInfo, MemberInfo, PostView
from vault_client.cli._failures import fail
from vault_client.cli._formatting import (
    SHORT,
    deletion_text,
    group_deletion,
    group_label,
    member_label,
    note,
)
from vault_client.errors import NotAMemberError, RelayUnreachableError

MIN_PREFIX: Final = 4
ACTIVE: Final = ("member", "pending", "creating")
_T = TypeVar("_T")


def _norm(text: str) -> str:
    return " ".join(text.casefold().split())


def _pick(ref: str, candidates: Sequence[_T], what: str, label: Callable[[_T], str],
          hint: str) -> _T:
    if len(candidates) == 1:
        return candidates[0]
    if not candidates:
        fail(f"no {what} matches '{ref}'; {hint}")
    names = ", ".join(label(c) for c in candidates[:5])
    fail(f"'{ref}' matches several {what}s ({names}); type more of it, or use the number "
         f"from {hint.removeprefix('see ')}")


def match(ref: str, items: Sequence[_T], ids: Callable[[_T], str],
          names: Callable[[_T], Sequence[str | None]], *, numbered: bool = True) -> list[_T]:
    """Items *ref* names, most specific rule first: a number from a listing (1-based, when
    *numbered*), a whole id, a whole name, the start of a name, the start of an id (4+
    characters)."""
    text = ref.strip()
    if numbered and text.isdigit() and 1 <= int(text) <= len(items) and len(text) < 4:
        return [items[int(text) - 1]]
    rules: list[Callable[[_T], bool]] = [
        lambda item: ids(item) == text,
        lambda item: any(n is not None and _norm(n) == _norm(text) for n in names(item)),
        lambda item: any(n is not None and _norm(n).startswith(_norm(text))
                         for n in names(item)) and bool(text),
        lambda item: len(text) >= MIN_PREFIX and ids(item).startswith(text),
    ]
    for rule in rules:
        found = [item for item in items if rule(item)]
        if found:
            return found
    return []


def find_group(client: Client, ref: str | None,
               statuses: Sequence[str] = ACTIVE) -> GroupInfo:
    """The group *ref* names (its number in ``vault group list``, name, or id), or, when
    *ref* is None, the only group this device has with one of *statuses* (or the only group
    at all)."""
    groups = client.groups()
    if ref is None:
        fitting = [g for g in groups if g.status in statuses]
        if len(fitting) == 1:
            return fitting[0]
        if len(groups) == 1:
            return groups[0]
        if not groups:
            fail("this device is in no group yet: create one with `vault group create NAME`, "
                 "or join one with `vault join INVITE`")
        fail(f"this device has {len(groups)} groups; say which one with --group (a number "
             "or name from `vault group list`)")
    text = ref.strip()
    if text.isdigit() and len(text) < 6:  # the number `vault group list` shows: stable
        numbered = [g for g in groups if g.number == int(text)]
        if not numbered:
            fail(f"this device has no group number {text} (any more); see `vault group list`")
        return numbered[0]
    found = match(ref, groups, lambda g: g.group_id, lambda g: (g.name,), numbered=False)
    return _pick(ref, found, "group", group_label, "see `vault group list`")


def find_member(client: Client, group: GroupInfo, ref: str) -> MemberInfo:
    members = client.members(group.group_id)
    if ref.strip().casefold() in ("me", "myself"):
        return next(m for m in members if m.is_me)
    fingerprint = re.sub(r"\s+", "", ref)
    found = match(ref, members, lambda m: m.member_id, lambda m: (m.display_name,))
    if not found and len(fingerprint) >= MIN_PREFIX:
        found = [m for m in members
                 if re.sub(r"\s+", "", m.fingerprint).startswith(fingerprint)]
    return _pick(ref, found, "member", member_label, "see `vault members`")


def find_request(requests: Sequence[JoinRequestInfo], ref: str) -> JoinRequestInfo:
    found = match(ref, requests, lambda r: r.joiner, lambda r: (r.fingerprint,))
    if not found:
        fingerprint = re.sub(r"\s+", "", ref)
        found = [r for r in requests if len(fingerprint) >= MIN_PREFIX and
                 re.sub(r"\s+", "", r.fingerprint).startswith(fingerprint)]
    return _pick(ref, found, "join request", lambda r: r.joiner[:SHORT],
                 "see `vault requests`")


def find_post(client: Client, group: GroupInfo, ref: str) -> PostView:
    """The post whose id starts with *ref* (syncing first when this device lacks it)."""
    text = ref.strip().lstrip("#[").rstrip("]")

    def search() -> list[PostView]:
        posts = client.posts(group.group_id)
        return [p for p in posts if p.post_id == text] or \
            ([p for p in posts if p.post_id.startswith(text)] if len(text) >= MIN_PREFIX else [])

    found = search()
    if not found:
        sync_quietly(client, group)
        found = search()
    return _pick(ref, found, "post", lambda p: p.post_id[:SHORT],
                 "see the ids `vault read` shows")


def sync_quietly(client: Client, group: GroupInfo) -> GroupInfo:
    """Sync before showing something; offline (or no longer a member) shows this device's
    copy with a note. Warnings are printed when the command ends."""
    try:
        reports = client.sync(group.group_id)
    except RelayUnreachableError:
        note("(the relay could not be reached: showing what this device already has)")
    except NotAMemberError:
        note("(this device is no longer a member of this group: showing what it kept)")
    else:
        deleted = group_deletion(reports[0]) if reports else None
        if deleted is not None:
            fail(deletion_text(deleted))
    return client.group(group.group_id)
